"""Horizontal bar charts as data for an inline SVG (console/chart.html draws them): no script,
labels and numbers as SVG text, a title for screen readers."""

from __future__ import annotations

from dataclasses import dataclass

LABEL_WIDTH = 300  # px of the viewBox for the labels, left of the bars
BAR_AREA = 330  # px for the longest bar
VALUE_GAP = 8
ROW_HEIGHT = 30
BAR_HEIGHT = 20
PADDING = 6


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    y: int  # top of the bar
    width: int  # 0 for a zero value
    text_y: int  # baseline of the label and the number


@dataclass(frozen=True)
class BarChart:
    id: str  # unique in the page: the SVG's title and description ids derive from it
    title: str
    description: str
    bars: list[Bar]
    width: int
    height: int
    label_width: int = LABEL_WIDTH
    value_gap: int = VALUE_GAP
    bar_height: int = BAR_HEIGHT


def bar_chart(chart_id: str, title: str, values: list[tuple[str, int]]) -> BarChart:
    """Bars proportional to the largest value (a non-zero value is at least 2 px wide)."""
    largest = max((value for _label, value in values), default=0)
    bars = []
    for index, (label, value) in enumerate(values):
        y = PADDING + index * ROW_HEIGHT
        width = 0 if largest == 0 else max(2 if value else 0, round(BAR_AREA * value / largest))
        bars.append(Bar(label, value, y, width, y + BAR_HEIGHT - 5))
    description = "; ".join(f"{label}: {value}" for label, value in values) or "no data"
    return BarChart(
        id=chart_id, title=title, description=description, bars=bars,
        width=LABEL_WIDTH + BAR_AREA + VALUE_GAP + 60,
        height=PADDING * 2 + max(1, len(values)) * ROW_HEIGHT,
    )
