"""The site's JSON endpoint: GET /api/organizations/{uuid}/usage (parsed) → a Reading.

`limits[]` first, then the older fields for what it lacks; which organization to ask
(`organization`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from datetime import datetime, timedelta, tzinfo

from consolescrape.extract.organization import choose_organization
from consolescrape.extract.reading import (
    ALL_MODELS_NAME,
    SESSION_UNUSED,
    UNUSED_TEMPLATE,
    NoUsage,
    Reading,
    number,
    percentage,
)
from consolescrape.extract.resets import reset_text, utc_now
from consolescrape.model import (
    ALL_MODELS,
    SESSION,
    Limit,
    Spend,
    model_key,
    parse_time,
    row_label,
)
from consolescrape.sanitize import clean

#: Fields of the endpoint's older answer: (field, key, model name for the unused wording).
#: `seven_day_omelette` is the "Claude Design" weekly row the page shows under that name. Other
#: fields (seven_day_cowork: daily routines; seven_day_oauth_apps; codenames such as tangelo;
#: *_dollars, spend, extra_usage, seven_day_breakdown) are not plan limits and are not read.
_OLD_FIELDS = (
    ("five_hour", SESSION, None),
    ("seven_day", ALL_MODELS, ALL_MODELS_NAME),
    ("seven_day_sonnet", model_key("Sonnet"), "Sonnet"),
    ("seven_day_opus", model_key("Opus"), "Opus"),
    ("seven_day_omelette", model_key("Claude Design"), "Claude Design"),
)
#: A reset further ahead than this is not a usage window (weekly limits reset within 7 days).
_FARTHEST_RESET = timedelta(days=366)


def _unused(model: str | None) -> str:
    return SESSION_UNUSED if model is None else UNUSED_TEMPLATE.format(model=model)


def _api_percentage(raw: object) -> tuple[int | float, int | float | None]:
    """(percentage clamped to 0–100, raw value when it was above 100); ValueError otherwise."""
    value = number(raw)
    return (100, value) if value > 100 else (percentage(value), None)


def _api_limit(
    percent: object, resets_at: object, *, unused: str, now: datetime, tz: tzinfo
) -> Limit:
    if percent is None:
        raise ValueError("no percentage (null)")  # never read as 0: the value is unknown
    value, raw = _api_percentage(percent)
    if resets_at is None:
        if value != 0:
            raise ValueError(f"{value}% used but no reset time")
        return Limit(unused, value)
    if not isinstance(resets_at, str):
        raise ValueError(f"resets_at is not a timestamp ({resets_at!r})")
    moment = parse_time(resets_at)
    if moment - now > _FARTHEST_RESET:
        raise ValueError(f"resets_at {resets_at[:40]!r} is not a plausible reset time")
    return Limit(reset_text(moment, now=now, tz=tz), value, moment, raw)


def _scope_name(scope: Mapping[str, object], part: str) -> str | None:
    """scope.model.display_name (or .name), or scope.surface as a name; None when absent."""
    value = scope.get(part)
    if isinstance(value, Mapping):
        value = value.get("display_name") or value.get("name")
    if not isinstance(value, str):
        return None
    # The name is stored and printed ("You haven’t used Fable yet"): no control characters.
    return clean(value).strip() or None


def _limits_item(
    item: Mapping[str, object], where: str, reading: Reading, now: datetime, tz: tzinfo
) -> None:
    kind = item.get("kind")
    raw_scope = item.get("scope")
    scope: Mapping[str, object] = raw_scope if isinstance(raw_scope, Mapping) else {}
    model = _scope_name(scope, "model")
    surface = _scope_name(scope, "surface")
    if surface is not None and model is None:
        # A product surface's own allowance (Cowork, Claude Code), not a plan limit the page or
        # the server's card shows: noted for --verbose, never sent as an error.
        reading.notes.append(f"{where}: {kind} limit of the {surface} surface is not a plan limit")
        return
    key: str
    if kind == "session" and model is None:
        key, name = SESSION, None
    elif kind == "weekly_all" and model is None:
        key, name = ALL_MODELS, ALL_MODELS_NAME
    elif kind == "weekly_scoped" or (kind == "weekly_all" and model is not None):
        if model is None:
            reading.errors[where] = "weekly_scoped limit without scope.model.display_name"
            return
        try:
            key, name = model_key(model), model
        except ValueError as exc:
            reading.errors[where] = str(exc)
            return
    else:
        if isinstance(kind, str):
            reading.notes.append(f"{where}: {kind} limit is not one the page shows")
        return
    try:
        limit = _api_limit(
            item.get("percent"), item.get("resets_at"), unused=_unused(name), now=now, tz=tz
        )
    except (ValueError, OverflowError) as exc:
        reading.fail(key, str(exc))
        return
    if name is not None and key != ALL_MODELS:
        limit = dataclasses.replace(limit, label=row_label(name, key))
    reading.put(key, limit, "limits[]")


def _old_fields(usage: Mapping[str, object], reading: Reading, now: datetime, tz: tzinfo) -> None:
    for name, key, model in _OLD_FIELDS:
        value = usage.get(name)
        if value is None:
            continue
        if not isinstance(value, Mapping):
            reading.fail(key, f"{name} is not an object")
            continue
        try:
            limit = _api_limit(
                value.get("utilization"),
                value.get("resets_at"),
                unused=_unused(model),
                now=now,
                tz=tz,
            )
        except (ValueError, OverflowError) as exc:
            reading.fail(key, f"{name}: {exc}")
            continue
        reading.put(key, limit, name)


def _amount(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) and 0 <= number < 1e12 else None


def _money(value: object) -> tuple[float | None, str | None]:
    """{amount_minor, currency, exponent} → (amount in currency units, currency)."""
    if not isinstance(value, Mapping):
        return None, None
    minor = _amount(value.get("amount_minor"))
    exponent = value.get("exponent", 2)
    currency = value.get("currency")
    if minor is None or not isinstance(exponent, int) or not 0 <= exponent <= 6:
        return None, None
    return round(minor / 10**exponent, exponent), currency if isinstance(currency, str) else None


def _api_spend(usage: Mapping[str, object]) -> Spend | None:
    """A spend cap from `spend` ({used, limit} as money) or `extra_usage` (credits in cents)."""
    spend = usage.get("spend")
    if isinstance(spend, Mapping):
        used, currency = _money(spend.get("used"))
        if used is not None:
            limit, limit_currency = _money(spend.get("limit"))
            return Spend(used, limit, currency or limit_currency)
    extra = usage.get("extra_usage")
    if isinstance(extra, Mapping):
        used = _amount(extra.get("used_credits"))
        if used is not None:
            limit = _amount(extra.get("monthly_limit"))
            currency = extra.get("currency")
            return Spend(
                round(used / 100, 2),
                None if limit is None else round(limit / 100, 2),
                currency if isinstance(currency, str) else None,
            )
    return None


def read_api(usage: object, *, now: datetime, tz: tzinfo) -> Reading:
    """What GET /api/organizations/{uuid}/usage (parsed JSON) shows, limit by limit.

    Each limit from `limits[]`, else from the older field that holds it. Raises NoUsage when the
    answer is not an object at all (an error page, a list).
    """
    now = utc_now(now)
    if not isinstance(usage, Mapping):
        raise NoUsage(f"usage answer is not an object ({type(usage).__name__})")
    reading = Reading()
    limits = usage.get("limits")
    if isinstance(limits, list):
        for i, item in enumerate(limits):
            if isinstance(item, Mapping):
                _limits_item(item, f"limits[{i}]", reading, now, tz)
            else:
                reading.errors[f"limits[{i}]"] = "not an object"
    _old_fields(usage, reading, now, tz)
    if not reading.limits and not reading.errors:
        # Only an answer with no limit at all is a spend-only plan: limits it has but could not
        # read (percent null) are errors, and the page may still show them.
        reading.spend = _api_spend(usage)
    return reading


def pick_organization(orgs: object, last_active: str | None = None) -> str | None:
    """The uuid to ask for usage (the rules are in `organization.choose_organization`)."""
    choice = choose_organization(orgs, last_active)
    return None if choice is None else choice.uuid
