"""Plain aiogram routers: commands, push buttons, errors and the fallback."""

from aiogram import Router


def build_router() -> Router:
    from handlers import commands, errors, push

    router = Router(name="handlers")
    router.include_routers(commands.build_router(), push.build_router(), errors.build_router())
    return router


def build_fallback_router() -> Router:
    from handlers.fallback import build_router

    return build_router()
