"""How times and limits are said to a person: durations, limit names, countdowns, colours.

Pure and cheap (the status bar imports it): the views, alerts, forecasts and messages all say
these the same way because they say them through here.
"""

from __future__ import annotations

from datetime import datetime

from consolescrape import model


def duration(seconds: float) -> str:
    """'45 s', '12 min', '3 hr 5 min', '2 d 4 hr'."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} hr {minutes} min" if minutes else f"{hours} hr"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} hr" if hours else f"{days} d"


def short_duration(seconds: float) -> str:
    """'40s', '25m', '2h41m', '1d1h', '3d': the two largest units, seconds only below a minute."""
    left = max(0, int(seconds))
    if left < 60:
        return f"{left}s"
    days, minutes = divmod(left // 60, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    units = [(days, "d"), (hours, "h"), (minutes, "m")]
    first = next(i for i, (count, _) in enumerate(units) if count)
    return "".join(f"{count}{unit}" for count, unit in units[first : first + 2] if count)


def ago(at: object, now: datetime) -> str:
    """'12 min ago' for a recorded time; 'at an unknown time' when it cannot be read."""
    try:
        moment = model.parse_time(str(at))
    except ValueError:
        return "at an unknown time"
    return f"{duration((now - moment).total_seconds())} ago"


def limit_label(key: str) -> str:
    """ "Current session", "All models", or the model name: how people read a limit key."""
    if key == model.SESSION:
        return "Current session"
    if key == model.ALL_MODELS:
        return "All models"
    return model.model_name(key)


def countdown(limit: model.Limit, now: datetime) -> str:
    """'resets in 2 hr 42 min'; the page's own words when it gave no time of day."""
    if limit.resets_at is None:
        return limit.resets_in
    left = (limit.resets_at - now).total_seconds()
    if left <= 0:
        return f"reset due ({limit.resets_in})"
    return f"resets in {duration(left)}"


def short_countdown(limit: model.Limit, now: datetime) -> str:
    """'2h41m' until `limit` resets; empty when the page gave no time of day (or none)."""
    if limit.resets_at is None:
        return ""
    left = (limit.resets_at - now).total_seconds()
    return short_duration(left) if left > 0 else "reset due"


def percent_style(percent: float) -> str:
    """The colour a limit's percent is shown in: green, yellow from 70 %, red from 90 %."""
    return "red" if percent >= 90 else "yellow" if percent >= 70 else "green"
