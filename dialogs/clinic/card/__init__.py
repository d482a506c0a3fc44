"""A doctor's changes to an open card: diagnoses, prescriptions, notes, referrals, a
conclusion, and «Отправить выписку врачу»."""
