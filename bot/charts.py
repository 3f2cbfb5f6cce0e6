"""Usage charts for moderators: spend and video-seconds per day, and the top members.  PNG bytes, no discord.py.

matplotlib runs headless (Agg, no pyplot state), in a worker thread via :func:`usage_chart`, so the event loop
never waits on rendering.  matplotlib is imported on first use: the bot starts without paying for it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass

from storage.moderation import DayUsage, MemberUsage

WIDTH_INCHES = 10.0
HEIGHT_INCHES = 7.5
DPI = 100
SPEND_COLOUR = "#5865F2"  # Discord blurple
SECONDS_COLOUR = "#57F287"
MEMBER_COLOUR = "#FEE75C"


@dataclass(frozen=True, slots=True)
class UsageChart:
    title: str
    days: Sequence[DayUsage]  # only days with usage; the chart fills the gaps with zero
    first_day: dt.date
    last_day: dt.date
    top: Sequence[tuple[str, MemberUsage]]  # (display name, usage), biggest first


def every_day(chart: UsageChart) -> list[DayUsage]:
    """One entry per calendar day of the period, zero where nothing was delivered."""
    known = {d.day: d for d in chart.days}
    span = (chart.last_day - chart.first_day).days + 1
    out = []
    for offset in range(max(span, 1)):
        day = (chart.first_day + dt.timedelta(days=offset)).isoformat()
        out.append(known.get(day, DayUsage(day, 0, 0, 0.0)))
    return out


def render_usage_chart(chart: UsageChart) -> bytes:
    """Render ``chart`` to PNG bytes (blocking: call it through :func:`usage_chart`)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    days = every_day(chart)
    labels = [d.day[5:] for d in days]  # MM-DD
    positions = list(range(len(days)))
    figure = Figure(figsize=(WIDTH_INCHES, HEIGHT_INCHES), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    spend_axis, members_axis = figure.subplots(2, 1, height_ratios=(3, 2))
    figure.suptitle(chart.title, fontsize=14, fontweight="bold")

    spend_axis.bar(positions, [d.usd for d in days], color=SPEND_COLOUR, label="Spend (USD)")
    spend_axis.set_ylabel("Spend (USD)")
    spend_axis.set_ylim(bottom=0)
    seconds_axis = spend_axis.twinx()
    seconds_axis.plot(positions, [d.seconds for d in days], color=SECONDS_COLOUR, marker="o", label="Video seconds")
    seconds_axis.set_ylabel("Video seconds")
    seconds_axis.set_ylim(bottom=0)
    step = max(1, len(days) // 15)
    spend_axis.set_xticks(positions[::step], labels[::step], rotation=45, ha="right", fontsize=8)
    spend_axis.set_title("Per day (UTC)", fontsize=10)
    handles = spend_axis.get_legend_handles_labels()[0] + seconds_axis.get_legend_handles_labels()[0]
    spend_axis.legend(handles=handles, loc="upper left", fontsize=8)

    if chart.top:
        names = [name if len(name) <= 24 else name[:23] + "…" for name, _ in chart.top][::-1]
        spend = [usage.usd for _, usage in chart.top][::-1]
        bars = members_axis.barh(names, spend, color=MEMBER_COLOUR)
        members_axis.bar_label(
            bars, labels=[f"${u.usd:.2f} · {u.seconds} s" for _, u in chart.top][::-1], padding=3, fontsize=8
        )
        members_axis.set_xlabel("Spend (USD)")
        members_axis.set_xlim(0, max(spend) * 1.35 or 1)
    else:
        members_axis.text(0.5, 0.5, "No videos in this period", ha="center", va="center")
        members_axis.set_axis_off()
    members_axis.set_title("Top members", fontsize=10)

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


async def usage_chart(chart: UsageChart) -> bytes:
    """The PNG, rendered off the event loop."""
    return await asyncio.to_thread(render_usage_chart, chart)
