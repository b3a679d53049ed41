"""Usage limits from the page's text or the site's JSON endpoint → Snapshot.

Pure functions, stdlib only: the browser package hands over strings and parsed JSON, nothing
else. One job per module:

- `page`: what page the browser shows, and the limits its text shows;
- `endpoint`: the limits in the endpoint's answer (`limits[]`, else the older fields);
- `organization`: which organization to ask, and why;
- `reading`: one source's reading, and the per-limit merge of the sources into a Snapshot;
- `resets`: reset texts ("Resets Thu 7:00 AM") to absolute times and back;
- `trouble`: the site's passing trouble (429, 5xx, outage pages) in words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo

from consolescrape.extract.endpoint import pick_organization, read_api
from consolescrape.extract.organization import Choice, UnknownOrganization, choose_organization
from consolescrape.extract.page import PageKind, classify_page, read_page
from consolescrape.extract.reading import NoUsage, Reading, SpendCapOnly, merge
from consolescrape.extract.resets import local_zone, reset_text, resolve_reset
from consolescrape.extract.trouble import endpoint_trouble, page_trouble
from consolescrape.model import DEFAULT_MODEL_ROW, Snapshot

__all__ = [
    "Choice",
    "NoUsage",
    "PageKind",
    "Reading",
    "SpendCapOnly",
    "UnknownOrganization",
    "choose_organization",
    "classify_page",
    "endpoint_trouble",
    "local_zone",
    "merge",
    "page_trouble",
    "pick_organization",
    "read_api",
    "read_page",
    "reset_text",
    "resolve_reset",
    "snapshot_from_api",
    "snapshot_from_page",
]


def snapshot_from_api(
    usage: object, *, now: datetime, tz: tzinfo, model_row: str = DEFAULT_MODEL_ROW
) -> Snapshot:
    """The endpoint's answer alone as a snapshot; NoUsage when it holds no limit we can read."""
    reading = read_api(usage, now=now, tz=tz)
    if not reading.limits and reading.spend is None:
        keys = ", ".join(sorted(str(k) for k in usage)) if isinstance(usage, Mapping) else ""
        raise NoUsage(
            f"usage answer has no limit we can read (keys: {keys or 'none'})", reading.errors
        )
    return merge([reading], now=now, model_row=model_row)


def snapshot_from_page(
    text: str,
    meters: Sequence[float | None] = (),
    *,
    now: datetime,
    tz: tzinfo,
    model_row: str = DEFAULT_MODEL_ROW,
) -> Snapshot:
    """The page text alone as a snapshot; NoUsage when it shows no limit."""
    reading = read_page(text, meters, now=now, tz=tz)
    if not reading.limits and reading.spend is None:
        raise NoUsage("no usage limit found in the page text", reading.errors)
    return merge([reading], now=now, model_row=model_row)
