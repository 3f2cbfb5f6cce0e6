"""How jobs look in Discord: status, result and failure embeds.  Pure functions of a Job row."""

from __future__ import annotations

from typing import Any

import discord

from storage.jobs import Job, JobStatus

BAR_WIDTH = 16
PROMPT_PREVIEW = 900
RESULT_TITLE = "🎬 Your video is ready"

COLOUR_WORKING = discord.Colour.blurple()
COLOUR_DONE = discord.Colour.green()
COLOUR_FAILED = discord.Colour.red()
COLOUR_MUTED = discord.Colour.dark_grey()

STATUS_WORDS = {
    JobStatus.PENDING: "Sending to the video provider…",
    JobStatus.QUEUED: "Waiting for provider capacity…",
    JobStatus.SUBMITTED: "Rendering…",
    JobStatus.COMPLETED: "Rendered — fetching the video…",
    JobStatus.DELIVERING: "Posting the video…",
    JobStatus.DELIVERED: "Done.",
    JobStatus.FAILED: "Failed.",
    JobStatus.REFUSED: "Refused.",
    JobStatus.DISCARDED: "Cancelled.",
}


def progress_bar(percent: int, width: int = BAR_WIDTH) -> str:
    """``progress_bar(50, 8)`` → ``'████░░░░ 50%'``."""
    percent = max(0, min(100, int(percent)))
    filled = round(width * percent / 100)
    return "█" * filled + "░" * (width - filled) + f" {percent}%"


def format_duration(seconds: float) -> str:
    total = max(0, round(seconds))
    if total < 60:
        return f"{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def format_bytes(size: int) -> str:
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def eta_seconds(job: Job, now: float) -> float | None:
    """Remaining time from elapsed time and progress, once there is enough progress to judge."""
    if job.status != JobStatus.SUBMITTED or job.progress < 5 or job.submitted_at is None:
        return None
    elapsed = now - job.submitted_at
    return elapsed * (100 - job.progress) / job.progress


def preview(text: str, limit: int = PROMPT_PREVIEW) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _footer(job: Job, simulated: bool) -> str:
    footer = f"Job #{job.id} · {job.model}"
    if simulated:
        footer += " · simulated video (no real provider)"
    return footer


def _spec_line(job: Job) -> str:
    return f"`{job.model}` · {job.size} · {job.seconds} s"


def status_embed(job: Job, *, now: float, simulated: bool, position: tuple[int, int] | None = None) -> discord.Embed:
    """The single status message that is edited while a job runs."""
    ended = job.status in (JobStatus.FAILED, JobStatus.REFUSED, JobStatus.DISCARDED)
    colour = COLOUR_FAILED if ended else COLOUR_DONE if job.status == JobStatus.DELIVERED else COLOUR_WORKING
    embed = discord.Embed(title=f"🎬 {STATUS_WORDS[job.status]}", colour=colour)
    embed.description = f"> {preview(job.prompt, 300)}"
    embed.add_field(name="Video", value=_spec_line(job), inline=True)
    embed.add_field(name="Requested by", value=f"<@{job.user_id}>", inline=True)
    if job.remix_of_job_id is not None:
        embed.add_field(name="Remix of", value=f"job #{job.remix_of_job_id}", inline=True)
    if job.status in (JobStatus.PENDING, JobStatus.QUEUED, JobStatus.SUBMITTED, JobStatus.COMPLETED):
        line = progress_bar(job.progress)
        remaining = eta_seconds(job, now)
        if remaining is not None:
            line += f" · about {format_duration(remaining)} left"
        embed.add_field(name="Progress", value=line, inline=False)
    if job.status == JobStatus.QUEUED:
        place = f"Position **{position[0]}** of {position[1]} in the queue. " if position else ""
        embed.add_field(name="Queue", value=place + (job.error_message or ""), inline=False)
    if ended and job.error_message:
        embed.add_field(name="Reason", value=preview(job.error_message, 1000), inline=False)
    embed.set_footer(text=_footer(job, simulated))
    return embed


def result_embed(
    job: Job, *, simulated: bool, oversize_note: str | None = None, note_title: str = "Why a thumbnail?"
) -> discord.Embed:
    embed = discord.Embed(title=RESULT_TITLE, colour=COLOUR_DONE)
    embed.description = f"> {preview(job.prompt)}"
    embed.add_field(name="Model", value=f"`{job.model}`", inline=True)
    embed.add_field(name="Size", value=job.size, inline=True)
    embed.add_field(name="Length", value=f"{job.seconds} s", inline=True)
    if job.completed_at is not None:
        embed.add_field(name="Time taken", value=format_duration(job.completed_at - job.created_at), inline=True)
    embed.add_field(name="Job", value=f"#{job.id}", inline=True)
    if job.remix_of_job_id is not None:
        embed.add_field(name="Remix of", value=f"job #{job.remix_of_job_id}", inline=True)
    if oversize_note:
        embed.add_field(name=note_title, value=oversize_note, inline=False)
    embed.set_footer(text=_footer(job, simulated))
    return embed


def failure_embed(job: Job, *, simulated: bool) -> discord.Embed:
    refused = job.status == JobStatus.REFUSED
    title = "🚫 Not allowed" if refused else "⚠️ The video could not be made"
    embed = discord.Embed(title=title, colour=COLOUR_FAILED)
    embed.description = job.error_message or "The provider gave no reason."
    embed.add_field(name="Video", value=_spec_line(job), inline=True)
    embed.add_field(name="Job", value=f"#{job.id}", inline=True)
    embed.set_footer(text=_footer(job, simulated))
    return embed


def job_choice_name(job: Job) -> str:
    """How a job reads in an autocomplete list (Discord allows 100 characters)."""
    return f"#{job.id} · {job.status.value} · {preview(job.prompt, 60)}"[:100]


def job_line(job: Job) -> str:
    """One line per job for history and listings."""
    icon = {
        JobStatus.DELIVERED: "✅",
        JobStatus.FAILED: "⚠️",
        JobStatus.REFUSED: "🚫",
        JobStatus.DISCARDED: "✖️",
    }.get(job.status, "⏳")
    state = job.status.value if job.status != JobStatus.SUBMITTED else f"rendering {job.progress}%"
    when = f"<t:{int(job.created_at)}:R>"
    return f"{icon} **#{job.id}** · {state} · {_spec_line(job)} · {when}\n> {preview(job.prompt, 80)}"


_PERIOD_WORDS = {"day": "24 hours", "week": "7 days", "month": "30 days"}
_UNIT_WORDS = {"jobs": "videos", "seconds": "video-seconds", "usd": "spend"}


def _amount(unit: str, value: float | None) -> str:
    if value is None:
        return "∞"
    if unit == "usd":
        return f"${value:,.2f}"
    return f"{value:,.0f}"


def _window_lines(windows: tuple[Any, ...]) -> str:
    lines = []
    for w in windows:
        line = (
            f"**{_UNIT_WORDS.get(w.unit, w.unit).capitalize()}**, last {_PERIOD_WORDS.get(w.period, w.period)}: "
            f"{_amount(w.unit, w.used)} of {_amount(w.unit, w.limit)} used, {_amount(w.unit, w.left)} left"
        )
        if w.resets_at is not None and w.used:
            line += f" · frees up <t:{int(w.resets_at)}:R>"
        lines.append(line)
    return "\n".join(lines) or "No limits."


def quota_embed(report: Any) -> discord.Embed:
    """What a member may still generate here (``report``: bot.quotas.QuotaReport)."""
    embed = discord.Embed(title="🎟️ Your video allowance", colour=COLOUR_MUTED)
    embed.description = (
        "Windows are rolling: a video counts for exactly 24 hours, 7 days or 30 days after it was requested. "
        "Failed, refused and cancelled videos are refunded."
    )
    embed.add_field(name="You", value=_window_lines(report.limited("user")), inline=False)
    embed.add_field(name="This server", value=_window_lines(report.limited("guild")), inline=False)
    running = f"You: {report.in_flight_user} of {_amount('jobs', report.max_concurrent_per_user)}"
    running += f" · server: {report.in_flight_guild} of {_amount('jobs', report.max_concurrent_per_guild)}"
    embed.add_field(name="Running at once", value=running, inline=False)
    if report.cooldown_until:
        embed.add_field(
            name="Cooldown", value=f"Next request allowed <t:{int(report.cooldown_until)}:R>.", inline=False
        )
    elif report.cooldown_seconds:
        embed.add_field(name="Cooldown", value=f"{format_duration(report.cooldown_seconds)} between requests.")
    cap = report.global_cap
    if cap is not None and cap.paused:
        when = f" It lifts <t:{int(cap.resets_at)}:R>." if cap.resets_at else ""
        embed.add_field(name="⏸️ Paused bot-wide", value=f"The bot's daily spending cap is reached.{when}", inline=False)
    if report.grants:
        embed.add_field(name="Extra allowance", value=f"{len(report.grants)} active grant(s) from moderators.")
    return embed
