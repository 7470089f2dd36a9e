"""
Charts for the admin's activity dashboard, drawn on the server as inline SVG: no
JavaScript library, no network access, nothing to vendor. Each function returns markup
that is safe to insert (every text in it is escaped).
"""

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

FONT = 'font-family="system-ui, sans-serif" font-size="11"'


def _nice_max(value: float) -> int:
    """A round axis maximum at or above `value` (1, 2, 5, 10, 20, 50...)."""
    if value <= 0:
        return 1
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def bucketed(counts: Sequence[int], hours: Sequence[datetime], size: int) -> tuple[list[int], list[datetime]]:
    """Hourly counts summed into buckets of `size` hours (the bucket's first hour as its
    label), so that a week draws as bars wide enough to see and hover."""
    return (
        [sum(counts[i : i + size]) for i in range(0, len(counts), size)],
        [hours[i] for i in range(0, len(hours), size)],
    )


def hourly_bars(
    counts: Sequence[int],
    hours: Sequence[datetime],
    *,
    title: str,
    color: str,
    width: int = 760,
    height: int = 170,
    span: int = 1,
) -> SafeString:
    """A bar per bucket of `span` hours (`counts[i]` events in the bucket starting at
    `hours[i]`, aware datetimes), with a labelled y-axis maximum and a tick at each
    midnight (UTC)."""
    left, right, top, bottom = 36, 8, 22, 20
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = _nice_max(max(counts, default=0))
    bar_w = plot_w / max(len(counts), 1)
    total = sum(counts)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="ag-chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" aria-label="{escape(title)}: {total} in the period">',
        f'<text x="{left}" y="14" {FONT} font-weight="600" fill="currentColor">{escape(title)}'
        f' <tspan font-weight="400" opacity="0.7">({total} in 7 days)</tspan></text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#999"/>',
        f'<line x1="{left}" y1="{top}" x2="{left + plot_w}" y2="{top}" stroke="#ddd" stroke-dasharray="3 3"/>',
        f'<text x="{left - 4}" y="{top + 4}" {FONT} text-anchor="end" fill="currentColor">{peak}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" {FONT} text-anchor="end" fill="currentColor">0</text>',
    ]
    for i, (count, hour) in enumerate(zip(counts, hours)):
        x = left + i * bar_w
        to_midnight = (24 - hour.hour) % 24  # hours from the bucket's start to the next midnight
        if to_midnight < span:
            day = hour + timedelta(hours=to_midnight)
            mx = x + bar_w * to_midnight / span
            parts.append(f'<line x1="{mx:.1f}" y1="{top}" x2="{mx:.1f}" y2="{top + plot_h + 4}" stroke="#ccc"/>')
            parts.append(f'<text x="{mx + 2:.1f}" y="{height - 4}" {FONT} fill="currentColor">{day:%a %d}</text>')
        if count:
            bar_h = max(plot_h * count / peak, 3)
            until = f"–{(hour.hour + span) % 24:02d}:00" if span > 1 else ""
            parts.append(
                f'<rect x="{x + 1:.1f}" y="{top + plot_h - bar_h:.1f}" width="{max(bar_w - 2, 2):.1f}" '
                f'height="{bar_h:.1f}" rx="1.5" fill="{color}">'
                f"<title>{hour:%Y-%m-%d %H:00}{until} UTC: {count}</title></rect>"
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))


def ranked_bars(
    items: Sequence[tuple[str, int]], *, title: str, color: str, width: int = 760, row: int = 22
) -> SafeString:
    """Horizontal bars for (label, count) pairs, largest first."""
    top = 24
    height = top + row * max(len(items), 1) + 6
    peak = max((count for _label, count in items), default=0) or 1
    label_w, bar_x = 150, 160
    bar_span = width - bar_x - 50
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="ag-chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" aria-label="{escape(title)}">',
        f'<text x="0" y="14" {FONT} font-weight="600" fill="currentColor">{escape(title)}</text>',
    ]
    if not items:
        parts.append(f'<text x="0" y="{top + 14}" {FONT} fill="currentColor" opacity="0.7">None.</text>')
    for i, (label, count) in enumerate(items):
        y = top + i * row
        bar_w = max(bar_span * count / peak, 2)
        parts.append(
            f'<text x="{label_w}" y="{y + 14}" {FONT} text-anchor="end" fill="currentColor">{escape(label)}</text>'
        )
        parts.append(f'<rect x="{bar_x}" y="{y + 3}" width="{bar_w:.1f}" height="{row - 8}" fill="{color}"/>')
        parts.append(f'<text x="{bar_x + bar_w + 6:.1f}" y="{y + 14}" {FONT} fill="currentColor">{count}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))
