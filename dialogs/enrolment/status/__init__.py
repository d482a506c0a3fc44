"""«Статус заявки»: where the application for the ЭМК stands, its history and what to do.

The window reads the status anew on every render, so the background refresh
the processor sends after each transition shows the new status by itself.
"""
