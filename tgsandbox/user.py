"""A person talking to the bot: actions (send, press, share contact, upload) and the chat view."""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from . import media
from .markup import utf16_len

if TYPE_CHECKING:
    from .server import Sandbox, StoredMessage

Label = str | re.Pattern[str]

MAX_MESSAGE = 4096

# A bot command as Telegram detects it: "/cmd" or "/cmd@bot_name", not glued to a word.
_COMMAND = re.compile(r"(?<![\w/<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/<>])")


@dataclass(frozen=True)
class SandboxFile:
    """A file in the chat: its ids and bytes."""

    file_id: str
    file_unique_id: str
    name: str | None
    mime_type: str | None
    data: bytes
    width: int | None = None
    height: int | None = None

    @property
    def size(self) -> int:
        return len(self.data)

    @classmethod
    def of(cls, stored: media.StoredFile) -> SandboxFile:
        return cls(
            stored.file_id,
            stored.file_unique_id,
            stored.file_name,
            stored.mime_type,
            stored.data,
            stored.width,
            stored.height,
        )


@dataclass(frozen=True)
class SandboxMessage:
    """One message of the chat as it stands now (edits applied)."""

    message_id: int
    from_bot: bool
    text: str | None
    inline_keyboard: list[list[dict[str, Any]]] = field(default_factory=list)
    reply_keyboard: list[str] | None = None
    removes_reply_keyboard: bool = False
    document: SandboxFile | None = None
    photo: SandboxFile | None = None
    contact: dict[str, Any] | None = None
    location: dict[str, Any] | None = None
    sticker: SandboxFile | None = None
    edited: bool = False
    date: int = 0
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def keyboard(self) -> list[list[str]]:
        """Labels of the inline keyboard, by rows."""
        return [[button["text"] for button in row] for row in self.inline_keyboard]

    @property
    def buttons(self) -> list[str]:
        """Labels of the inline keyboard, flattened."""
        return [label for row in self.keyboard for label in row]

    def button(self, label: Label) -> dict[str, Any]:
        """The inline button (Bot API JSON) matching ``label``."""
        chosen: dict[str, Any] = _choose(
            [b for row in self.inline_keyboard for b in row], label, f"message {self.message_id}"
        )
        return chosen

    def __repr__(self) -> str:
        who = "bot" if self.from_bot else "user"
        parts = [f"#{self.message_id} {who}"]
        if self.text is not None:
            parts.append(repr(self.text if len(self.text) <= 60 else self.text[:57] + "..."))
        if self.document is not None:
            parts.append(f"document={self.document.name!r}")
        if self.photo is not None:
            parts.append("photo")
        if self.buttons:
            parts.append(f"buttons={self.buttons}")
        if self.reply_keyboard is not None:
            parts.append(f"reply_keyboard={self.reply_keyboard}")
        if self.edited:
            parts.append("edited")
        return f"<SandboxMessage {' '.join(parts)}>"


def _matcher(label: Label) -> Callable[[str], bool]:
    if isinstance(label, re.Pattern):
        return lambda text: label.search(text) is not None
    return lambda text: label in text


def _button_text(button: Any) -> str:
    return button["text"] if isinstance(button, dict) else str(button)


def _choose(buttons: list[Any], label: Label, where: str) -> Any:
    matches = [b for b in buttons if _matcher(label)(_button_text(b))]
    if len(matches) > 1 and isinstance(label, str):
        exact = [b for b in matches if _button_text(b) == label]
        if len(exact) == 1:
            return exact[0]
    if len(matches) == 1:
        return matches[0]
    labels = [_button_text(b) for b in buttons]
    if not matches:
        raise AssertionError(f"no button matching {label!r} in {where}; its buttons: {labels}")
    raise AssertionError(
        f"{len(matches)} buttons match {label!r} in {where}: "
        f"{[_button_text(b) for b in matches]}; be more specific"
    )


class SandboxUser:
    """One Telegram user in a private chat with the bot.

    Actions are async: in-process (``sandbox.attach``) they return after the bot handled the
    update; in queue/HTTP mode they return once the update is queued (then ``wait_idle``).
    """

    def __init__(self, sandbox: Sandbox, user_id: int) -> None:
        self.sandbox = sandbox
        self.id = user_id

    def __repr__(self) -> str:
        return f"<SandboxUser {self.id} {self.first_name!r}>"

    # ------------------------------------------------------------------- identity

    @property
    def _record(self) -> Any:
        return self.sandbox.users[self.id]

    @property
    def first_name(self) -> str:
        return str(self._record.first_name)

    @property
    def phone(self) -> str | None:
        return self._record.phone  # type: ignore[no-any-return]

    @property
    def chat_id(self) -> int:
        return self.id

    # -------------------------------------------------------------------- actions

    async def send(
        self, text: str, *, reply_to: int | SandboxMessage | None = None
    ) -> SandboxMessage:
        """Send a text message; commands get their ``bot_command`` entity like in Telegram.

        A text over 4096 characters is split into several messages, as Telegram clients do;
        the last one is returned.
        """
        if not text.strip():
            raise AssertionError("a Telegram client does not send an empty message")
        parts = _split_text(text)
        message = None
        for index, part in enumerate(parts):
            message = await self.sandbox.post_user_message(
                self.id,
                text=part,
                entities=_command_entities(part),
                reply_to=_message_id(reply_to) if index == 0 else None,
            )
        assert message is not None
        return self._view(message)

    async def press(
        self,
        label: Label,
        *,
        message: int | SandboxMessage | None = None,
        keyboard: Literal["auto", "inline", "reply"] = "auto",
    ) -> str | None:
        """Press a button by (a substring of) its label or a regex.

        Inline keyboards of the bot's messages are searched newest first, then the reply
        keyboard. Returns the URL (or text) of a URL (copy-text) button, which sends nothing.
        """
        if message is not None:
            message_id = _message_id(message)
            assert message_id is not None
            stored = self.sandbox.chats[self.id].messages.get(message_id)
            if stored is None:
                raise AssertionError(
                    f"message {message_id} is gone (deleted); its buttons cannot be pressed"
                )
            buttons = _inline_buttons(stored)
            return await self._press_inline(
                stored, _choose(buttons, label, f"message {message_id}")
            )
        match = _matcher(label)
        if keyboard in ("auto", "inline"):
            for stored in reversed(list(self.sandbox.chats[self.id].messages.values())):
                buttons = _inline_buttons(stored)
                if stored.from_bot and any(match(b["text"]) for b in buttons):
                    chosen = _choose(buttons, label, f"message {stored.message_id}")
                    return await self._press_inline(stored, chosen)
        if keyboard in ("auto", "reply"):
            markup = self.sandbox.chats[self.id].reply_keyboard
            buttons = [b for row in (markup or {}).get("keyboard", []) for b in row]
            if any(match(_button_text(b)) for b in buttons):
                await self._press_reply(_choose(buttons, label, "the reply keyboard"))
                return None
        raise AssertionError(
            f"no visible button matches {label!r}.\nVisible buttons:\n{self.describe_buttons()}"
        )

    async def _press_inline(self, stored: StoredMessage, button: dict[str, Any]) -> str | None:
        if "callback_data" in button:
            await self.sandbox.press_callback(self.id, stored.message_id, button["callback_data"])
            return None
        if "url" in button:
            return str(button["url"])
        if "copy_text" in button:
            return str(button["copy_text"].get("text", ""))
        kinds = [key for key in button if key != "text"]
        raise AssertionError(
            f"button {button['text']!r} is a {kinds} button; the sandbox user cannot press it"
        )

    async def _press_reply(self, button: Any) -> None:
        if isinstance(button, dict):
            if button.get("request_contact"):
                await self.share_contact()
                return
            if button.get("request_location"):
                await self.send_location()
                return
            special = [key for key in button if key != "text" and button[key]]
            if special:
                raise AssertionError(
                    f"reply button {button['text']!r} ({special}) is not modelled by the sandbox"
                )
        await self.send(_button_text(button))

    async def share_contact(
        self,
        phone: str | None = None,
        own: bool = True,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        user_id: int | None = None,
    ) -> SandboxMessage:
        """Share a contact: the user's own (with ``user_id`` = the user) or someone else's."""
        record = self._record
        phone = phone if phone is not None else (record.phone if own else None)
        if phone is None:
            raise AssertionError("no phone: pass phone= or create the user with phone=")
        contact: dict[str, Any] = {
            "phone_number": phone,
            "first_name": first_name or (record.first_name if own else "Contact"),
        }
        surname = last_name if last_name is not None else (record.last_name if own else None)
        if surname:
            contact["last_name"] = surname
        owner = self.id if own else user_id
        if owner is not None:
            contact["user_id"] = owner
        message = await self.sandbox.post_user_message(self.id, contact=contact)
        return self._view(message)

    async def send_document(
        self,
        data: bytes,
        filename: str,
        mime_type: str | None = None,
        *,
        caption: str | None = None,
    ) -> SandboxMessage:
        """Upload a file as a document (getFile and download work on it)."""
        mime_type = mime_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        stored = self.sandbox.files.add_document(data, filename, mime_type)
        message = await self.sandbox.post_user_message(self.id, document=stored, caption=caption)
        return self._view(message)

    async def send_photo(self, data: bytes, *, caption: str | None = None) -> SandboxMessage:
        """Send a photo; like Telegram, the bot gets re-encoded JPEG sizes, not these bytes."""
        sizes = self.sandbox.files.add_photo(data)
        message = await self.sandbox.post_user_message(self.id, photo=sizes, caption=caption)
        return self._view(message)

    async def send_sticker(self, emoji: str = "👍") -> SandboxMessage:
        data, width, height = media.sticker_bytes()
        stored = self.sandbox.files.add_sticker(data, width, height)
        message = await self.sandbox.post_user_message(self.id, sticker=stored, sticker_emoji=emoji)
        return self._view(message)

    async def send_location(
        self, latitude: float = 55.751244, longitude: float = 37.618423
    ) -> SandboxMessage:
        message = await self.sandbox.post_user_message(
            self.id, location={"latitude": latitude, "longitude": longitude}
        )
        return self._view(message)

    async def block_bot(self) -> None:
        """Block the bot: every request to this chat answers 403 from now on."""
        await self.sandbox.set_blocked(self.id, True)

    async def unblock_bot(self) -> None:
        """Unblock the bot (Telegram's "Restart" also sends /start: call ``send`` for that)."""
        await self.sandbox.set_blocked(self.id, False)

    # -------------------------------------------------------------------- reading

    def _view(self, stored: StoredMessage) -> SandboxMessage:
        keyboard = stored.keyboard_markup if stored.from_bot else None
        reply_keyboard = None
        if keyboard is not None and "keyboard" in keyboard:
            reply_keyboard = [_button_text(b) for row in keyboard["keyboard"] for b in row]
        return SandboxMessage(
            message_id=stored.message_id,
            from_bot=stored.from_bot,
            text=stored.text if stored.text is not None else stored.caption,
            inline_keyboard=_inline_buttons_rows(stored),
            reply_keyboard=reply_keyboard,
            removes_reply_keyboard=bool(keyboard and keyboard.get("remove_keyboard")),
            document=SandboxFile.of(stored.document) if stored.document else None,
            photo=SandboxFile.of(stored.photo[-1]) if stored.photo else None,
            contact=stored.contact,
            location=stored.location,
            sticker=SandboxFile.of(stored.sticker) if stored.sticker else None,
            edited=stored.edit_date is not None,
            date=stored.date,
            raw=self.sandbox.message_json(stored),
        )

    @property
    def messages(self) -> list[SandboxMessage]:
        """The chat as it stands now: bot and user messages in order, deleted ones gone."""
        return [self._view(m) for m in self.sandbox.chats[self.id].messages.values()]

    @property
    def bot_messages(self) -> list[SandboxMessage]:
        return [m for m in self.messages if m.from_bot]

    @property
    def last(self) -> SandboxMessage:
        """The newest message from the bot."""
        found = self.bot_messages
        if not found:
            raise AssertionError(f"the bot has sent nothing visible to user {self.id}")
        return found[-1]

    def bot_texts(self) -> list[str]:
        return [m.text for m in self.bot_messages if m.text is not None]

    def files_received(self) -> list[SandboxFile]:
        """Documents and photos (largest size) the bot sent, in order."""
        found: list[SandboxFile] = []
        for m in self.bot_messages:
            found.extend(f for f in (m.document, m.photo) if f is not None)
        return found

    @property
    def callback_answers(self) -> list[str]:
        """Texts the bot showed in answer to this user's button presses (toasts and alerts)."""
        return [
            record.text
            for record in self.sandbox.callbacks.values()
            if record.user_id == self.id and record.answered and record.text
        ]

    @property
    def alerts(self) -> list[str]:
        """Callback answers shown as alerts (``show_alert=True``)."""
        return [
            record.text
            for record in self.sandbox.callbacks.values()
            if record.user_id == self.id and record.show_alert and record.text
        ]

    @property
    def chat_actions(self) -> list[str]:
        return [action for action, _ in self.sandbox.chats[self.id].actions]

    def current_reply_keyboard(self) -> list[str] | None:
        """Labels of the reply keyboard shown now, or None when there is none."""
        markup = self.sandbox.chats[self.id].reply_keyboard
        if markup is None:
            return None
        return [_button_text(b) for row in markup["keyboard"] for b in row]

    def describe_buttons(self) -> str:
        lines: list[str] = []
        for m in reversed(self.bot_messages):
            if m.keyboard:
                lines.append(f"  message {m.message_id}: {m.keyboard}")
        reply = self.current_reply_keyboard()
        if reply is not None:
            lines.append(f"  reply keyboard: {reply}")
        return "\n".join(lines) or "  (none)"


def _command_entities(text: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "bot_command",
            "offset": utf16_len(text[: match.start()]),
            "length": utf16_len(match.group()),
        }
        for match in _COMMAND.finditer(text)
    ]


def _split_text(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Split a long text like a Telegram client: at a line break or space when possible."""
    parts: list[str] = []
    rest = text
    while utf16_len(rest) > limit:
        cut = limit
        while utf16_len(rest[:cut]) > limit:
            cut -= 1
        head = rest[:cut]
        for separator in ("\n", " "):
            position = head.rfind(separator)
            if position > 0:
                cut = position + 1
                break
        parts.append(rest[:cut].strip())
        rest = rest[cut:]
    parts.append(rest.strip())
    return [part for part in parts if part]


def _message_id(message: int | SandboxMessage | None) -> int | None:
    if message is None or isinstance(message, int):
        return message
    return message.message_id


def _inline_buttons_rows(stored: StoredMessage) -> list[list[dict[str, Any]]]:
    if stored.inline_markup is None:
        return []
    return [list(row) for row in stored.inline_markup["inline_keyboard"]]


def _inline_buttons(stored: StoredMessage) -> list[dict[str, Any]]:
    return [button for row in _inline_buttons_rows(stored) for button in row]
