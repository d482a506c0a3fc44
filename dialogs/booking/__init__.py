"""«Записаться к врачу», «Мои записи» and the waitlist's offers."""
