"""«Кабинет врача»: the doctor's flows (the clinic area)."""
