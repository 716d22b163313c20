"""Charts as inline SVG strings: no JavaScript and no CDN, so the same markup works in the
live app, in a static report opened offline, and in a headless browser test."""

from __future__ import annotations

from html import escape

ACCEPTED_COLOR = "#2a9d8f"
REJECTED_COLOR = "#e76f51"
THRESHOLD_COLOR = "#1d3557"


def bars(items: list[tuple[str, float]], title: str, fmt: str = "{:.0f}", width: int = 460,
         max_value: float | None = None) -> str:
    """Horizontal bars, one per (label, value)."""
    row_h, label_w, pad = 18, 170, 6
    height = pad * 2 + 20 + row_h * max(len(items), 1)
    top = max_value if max_value is not None else max((v for _, v in items), default=0) or 1
    out = [_open(width, height, title), _title(title)]
    if not items:
        out.append(f'<text x="{pad}" y="40" font-size="12">nothing to show</text>')
    for i, (label, value) in enumerate(items):
        y = 26 + i * row_h
        w = max(0.0, (width - label_w - 60) * value / top)
        out.append(
            f'<text x="{label_w - 4}" y="{y + 12}" font-size="11" text-anchor="end">'
            f"{escape(_short(label))}</text>"
            f'<rect class="bar" x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{row_h - 5}" '
            f'fill="{ACCEPTED_COLOR}"><title>{escape(label)}: {escape(fmt.format(value))}'
            f"</title></rect>"
            f'<text x="{label_w + w + 4:.1f}" y="{y + 12}" font-size="11">'
            f"{escape(fmt.format(value))}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def histogram(accepted: list[int], rejected: list[int], lo: float, hi: float,
              thresholds: list[float], title: str, width: int = 380, height: int = 200,
              x_label: str = "score", open_ends: bool = False) -> str:
    """Stacked accepted/rejected counts per bin with each configured threshold as a line.

    Axes have titles and ticks; with `open_ends` the first and last bins also hold the values
    below `lo` / above `hi` (their tick labels say so), so outliers do not squash the chart."""
    left, bottom, top_pad, right = 48, 44, 22, 12
    plot_w, plot_h = width - left - right, height - bottom - top_pad
    n = len(accepted)
    top = max((a + r for a, r in zip(accepted, rejected, strict=True)), default=0) or 1
    bw = plot_w / max(n, 1)
    span = hi - lo or 1.0
    base = top_pad + plot_h
    out = [_open(width, height, title), _title(title)]
    for i, (a, r) in enumerate(zip(accepted, rejected, strict=True)):
        x = left + i * bw
        ha, hr = plot_h * a / top, plot_h * r / top
        b_lo, b_hi = lo + span * i / max(n, 1), lo + span * (i + 1) / max(n, 1)
        rng = f"[{b_lo:.3g}, {b_hi:.3g})"
        if a:
            out.append(f'<rect class="bar accepted" x="{x:.1f}" y="{base - ha:.1f}" '
                       f'width="{max(bw - 1, 0.5):.1f}" height="{ha:.1f}" '
                       f'fill="{ACCEPTED_COLOR}"><title>{rng} accepted: {a}</title></rect>')
        if r:
            out.append(f'<rect class="bar rejected" x="{x:.1f}" y="{base - ha - hr:.1f}" '
                       f'width="{max(bw - 1, 0.5):.1f}" height="{hr:.1f}" '
                       f'fill="{REJECTED_COLOR}"><title>{rng} rejected: {r}</title></rect>')
    for t in thresholds:
        x = left + plot_w * (t - lo) / span
        out.append(f'<line class="threshold" x1="{x:.1f}" x2="{x:.1f}" y1="{top_pad - 4}" '
                   f'y2="{base}" stroke="{THRESHOLD_COLOR}" stroke-width="2" '
                   f'stroke-dasharray="4 3"><title>threshold {t:g}</title></line>')
    out.append(f'<line class="axis" x1="{left}" x2="{left + plot_w}" y1="{base}" y2="{base}" '
               f'stroke="#999"/><line class="axis" x1="{left}" x2="{left}" y1="{top_pad}" '
               f'y2="{base}" stroke="#999"/>')
    ticks = 5
    for k in range(ticks):  # x ticks: bin edges
        value = lo + span * k / (ticks - 1)
        x = left + plot_w * k / (ticks - 1)
        label = f"{value:.3g}"
        if open_ends and k == 0:
            label = "≤" + label
        elif open_ends and k == ticks - 1:
            label = "≥" + label
        anchor = "start" if k == 0 else "end" if k == ticks - 1 else "middle"
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{base}" y2="{base + 4}" '
                   f'stroke="#999"/><text class="tick" x="{x:.1f}" y="{base + 15}" '
                   f'font-size="10" text-anchor="{anchor}">{escape(label)}</text>')
    for count in sorted({0, top // 2, top}):  # y ticks: candidates per bin
        y = base - plot_h * count / top
        out.append(f'<text class="tick" x="{left - 4}" y="{y + 3:.1f}" font-size="10" '
                   f'text-anchor="end">{count:,}</text>')
    out.append(
        f'<text class="axis-title" x="{left + plot_w / 2:.1f}" y="{height - 6}" '
        f'font-size="11" text-anchor="middle">{escape(x_label)}</text>'
        f'<text class="axis-title" x="12" y="{top_pad + plot_h / 2:.1f}" font-size="11" '
        f'text-anchor="middle" transform="rotate(-90 12 {top_pad + plot_h / 2:.1f})">'
        "candidates per bin</text></svg>"
    )
    return "".join(out)


def _short(label: str, n: int = 26) -> str:
    """Long labels would run off the left edge; the full text stays in the bar's tooltip."""
    return label if len(label) <= n else label[: n - 1] + "…"


def _open(width: int, height: int, title: str) -> str:
    return (f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{escape(title)}">')


def _title(title: str) -> str:
    return f'<text x="4" y="14" font-size="12" font-weight="bold">{escape(title)}</text>'
