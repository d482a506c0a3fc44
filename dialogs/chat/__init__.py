"""The embedded chat: «Спросить врача», «Мои вопросы», the doctor's «Вопросы пациентов»."""
