"""Usage limits from the page's text or the site's JSON endpoint → Snapshot.

Pure functions, stdlib only: the browser package hands over strings and parsed JSON, nothing
else. One job per module:

- `page`: what page the browser shows, and the limits its text shows;
- `endpoint`: the limits in the endpoint's answer (`limits[]`, else the older fields), and
  which organization to ask;
- `reading`: one source's reading, and the per-limit merge of the sources into a Snapshot;
- `resets`: reset texts ("Resets Thu 7:00 AM") to absolute times and back.
"""

from __future__ import annotations

from consolescrape.extract.endpoint import pick_organization, read_api, snapshot_from_api
from consolescrape.extract.page import PageKind, classify_page, read_page, snapshot_from_page
from consolescrape.extract.reading import NoPlanLimits, NoUsage, Reading, merge
from consolescrape.extract.resets import local_zone, reset_text, resolve_reset

__all__ = [
    "NoPlanLimits",
    "NoUsage",
    "PageKind",
    "Reading",
    "classify_page",
    "local_zone",
    "merge",
    "pick_organization",
    "read_api",
    "read_page",
    "reset_text",
    "resolve_reset",
    "snapshot_from_api",
    "snapshot_from_page",
]
