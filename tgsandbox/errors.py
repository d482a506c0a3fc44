"""Errors of the sandbox: Telegram refusals and sandbox misuse."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A refusal worded exactly as the Bot API server words it.

    Adapters turn it into the wire answer ``{"ok": false, "error_code": ..., "description": ...}``
    so that aiogram raises the same exception class and message as with the real server.
    """

    def __init__(self, error_code: int, description: str, *, retry_after: int | None = None):
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.retry_after is not None:
            payload["parameters"] = {"retry_after": self.retry_after}
        return payload


def bad_request(text: str) -> ApiError:
    return ApiError(400, f"Bad Request: {text}")


def forbidden(text: str) -> ApiError:
    return ApiError(403, f"Forbidden: {text}")


class SandboxError(Exception):
    """The sandbox cannot model what was asked (an unimplemented method, a misuse)."""


class UnsupportedMethodError(SandboxError):
    """A real Bot API method that the sandbox does not implement."""


class SimulatedNetworkError(Exception):
    """An injected network failure (see ``Sandbox.fail_next``)."""
