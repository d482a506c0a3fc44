"""Parse modes as the Bot API reads them."""

from __future__ import annotations

import pytest

from tgsandbox.errors import ApiError
from tgsandbox.markup import format_text, parse_html, parse_markdown, parse_markdown_v2


def html_error(text: str) -> str:
    with pytest.raises(ApiError) as exc:
        format_text(text, "HTML")
    return exc.value.description


def test_html_entities_and_offsets_in_utf16() -> None:
    text, entities = parse_html("😀 <b>Жирный <i>и</i></b> &lt;tag&gt; &amp; &#1046; &nbsp;")
    assert text == "😀 Жирный и <tag> & Ж &nbsp;"
    assert entities == [
        {"type": "bold", "offset": 3, "length": 8},
        {"type": "italic", "offset": 10, "length": 1},
    ]


def test_html_links_pre_code_blockquote() -> None:
    text, entities = parse_html(
        '<a href="https://example.org/?a=1&amp;b=2">site</a> '
        '<pre><code class="language-python">x = 1</code></pre> '
        "<code>c</code> <blockquote expandable>q</blockquote> "
        '<span class="tg-spoiler">s</span> <a href="http://localhost/">dropped</a>'
    )
    assert text == "site x = 1 c q s dropped"
    assert entities == [
        {"type": "text_link", "offset": 0, "length": 4, "url": "https://example.org/?a=1&b=2"},
        {"type": "pre", "offset": 5, "length": 5, "language": "python"},
        {"type": "code", "offset": 11, "length": 1},
        {"type": "expandable_blockquote", "offset": 13, "length": 1},
        {"type": "spoiler", "offset": 15, "length": 1},
    ]


@pytest.mark.parametrize(
    ("text", "description"),
    [
        ("a <p>b</p>", 'Unsupported start tag "p" at byte offset 2'),
        ("Жж <br/>", 'Unsupported start tag "br/" at byte offset 5'),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("<b>bold", "Can't find end tag corresponding to start tag b"),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("<b", "Unclosed start tag at byte offset 0"),
        ('<span class="x">s</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        (
            "<a href>x</a>",
            'Expected equal sign in declaration of an attribute of the tag "a" at byte offset 0',
        ),
    ],
)
def test_html_errors(text: str, description: str) -> None:
    assert html_error(text) == f"Bad Request: can't parse entities: {description}"


def test_markdown_v2() -> None:
    text, entities = parse_markdown_v2(
        r"*bold* _it_ __under__ ~st~ ||sp|| [link](https://ex.org/a\)b) `co\`de` 5\.5"
    )
    assert text == "bold it under st sp link co`de 5.5"
    assert entities == [
        {"type": "bold", "offset": 0, "length": 4},
        {"type": "italic", "offset": 5, "length": 2},
        {"type": "underline", "offset": 8, "length": 5},
        {"type": "strikethrough", "offset": 14, "length": 2},
        {"type": "spoiler", "offset": 17, "length": 2},
        {"type": "text_link", "offset": 20, "length": 4, "url": "https://ex.org/a)b"},
        {"type": "code", "offset": 25, "length": 5},
    ]
    text, entities = parse_markdown_v2("```python\nprint(1)\n```")
    assert text == "print(1)\n"
    assert entities == [{"type": "pre", "offset": 0, "length": 9, "language": "python"}]
    text, entities = parse_markdown_v2(">quote\nafter")
    assert text == "quote\nafter"
    assert entities == [{"type": "blockquote", "offset": 0, "length": 6}]


@pytest.mark.parametrize(
    ("text", "description"),
    [
        ("Hello!", "Character '!' is reserved and must be escaped with the preceding '\\'"),
        ("a-b", "Character '-' is reserved and must be escaped with the preceding '\\'"),
        ("Жж *bold", "Can't find end of Bold entity at byte offset 5"),
        (">*a\nb*", "Can't find end of Bold entity at byte offset 1"),
        ("[x](http://a.b", "Can't find end of a URL at byte offset 4"),
    ],
)
def test_markdown_v2_errors(text: str, description: str) -> None:
    with pytest.raises(ApiError) as exc:
        format_text(text, "MarkdownV2")
    assert exc.value.description == f"Bad Request: can't parse entities: {description}"


def test_legacy_markdown() -> None:
    text, entities = parse_markdown("*b* _i_ `c` [l](https://ex.org) 2.5!")
    assert text == "b i c l 2.5!"
    assert [e["type"] for e in entities] == ["bold", "italic", "code", "text_link"]
    with pytest.raises(ApiError, match="Can't find end of the entity starting at byte offset 5"):
        format_text("snake_case", "Markdown")


def test_trimming_and_unknown_parse_mode() -> None:
    assert format_text("  \n<b>x</b> \n", "html") == (
        "x",
        [{"type": "bold", "offset": 0, "length": 1}],
    )
    with pytest.raises(ApiError, match="unsupported parse_mode"):
        format_text("x", "rst")
