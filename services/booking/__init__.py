"""Booking: doctors, days and times, visits, reminders and the waitlist."""
