"""Plain aiogram routers: commands, push buttons, errors and the fallback."""

from aiogram import Router


def build_router() -> Router:
    from handlers import commands, errors

    router = Router(name="handlers")
    router.include_routers(commands.router, errors.router)
    return router


def build_fallback_router() -> Router:
    from handlers.fallback import router

    return router
