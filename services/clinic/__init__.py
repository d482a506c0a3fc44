"""Clinic: medical organisations' staff, the doctor's cabinet, cards opened with a step-up."""
