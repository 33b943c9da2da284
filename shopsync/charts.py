"""Small server-rendered SVG charts: no JavaScript, styled by the dashboard's stylesheet."""

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD = 240, 48, 3


def _fmt(value):
    return f"{value:.1f}".rstrip("0").rstrip(".")


def sparkline(points, start, end, *, warning=None, critical=None, label="", width=WIDTH, height=HEIGHT):
    """Return an SVG line of (time, value) points from `start` to `end`, with threshold lines.

    Points are bucketed to one per horizontal pixel, keeping each bucket's highest value, so a
    day of readings draws as fast as an hour and short spikes stay visible.
    """
    span = (end - start).total_seconds() or 1.0
    buckets = {}
    for when, value in points:
        if value is None:
            continue
        x = round(max(0.0, min(1.0, (when - start).total_seconds() / span)) * (width - 2 * PAD)) + PAD
        buckets[x] = max(value, buckets.get(x, value))
    title = escape(label)
    if not buckets:
        return Markup(f'<svg class="spark" viewBox="0 0 {width} {height}" role="img" '
                      f'aria-label="{title}: no readings in the last 24 hours">'
                      f'<title>{title}: no readings in the last 24 hours</title>'
                      f'<text x="{PAD}" y="{height // 2 + 4}" class="spark-empty">no readings</text></svg>')
    thresholds = [t for t in (warning, critical) if t is not None]
    low = min(0.0, *buckets.values())
    high = max(*buckets.values(), *thresholds, low + 1e-9)
    if high == low:
        high = low + 1.0

    def y(value):
        return _fmt(height - PAD - (value - low) / (high - low) * (height - 2 * PAD))

    line = " ".join(f"{x},{y(v)}" for x, v in sorted(buckets.items()))
    parts = [f'<svg class="spark" viewBox="0 0 {width} {height}" preserveAspectRatio="none" '
             f'role="img" aria-label="{title} over the last 24 hours">',
             f"<title>{title}: {len(points)} readings over the last 24 hours</title>"]
    for name, value in (("warn", warning), ("crit", critical)):
        if value is not None:
            parts.append(f'<line class="spark-{name}" x1="{PAD}" x2="{width - PAD}" '
                         f'y1="{y(value)}" y2="{y(value)}"/>')
    parts.append(f'<polyline class="spark-line" points="{line}"/>')
    last_x, last_v = max(buckets.items())
    parts.append(f'<circle class="spark-dot" cx="{last_x}" cy="{y(last_v)}" r="2"/></svg>')
    return Markup("".join(parts))
