"""«Журнал действий»: who did what with the person's data and when, ten lines a page."""
