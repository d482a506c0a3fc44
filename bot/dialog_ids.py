"""Unique aiogram-dialog intent ids.

aiogram-dialog 2.x builds an intent id from the current second plus one of a
hundred random numbers (`aiogram_dialog.api.entities.stack.new_int_id`). Two
dialogs started within the same second — a sub-dialog started right after its
parent — collide once in a hundred: the second context overwrites the first
and the person's next answer meets "this button is out of date". Upstream
knows (Tishka17/aiogram_dialog pull request 501, open). Until it is fixed
there, ids are drawn from 62**6 random values: the same six base-62
characters as before, so callback data keeps its length.
"""

from __future__ import annotations

import secrets

from aiogram_dialog.api.entities import stack

ID_SPACE = 62**6


def random_int_id() -> int:
    return 1 + secrets.randbelow(ID_SPACE - 1)


def install() -> None:
    stack.new_int_id = random_int_id
