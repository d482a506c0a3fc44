"""«Динамика»: the PNG, the caption in words, the cache by the data's hash."""

from __future__ import annotations

import io
from datetime import date

import numpy as np
import pytest
from PIL import Image

from services.record.charts import (
    OUTSIDE_COLOUR,
    ChartCache,
    TrendPoint,
    TrendSeries,
    caption,
    demo_series,
    direction,
    number,
    range_text,
    render_trend,
    series_digest,
)


def series(*values: float, low: float | None = 3.9, high: float | None = 6.1) -> TrendSeries:
    return TrendSeries(
        name="Глюкоза",
        unit="ммоль/л",
        ref_low=low,
        ref_high=high,
        points=tuple(TrendPoint(date(2025, 1 + n, 10), value) for n, value in enumerate(values)),
    )


def _pixels_of(png: bytes, colour: str) -> int:
    target = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
    with Image.open(io.BytesIO(png)) as image:
        pixels = np.asarray(image.convert("RGB")).astype(int)
    return int((np.abs(pixels - target).max(axis=2) <= 8).sum())


def test_the_chart_is_a_png_of_a_sensible_size() -> None:
    png = render_trend(series(5.1, 5.4, 5.6, 5.9, 6.4))
    assert png.startswith(b"\x89PNG")
    with Image.open(io.BytesIO(png)) as image:
        image.load()
        assert image.format == "PNG" and image.size == (1000, 600)
    assert 10_000 < len(png) < 500_000


def test_values_outside_the_range_are_marked_in_another_colour() -> None:
    inside = render_trend(series(5.1, 5.4, 5.6))
    outside = render_trend(series(5.1, 5.4, 6.9))
    assert _pixels_of(inside, OUTSIDE_COLOUR) == 0
    assert _pixels_of(outside, OUTSIDE_COLOUR) > 50


def test_fifty_values_and_a_one_sided_range_render() -> None:
    long = demo_series(50)
    assert len(long.points) == 50
    with Image.open(io.BytesIO(render_trend(long))) as image:
        assert image.size == (1000, 600)
    only_high = series(5.0, 5.4, 5.1, low=None, high=5.2)
    with Image.open(io.BytesIO(render_trend(only_high))) as image:
        assert image.size == (1000, 600)
    with pytest.raises(ValueError):
        render_trend(series())


def test_the_caption_says_first_last_lowest_highest_and_the_direction() -> None:
    text = caption(series(5.6, 4.8, 6.4, 5.2))
    assert text.splitlines() == [
        "Динамика: Глюкоза, ммоль/л — значений: 4",
        "Первое: 5,6 ммоль/л (10.01.2025)",
        "Последнее: 5,2 ммоль/л (10.04.2025)",
        "Наименьшее: 4,8 ммоль/л (10.02.2025)",
        "Наибольшее: 6,4 ммоль/л (10.03.2025)",
        "Направление: снижается.",
        "Последнее значение в пределах нормы (норма 3,9–6,1).",
    ]
    assert "Последнее значение ниже нормы (норма 3,9–6,1)." in caption(series(4.5, 3.5))
    assert "Референсный интервал лабораторией не указан." in caption(
        series(1.0, 2.0, low=None, high=None)
    )


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ((5.1, 6.4), "растёт"),
        ((6.4, 5.1), "снижается"),
        ((5.5, 5.4, 5.6), "без существенных изменений"),
    ],
)
def test_direction_in_words(values: tuple[float, ...], words: str) -> None:
    assert direction(series(*values)) == words


def test_russian_numbers_and_ranges() -> None:
    assert [number(v) for v in (6.4, 120.0, 0.05, 4.0)] == ["6,4", "120", "0,05", "4"]
    assert range_text(3.9, 6.1) == "норма 3,9–6,1"
    assert range_text(None, 5.2) == "норма до 5,2"
    assert range_text(1.0, None) == "норма от 1"
    assert range_text(None, None) is None


def test_the_cache_renders_the_same_data_once() -> None:
    calls: list[TrendSeries] = []

    def render(s: TrendSeries) -> bytes:
        calls.append(s)
        return f"png {len(calls)}".encode()

    cache = ChartCache(render, size=2)
    a, b, c = series(5.1, 5.2), series(5.1, 5.3), series(5.1, 5.4)
    assert cache.get(a) == b"png 1"
    # Equal data built anew is the same entry.
    assert cache.get(series(5.1, 5.2)) == b"png 1" and len(calls) == 1
    cache.get(b)
    cache.get(a)  # a is now the most recent
    cache.get(c)  # b goes
    assert len(cache) == 2 and len(calls) == 3
    cache.get(a)
    assert len(calls) == 3
    cache.get(b)
    assert len(calls) == 4


def test_the_digest_follows_the_data() -> None:
    assert series_digest(series(5.1, 5.2)) == series_digest(series(5.1, 5.2))
    assert series_digest(series(5.1, 5.2)) != series_digest(series(5.1, 5.25))
    assert series_digest(series(5.1, 5.2)) != series_digest(series(5.1, 5.2, high=6.0))
