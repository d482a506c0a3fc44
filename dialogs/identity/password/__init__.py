"""«Сменить пароль»: the current password, a one-time code, a new password."""
