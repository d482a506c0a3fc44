"""aiogram-dialog flows, one package per flow (states, dialog, getters, handlers)."""

from aiogram import Router


def build_router() -> Router:
    from dialogs.menu.dialog import dialog as menu
    from dialogs.otp.dialog import dialog as otp
    from dialogs.password.dialog import dialog as password
    from dialogs.recovery.dialog import dialog as recovery
    from dialogs.signin.dialog import dialog as signin

    router = Router(name="dialogs")
    router.include_routers(signin, otp, recovery, menu, password)
    return router
