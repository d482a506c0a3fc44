"""«Восстановить доступ»: a code to the account's e-mail, then a new password."""
