"""Relatives: «Доступ для близких» (the patient), the invitation, «Карты близких» (the relative)."""
