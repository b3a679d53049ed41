"""One source's reading of the limits, and the per-limit merge of the sources into a Snapshot."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from consolescrape.extract.organization import Choice
from consolescrape.extract.resets import utc_now
from consolescrape.model import (
    ALL_MODELS,
    DEFAULT_MODEL_ROW,
    SESSION,
    Limit,
    Snapshot,
    Spend,
    finish,
)

#: The page's words for a limit nothing has been counted against yet.
SESSION_UNUSED = "Starts when a message is sent"
#: "You haven’t used Sonnet yet" — the page uses a curly apostrophe; we write it the same way.
UNUSED_TEMPLATE = "You haven’t used {model} yet"
#: The weekly all-models row has no model name of its own; the site's product name stands in.
ALL_MODELS_NAME = "Claude"
#: The origin of a limit read from the page text (endpoint origins name the field).
PAGE = "page"


class NoUsage(ValueError):
    """The content has no usage limit at all (a scrape failure, not a partial result).

    `errors` (row → why it could not be read) are named in the message.
    """

    def __init__(self, message: str, errors: Mapping[str, str] | None = None) -> None:
        detail = "; ".join(f"{k}: {v}" for k, v in (errors or {}).items())
        super().__init__(message + (f" ({detail})" if detail else ""))


class SpendCapOnly(NoUsage):
    """The content shows a spend cap instead of usage limits (Enterprise and credit plans); the
    command tells it as `errors.NoPlanLimits`."""

    def __init__(self, spend: Spend) -> None:
        super().__init__(
            f"this plan has a spend limit and no plan usage limits ({spend.describe()})"
        )
        self.spend = spend


def number(raw: object) -> int | float:
    """A finite number as given (int, float or a string like "47.5%"): 47.0 becomes 47."""
    value: int | float
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ValueError(f"percentage is not a number ({raw!r})")
    if isinstance(raw, str):
        digits = raw.strip().removesuffix("%").strip()
        try:
            value = int(digits)
        except ValueError:
            try:
                value = float(digits)
            except ValueError:
                raise ValueError(f"percentage is not a number ({raw!r})") from None
    else:
        value = raw
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"percentage is not a number ({raw!r})")
        if value.is_integer():
            value = int(value)
    return value


def percentage(raw: object) -> int | float:
    """A percentage as shown: 47 stays 47, 47.0 becomes 47, 12.5 stays 12.5; 0–100 only."""
    value = number(raw)
    if not 0 <= value <= 100:
        raise ValueError(f"{value}% used is outside 0–100")
    return value


@dataclass
class Reading:
    """What one source showed, before the merge: limits by key, the session under SESSION.

    `origins` says where in the source each limit was read ("limits[]", "five_hour", "page");
    `notes` are things skipped on purpose (for --verbose, never sent); `spend` is a spend cap
    the source showed (plans without plan limits). `trouble` names a passing condition of the
    site that kept the source from answering ("… answered 429 (rate limited) …"), and
    `challenge` says it answered with a bot check instead. `organization` is the one the
    endpoint was asked about.
    """

    limits: dict[str, Limit] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    spend: Spend | None = None
    trouble: str | None = None
    challenge: bool = False
    organization: Choice | None = None

    def put(self, key: str, limit: Limit, origin: str) -> None:
        """Keep the first reading of a limit; a later one (an older field) only fills a gap."""
        if key not in self.limits:
            self.limits[key] = limit
            self.origins[key] = origin
            self.errors.pop(key, None)

    def fail(self, key: str, reason: str) -> None:
        if key not in self.limits:
            self.errors.setdefault(key, reason)


def merge(
    readings: Sequence[Reading], *, now: datetime, model_row: str = DEFAULT_MODEL_ROW
) -> Snapshot:
    """One snapshot from readings in order of trust: each limit from the first that has it.

    `source` is "api" when every limit came from the endpoint, "page" when none did, else
    "mixed". Raises NoUsage when no reading has any limit (SpendCapOnly when one showed a spend
    cap instead).
    """
    now = utc_now(now)
    merged = Reading()
    for reading in readings:
        for key, limit in reading.limits.items():
            merged.put(key, limit, reading.origins.get(key, "?"))
    for reading in readings:
        for key, reason in reading.errors.items():
            merged.fail(key, reason)
    limits, origins, errors = merged.limits, merged.origins, merged.errors
    if not limits:
        spend = next((r.spend for r in readings if r.spend is not None), None)
        if spend is not None:
            raise SpendCapOnly(spend)
        raise NoUsage("no usage limit found", errors)
    kinds = {"page" if origin == PAGE else "api" for origin in origins.values()}
    source = kinds.pop() if len(kinds) == 1 else "mixed"
    session = limits.pop(SESSION, None)
    # allModels first, then the model rows in the order the source gave them.
    weekly = dict(sorted(limits.items(), key=lambda item: item[0] != ALL_MODELS))
    org = next((r.organization for r in readings if r.organization is not None), None)
    return finish(
        now,
        session,
        weekly,
        source=source,
        model_row=model_row,
        errors=errors,
        origins=origins,
        organization=None if org is None else org.to_json(),
    )
