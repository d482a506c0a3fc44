"""«Заявление на ЭМК»: the form one field at a time, the review, the submission.

The draft lives in the database (ApplicationService), so leaving and coming
back — or a restart — continues where it was: at the first unanswered field,
or at the review when every field is answered. Submitting is confirmed with a
one-time SMS code (the code sub-dialog, purpose ``application_submit``).
"""
