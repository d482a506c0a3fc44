"""«Документы»: the document slots of the application and uploading a file to one.

A sub-dialog: started from the review of the application and from its status
(when corrections are asked); it ends with ``manager.done()`` and the window
it was started from shows again, with the documents as they are now.
"""
