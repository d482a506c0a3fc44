"""Formatted text as the Bot API server reads it: HTML, MarkdownV2 and legacy Markdown.

The rules (supported tags, reserved characters, error wording, UTF-16 offsets) follow the
behaviour of the Bot API server, so a text that the sandbox refuses is refused by Telegram
and the visible text a test reads is the text a person would see.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .errors import ApiError, bad_request

Entity = dict[str, Any]

# Characters tdlib treats as spaces while scanning tags; "\0" stands for the end of the text.
_SPACES = " \t\r\n\v\f\0"
_TRIM = " \t\r\n\v\f"

_HTML_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)

_MDV2_RESERVED = "_*[]()~`>#+-=|{}.!\n"


class ParseError(Exception):
    """A text that cannot be parsed in the requested parse mode."""


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: in UTF-16 code units."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _width(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8", "surrogatepass"))


def checked_link(url: str) -> str | None:
    """The URL as Telegram would keep it in a text link, or None when Telegram drops it."""
    url = url.strip()
    if not url:
        return None
    lower = url.lower()
    if lower.startswith(("tg:", "ton:")):
        return url
    if "://" not in url:
        url = "http://" + url
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https"):
        return None
    if not host or "." not in host.strip(".") or host.endswith("."):
        return None
    return url


def button_url_problem(url: str) -> str | None:
    """Why Telegram refuses ``url`` in an inline keyboard button, or None if it accepts it."""
    lower = url.strip().lower()
    if lower.startswith(("tg:", "ton:")):
        return None
    if "://" in lower and not lower.startswith(("http://", "https://")):
        return "Unsupported URL protocol"
    if checked_link(url) is None:
        return "Wrong HTTP URL"
    return None


def _sorted(entities: list[Entity]) -> list[Entity]:
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


# --------------------------------------------------------------------------------------- HTML


def _decode_html_entity(src: str, pos: int) -> tuple[str, int] | None:
    """Decode ``&...;`` at ``pos``; None when Telegram keeps the ampersand as it is."""
    n = len(src)
    end = pos + 1
    if end < n and src[end] == "#":
        end += 1
        code = 0
        if end < n and src[end] == "x":
            end += 1
            while end < n and src[end] in "0123456789abcdefABCDEF":
                code = code * 16 + int(src[end], 16)
                end += 1
        else:
            while end < n and "0" <= src[end] <= "9":
                code = code * 10 + int(src[end])
                end += 1
        if code == 0 or code >= 0x10FFFF or end - pos >= 10:
            return None
        char = chr(code)
    else:
        while end < n and src[end].isascii() and src[end].isalpha():
            end += 1
        names = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
        found = names.get(src[pos + 1 : end])
        if found is None:
            return None
        char = found
    if end < n and src[end] == ";":
        end += 1
    return char, end


@dataclass
class _Open:
    tag: str
    argument: str
    offset: int
    out_index: int
    byte_offset: int = 0
    expandable: bool = False


def parse_html(src: str) -> tuple[str, list[Entity]]:
    out: list[str] = []
    entities: list[Entity] = []
    stack: list[_Open] = []
    u16 = 0
    n = len(src)
    i = 0
    bad_surrogate = False

    def at(k: int) -> str:
        return src[k] if k < n else "\0"

    while i < n:
        c = src[i]
        if c == "&":
            decoded = _decode_html_entity(src, i)
            if decoded is not None:
                char, i = decoded
                if 0xD800 <= ord(char) <= 0xDFFF:
                    bad_surrogate = True
                out.append(char)
                u16 += _width(char)
                continue
        if c != "<":
            out.append(c)
            u16 += _width(c)
            i += 1
            continue

        begin = i
        where = f"at byte offset {_byte_offset(src, begin)}"
        i += 1
        if at(i) != "/":
            while at(i) not in _SPACES and at(i) != ">":
                i += 1
            if i >= n:
                raise ParseError(f"Unclosed start tag {where}")
            tag = src[begin + 1 : i].lower()
            if tag not in _HTML_TAGS:
                raise ParseError(f'Unsupported start tag "{tag}" {where}')
            argument = ""
            expandable = False
            while at(i) != ">":
                while i < n and at(i) in _SPACES:
                    i += 1
                if at(i) == ">":
                    break
                attr_begin = i
                while at(i) not in _SPACES and at(i) not in "=>":
                    i += 1
                name = src[attr_begin:i]
                if not name:
                    raise ParseError(f'Empty attribute name in the tag "{tag}" {where}')
                while i < n and at(i) in _SPACES:
                    i += 1
                if at(i) != "=":
                    if tag == "blockquote" and name.lower() == "expandable":
                        expandable = True
                        continue
                    raise ParseError(
                        f'Expected equal sign in declaration of an attribute of the tag "{tag}" '
                        f"{where}"
                    )
                i += 1
                while i < n and at(i) in _SPACES:
                    i += 1
                if i >= n:
                    raise ParseError(f'Unclosed start tag "{tag}" {where}')
                if at(i) not in "'\"":
                    token_begin = i
                    while at(i).isascii() and (at(i).isalnum() or at(i) in ".-"):
                        i += 1
                    value = src[token_begin:i].lower()
                    if at(i) not in _SPACES and at(i) != ">":
                        raise ParseError(
                            "Unexpected end of name token at byte offset "
                            f"{_byte_offset(src, token_begin)}"
                        )
                else:
                    quote = src[i]
                    i += 1
                    chars: list[str] = []
                    while i < n and src[i] != quote:
                        if src[i] == "&":
                            decoded = _decode_html_entity(src, i)
                            if decoded is not None:
                                chars.append(decoded[0])
                                i = decoded[1]
                                continue
                        chars.append(src[i])
                        i += 1
                    if i < n:
                        i += 1
                    value = "".join(chars)
                if i >= n:
                    raise ParseError(f"Unclosed start tag {where}")
                if tag == "a" and name == "href":
                    argument = value
                elif tag == "code" and name == "class" and value.startswith("language-"):
                    argument = value[len("language-") :]
                elif tag == "span" and name == "class" and value.startswith("tg-"):
                    argument = value[len("tg-") :]
                elif tag == "tg-emoji" and name == "emoji-id":
                    argument = value
            if tag == "span" and argument != "spoiler":
                raise ParseError(f'Tag "span" must have class "tg-spoiler" {where}')
            i += 1
            stack.append(_Open(tag, argument, u16, len(out), expandable=expandable))
            continue

        # an end tag
        if not stack:
            raise ParseError(f"Unexpected end tag {where}")
        while at(i) not in _SPACES and at(i) != ">":
            i += 1
        end_name = src[begin + 2 : i].lower()
        while i < n and at(i) in _SPACES:
            i += 1
        if at(i) != ">":
            raise ParseError(f"Unclosed end tag {where}")
        i += 1
        top = stack[-1]
        if end_name and end_name != top.tag:
            raise ParseError(
                f'Unmatched end tag {where}, expected "</{top.tag}>", found "</{end_name}>"'
            )
        stack.pop()
        if u16 > top.offset:
            _close_html_entity(top, u16 - top.offset, out, entities)

    if stack:
        raise ParseError(f"Can't find end tag corresponding to start tag {stack[-1].tag}")
    if bad_surrogate:
        raise ParseError(
            "Text contains invalid Unicode characters after decoding HTML entities, check for "
            "unmatched surrogate code units"
        )
    return "".join(out), _sorted(entities)


def _close_html_entity(top: _Open, length: int, out: list[str], entities: list[Entity]) -> None:
    simple = {
        "i": "italic",
        "em": "italic",
        "b": "bold",
        "strong": "bold",
        "s": "strikethrough",
        "strike": "strikethrough",
        "del": "strikethrough",
        "u": "underline",
        "ins": "underline",
        "tg-spoiler": "spoiler",
        "span": "spoiler",
    }
    entity: Entity = {"offset": top.offset, "length": length}
    tag = top.tag
    if tag in simple:
        entity["type"] = simple[tag]
    elif tag == "tg-emoji":
        if not top.argument.isdigit() or int(top.argument) == 0:
            raise ParseError("Invalid custom emoji identifier specified")
        entity.update(type="custom_emoji", custom_emoji_id=top.argument)
    elif tag == "a":
        url = checked_link(top.argument or "".join(out[top.out_index :]))
        if url is None:
            return
        entity.update(type="text_link", url=url)
    elif tag == "pre":
        last = entities[-1] if entities else None
        if (
            last is not None
            and last["type"] == "code"
            and (last["offset"], last["length"]) == (top.offset, length)
            and last.get("language")
        ):
            last["type"] = "pre"
            return
        entity["type"] = "pre"
    elif tag == "code":
        last = entities[-1] if entities else None
        if (
            last is not None
            and last["type"] == "pre"
            and (last["offset"], last["length"]) == (top.offset, length)
            and top.argument
        ):
            last["language"] = top.argument
            return
        entity["type"] = "code"
        if top.argument:
            entity["language"] = top.argument
    elif tag == "blockquote":
        entity["type"] = "expandable_blockquote" if top.expandable else "blockquote"
    entities.append(entity)


# --------------------------------------------------------------------------------- MarkdownV2

_MDV2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
    "blockquote": "BlockQuote",
}


def _reserved(char: str) -> ParseError:
    return ParseError(f"Character '{char}' is reserved and must be escaped with the preceding '\\'")


def parse_markdown_v2(src: str) -> tuple[str, list[Entity]]:
    out: list[str] = []
    entities: list[Entity] = []
    stack: list[_Open] = []
    u16 = 0
    n = len(src)
    i = 0
    have_quote = False

    def at(k: int) -> str:
        return src[k] if k < n else "\0"

    def read_url() -> tuple[str, int]:
        nonlocal i
        i += 2
        url_begin = i
        chars: list[str] = []
        while i < n and src[i] != ")":
            if src[i] == "\\" and 0 < ord(at(i + 1)) <= 126:
                chars.append(src[i + 1])
                i += 2
                continue
            chars.append(src[i])
            i += 1
        return "".join(chars), url_begin

    while i < n:
        c = src[i]
        if c == "\\" and 0 < ord(at(i + 1)) <= 126:
            out.append(src[i + 1])
            u16 += 1
            i += 2
            continue
        in_code = bool(stack) and stack[-1].tag in ("code", "pre")
        if c not in ("`" if in_code else _MDV2_RESERVED):
            out.append(c)
            u16 += _width(c)
            i += 1
            continue

        is_end = False
        if stack:
            kind = stack[-1].tag
            if have_quote and c == "\n" and (i + 1 == n or src[i + 1] != ">"):
                is_end = True
            elif kind == "bold":
                is_end = c == "*"
            elif kind == "italic":
                is_end = c == "_" and at(i + 1) != "_"
            elif kind == "code":
                is_end = c == "`"
            elif kind == "pre":
                is_end = c == "`" and at(i + 1) == "`" and at(i + 2) == "`"
            elif kind in ("text_link", "custom_emoji"):
                is_end = c == "]"
            elif kind == "underline":
                is_end = c == "_" and at(i + 1) == "_"
            elif kind == "strikethrough":
                is_end = c == "~"
            elif kind == "spoiler":
                is_end = c == "|" and at(i + 1) == "|"

        if not is_end:
            byte_offset = _byte_offset(src, i)
            argument = ""
            if c == "_":
                if at(i + 1) == "_":
                    kind = "underline"
                    i += 1
                else:
                    kind = "italic"
            elif c == "*":
                kind = "bold"
            elif c == "~":
                kind = "strikethrough"
            elif c == "|":
                if at(i + 1) != "|":
                    raise _reserved(c)
                i += 1
                kind = "spoiler"
            elif c == "[":
                kind = "text_link"
            elif c == "`":
                if at(i + 1) == "`" and at(i + 2) == "`":
                    i += 3
                    kind = "pre"
                    lang_end = i
                    while at(lang_end) not in _SPACES and at(lang_end) != "`":
                        lang_end += 1
                    if i != lang_end and lang_end < n and at(lang_end) != "`":
                        argument = src[i:lang_end]
                        i = lang_end
                    if at(i) in "\r\n" and i < n:
                        if at(i + 1) in "\r\n" and i + 1 < n and at(i) != at(i + 1):
                            i += 2
                        else:
                            i += 1
                    i -= 1
                else:
                    kind = "code"
            elif c == "!":
                if at(i + 1) != "[":
                    raise _reserved(c)
                i += 1
                kind = "custom_emoji"
            elif c == "\n":
                out.append("\n")
                u16 += 1
                if i + 1 < n and src[i + 1] == ">":
                    i += 1
                    if not have_quote:
                        have_quote = True
                        stack.append(_Open("blockquote", "", u16, len(out), byte_offset))
                i += 1
                continue
            elif c == ">":
                if i != 0:
                    raise _reserved(c)
                kind = "blockquote"
                have_quote = True
            else:
                raise _reserved(c)
            stack.append(_Open(kind, argument, u16, len(out), byte_offset))
            i += 1
            continue

        top = stack[-1]
        if c == "\n" and top.tag != "blockquote":
            raise ParseError(
                f"Can't find end of {_MDV2_NAMES[top.tag]} entity at byte offset {top.byte_offset}"
            )
        skip = u16 == top.offset
        entity: Entity = {"type": top.tag, "offset": top.offset}
        if top.tag in ("underline", "spoiler"):
            i += 1
        elif top.tag == "pre":
            i += 2
            if top.argument:
                entity["language"] = top.argument
        elif top.tag == "text_link":
            if at(i + 1) != "(":
                url = "".join(out[top.out_index :])
            else:
                url, url_begin = read_url()
                if at(i) != ")":
                    raise ParseError(
                        f"Can't find end of a URL at byte offset {_byte_offset(src, url_begin)}"
                    )
            checked = checked_link(url)
            if checked is None:
                skip = True
            else:
                entity["url"] = checked
        elif top.tag == "custom_emoji":
            if at(i + 1) != "(":
                raise ParseError("Custom emoji entity must contain a tg://emoji URL")
            url, url_begin = read_url()
            if at(i) != ")":
                raise ParseError(
                    "Can't find end of a custom emoji URL at byte offset "
                    f"{_byte_offset(src, url_begin)}"
                )
            prefix = "tg://emoji?id="
            emoji_id = url[len(prefix) :] if url.lower().startswith(prefix) else ""
            if not emoji_id.isdigit():
                raise ParseError("Custom emoji URL must have an emoji identifier")
            entity["custom_emoji_id"] = emoji_id
        elif top.tag == "blockquote":
            have_quote = False
            out.append(src[i])
            u16 += 1
        if not skip:
            entity["length"] = u16 - top.offset
            entities.append(entity)
        stack.pop()
        i += 1

    if have_quote and stack and stack[-1].tag == "blockquote":
        top = stack.pop()
        if u16 != top.offset:
            entities.append(
                {"type": "blockquote", "offset": top.offset, "length": u16 - top.offset}
            )
    if stack:
        top = stack[-1]
        raise ParseError(
            f"Can't find end of {_MDV2_NAMES[top.tag]} entity at byte offset {top.byte_offset}"
        )
    return "".join(out), _sorted(entities)


# ---------------------------------------------------------------------------- legacy Markdown


def parse_markdown(src: str) -> tuple[str, list[Entity]]:
    out: list[str] = []
    entities: list[Entity] = []
    u16 = 0
    n = len(src)
    i = 0

    def at(k: int) -> str:
        return src[k] if k < n else "\0"

    while i < n:
        c = src[i]
        if c == "\\" and at(i + 1) in "_*`[" and i + 1 < n:
            out.append(src[i + 1])
            u16 += 1
            i += 2
            continue
        if c not in "_*`[":
            out.append(c)
            u16 += _width(c)
            i += 1
            continue
        begin = i
        end_char = "]" if c == "[" else c
        is_pre = False
        language = ""
        i += 1
        if c == "`" and at(i) == "`" and at(i + 1) == "`":
            i += 2
            is_pre = True
            lang_end = i
            while at(lang_end) not in _SPACES and at(lang_end) != "`":
                lang_end += 1
            if i != lang_end and lang_end < n and at(lang_end) != "`":
                language = src[i:lang_end]
                i = lang_end
            if i < n and at(i) in "\r\n":
                if i + 1 < n and at(i + 1) in "\r\n" and at(i) != at(i + 1):
                    i += 2
                else:
                    i += 1
        start = u16
        while i < n and (src[i] != end_char or (is_pre and not (at(i + 1) == at(i + 2) == "`"))):
            out.append(src[i])
            u16 += _width(src[i])
            i += 1
        if i >= n:
            raise ParseError(
                f"Can't find end of the entity starting at byte offset {_byte_offset(src, begin)}"
            )
        if start != u16:
            entity: Entity = {"offset": start, "length": u16 - start}
            if c == "_":
                entity["type"] = "italic"
            elif c == "*":
                entity["type"] = "bold"
            elif c == "[":
                if at(i + 1) != "(":
                    url = src[begin + 1 : i]
                else:
                    i += 2
                    url_begin = i
                    while i < n and src[i] != ")":
                        i += 1
                    url = src[url_begin:i]
                checked = checked_link(url)
                entity.update(type="text_link", url=checked)
                if checked is None:
                    entity = {}
            elif is_pre:
                entity["type"] = "pre"
                if language:
                    entity["language"] = language
            else:
                entity["type"] = "code"
            if entity:
                entities.append(entity)
        if is_pre:
            i += 2
        i += 1
    return "".join(out), _sorted(entities)


# ------------------------------------------------------------------------------------ entry


def _trim(text: str, entities: list[Entity]) -> tuple[str, list[Entity]]:
    stripped_left = text.lstrip(_TRIM)
    left = utf16_len(text) - utf16_len(stripped_left)
    result = stripped_left.rstrip(_TRIM)
    total = utf16_len(result)
    fixed: list[Entity] = []
    for entity in entities:
        start = max(entity["offset"] - left, 0)
        end = min(entity["offset"] + entity["length"] - left, total)
        if end > start:
            fixed.append({**entity, "offset": start, "length": end - start})
    return result, fixed


def _given_entities(value: Any, text: str) -> list[Entity]:
    if not isinstance(value, list):
        raise bad_request("can't parse entities JSON object")
    total = utf16_len(text)
    result: list[Entity] = []
    for item in value:
        if not isinstance(item, dict) or "type" not in item:
            raise bad_request('can\'t parse MessageEntity: Field "type" must be of type String')
        offset, length = int(item.get("offset", 0)), int(item.get("length", 0))
        if offset < 0 or length <= 0 or offset + length > total:
            continue
        result.append(dict(item))
    return _sorted(result)


def format_text(
    text: str, parse_mode: str | None, entities: Any = None
) -> tuple[str, list[Entity]]:
    """Parse ``text`` the way the Bot API does; raises ``ApiError`` with Telegram's words."""
    mode = (parse_mode or "").lower()
    try:
        if entities is not None:
            plain, found = text, _given_entities(entities, text)
        elif mode == "html":
            plain, found = parse_html(text)
        elif mode == "markdownv2":
            plain, found = parse_markdown_v2(text)
        elif mode == "markdown":
            plain, found = parse_markdown(text)
        elif mode == "":
            plain, found = text, []
        else:
            raise bad_request("unsupported parse_mode")
    except ParseError as exc:
        raise bad_request(f"can't parse entities: {exc}") from None
    return _trim(plain, found)


__all__ = [
    "ApiError",
    "button_url_problem",
    "checked_link",
    "format_text",
    "parse_html",
    "parse_markdown",
    "parse_markdown_v2",
    "utf16_len",
]
