"""Which organization's usage to read, from GET /api/organizations, and why.

In this order: the organization CONSOLESCRAPE_ORG names (uuid or name); the lastActiveOrg
cookie's, when it names a listed chat organization (the one the site itself shows); else the
first with a paid plan (Pro, Max, Team, Enterprise) — a free personal organization is often
listed before the paid one; else the first chat organization; else, when the list carries no
capabilities at all, the first that is not an API console's. API-only organizations (their
/usage answers 403) and blank uuids are never chosen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from consolescrape.sanitize import clean

#: Capabilities that are plans (feature flags share the "claude_" prefix: only these count).
_PLAN_CAPABILITIES = (
    ("claude_max", "Max"),
    ("claude_pro", "Pro"),
    ("raven_enterprise", "Enterprise"),
    ("raven", "Team"),
)
#: rate_limit_tier values name the plan too ("default_claude_max_5x", "default_raven"); a free
#: account and some Pro ones share "default_claude_ai", which says nothing.
_PLAN_TIERS = (("claude_max", "Max"), ("claude_pro", "Pro"), ("raven", "Team"))


class UnknownOrganization(LookupError):
    """CONSOLESCRAPE_ORG names no usable organization of this login (or more than one)."""


@dataclass(frozen=True)
class Choice:
    """The organization read: its uuid and name, its plan (None: free or not known), why it was
    chosen, the other paid organizations it was chosen over, and — when the lastActiveOrg
    cookie names another listed chat organization — that one, which is what the page shows."""

    uuid: str
    name: str
    plan: str | None
    reason: str
    other_paid: tuple[str, ...] = ()
    page_shows: str | None = None

    def describe(self) -> str:
        """'Acme (Team)'; 'Personal' when the plan is not known."""
        return f"{self.name} ({self.plan})" if self.plan else self.name

    def to_json(self) -> dict[str, Any]:
        """The local file's `organization` (never sent)."""
        doc: dict[str, Any] = {"uuid": self.uuid, "name": self.name, "plan": self.plan}
        doc["chosenBy"] = self.reason
        if self.other_paid:
            doc["otherPaid"] = list(self.other_paid)
        return doc


def _capabilities(org: Mapping[str, object]) -> list[str] | None:
    raw = org.get("capabilities")
    if not isinstance(raw, list):
        return None
    return [c.lower() for c in raw if isinstance(c, str)]


def _api_only(org: Mapping[str, object]) -> bool:
    """An API-console organization: no chat, so its /usage answers 403."""
    caps = _capabilities(org)
    return caps is not None and "chat" not in caps and any(c.startswith("api") for c in caps)


def _usable(org: object) -> bool:
    if not isinstance(org, Mapping):
        return False
    uuid = org.get("uuid")
    # capabilities present but not a list is a shape we do not know: not guessed at.
    shape_known = org.get("capabilities") is None or isinstance(org.get("capabilities"), list)
    return isinstance(uuid, str) and bool(uuid.strip()) and shape_known and not _api_only(org)


def _chat(org: Mapping[str, object]) -> bool:
    caps = _capabilities(org)
    return caps is None or "chat" in caps


def plan_of(org: Mapping[str, object]) -> str | None:
    """The paid plan an organization shows: its capabilities, its rate-limit tier, its
    raven_type (Team/Enterprise), its billing by subscription; None for a free one."""
    caps = _capabilities(org) or []
    for capability, plan in _PLAN_CAPABILITIES:
        if capability in caps:
            raven = org.get("raven_type")
            if capability == "raven" and isinstance(raven, str) and raven.strip():
                return clean(raven).strip().capitalize()[:20]
            return plan
    tier = org.get("rate_limit_tier")
    if isinstance(tier, str):
        for part, plan in _PLAN_TIERS:
            if part in tier.lower():
                return plan
    raven = org.get("raven_type")
    if isinstance(raven, str) and raven.strip():
        return clean(raven).strip().capitalize()[:20]
    billing = org.get("billing_type")
    if isinstance(billing, str) and "subscription" in billing.lower():
        return "paid plan"
    return None


def _name(org: Mapping[str, object]) -> str:
    name = org.get("name")
    # Stored and printed: no control characters, no endless names.
    return " ".join(clean(name).split())[:80] if isinstance(name, str) and name.strip() else "?"


def _choice(org: Mapping[str, object], reason: str, **extra: Any) -> Choice:
    return Choice(str(org["uuid"]), _name(org), plan_of(org), reason, **extra)


def _pinned(
    usable: list[Mapping[str, object]], everything: list[object], pin: str
) -> Mapping[str, object]:
    wanted = pin.strip().casefold()
    by_uuid = [o for o in usable if str(o["uuid"]).casefold() == wanted]
    by_name = [o for o in usable if _name(o).casefold() == wanted]
    found = by_uuid or by_name
    if len(found) == 1:
        return found[0]
    listed = ", ".join(
        f"{_name(o)} [{o.get('uuid')}]" for o in everything if isinstance(o, Mapping)
    )
    if len(found) > 1:
        raise UnknownOrganization(
            f"CONSOLESCRAPE_ORG={pin!r} names {len(found)} organizations; use the uuid ({listed})"
        )
    raise UnknownOrganization(
        f"CONSOLESCRAPE_ORG={pin!r} names no organization with usage limits this login lists"
        f" (it lists: {listed or 'none'})"
    )


def choose_organization(
    orgs: object, last_active: str | None = None, pinned: str | None = None
) -> Choice | None:
    """The organization to ask for usage, and why; None when the list has none usable.

    Raises UnknownOrganization when `pinned` (CONSOLESCRAPE_ORG) names none, or several.
    """
    if not isinstance(orgs, list):
        return None
    usable: list[Mapping[str, object]] = [o for o in orgs if _usable(o)]
    cookie = next(
        (o for o in usable if last_active and o["uuid"] == last_active and _chat(o)), None
    )
    if pinned:
        org = _pinned(usable, orgs, pinned)
        shows = cookie if cookie is not None and cookie["uuid"] != org["uuid"] else None
        return _choice(org, "CONSOLESCRAPE_ORG", page_shows=_name(shows) if shows else None)
    if cookie is not None:
        return _choice(cookie, "lastActiveOrg")
    paid = [o for o in usable if _chat(o) and plan_of(o)]
    if paid:
        others = tuple(_choice(o, "").describe() for o in paid[1:])
        return _choice(paid[0], "paid plan", other_paid=others)
    chat = [o for o in usable if _chat(o) and o.get("capabilities") is not None]
    if chat:
        return _choice(chat[0], "first chat organization")
    bare = [o for o in usable if o.get("capabilities") is None]
    return _choice(bare[0], "first organization") if bare else None
