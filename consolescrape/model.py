"""Snapshots of usage limits, their local JSON form, and the server's data contract
(docs/server-contract.md).

Pure logic: no I/O, no third-party imports.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

SESSION = "currentSession"
ALL_MODELS = "allModels"
#: The server's model-specific weekly slot; which page row fills it is a setting.
SLOT = "sonnetOnly"
DEFAULT_MODEL_ROW = "Sonnet"
#: The server answers 413 above this body size.
MAX_BODY_BYTES = 100 * 1024


class ContractViolation(ValueError):
    """A document does not have the shape the local format or the server requires."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Limit:
    """One usage limit as the page shows it.

    `percentage_used` is always 0–100; the endpoint can report more than 100% (usage past the
    limit), which is kept as `raw_percentage` for the local file and clamped everywhere else.
    """

    resets_in: str
    percentage_used: int | float
    resets_at: datetime | None = None
    raw_percentage: int | float | None = None
    #: the page's or endpoint's own name for a model row when it says more than the key's
    #: family name ("Claude Opus 4.6" for opusOnly); local file only.
    label: str | None = None


@dataclass(frozen=True)
class Spend:
    """A spend cap instead of plan limits (Enterprise, credit plans), in currency units."""

    used: float
    limit: float | None = None
    currency: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"used": self.used, "limit": self.limit, "currency": self.currency}

    def describe(self) -> str:
        unit = f" {self.currency}" if self.currency else ""
        of = f" of {self.limit:.2f}" if self.limit is not None else ""
        return f"{self.used:.2f}{of}{unit} spent"


@dataclass(frozen=True)
class Snapshot:
    """Everything one scrape found. `weekly` maps keys such as allModels/fableOnly to limits."""

    last_updated: datetime
    session: Limit | None = None
    weekly: Mapping[str, Limit] = field(default_factory=dict)
    extraction_errors: Mapping[str, str] = field(default_factory=dict)
    is_partial: bool = False
    source: str | None = None
    #: Which way in read it: "browser" (the usage page) or "oauth" (Claude Code's OAuth usage
    #: endpoint); local only, like `source` (which says api, page or mixed either way).
    via: str | None = None
    #: Where each limit was read ("limits[]", "five_hour", "page", …); not part of the file.
    origins: Mapping[str, str] = field(default_factory=dict, compare=False)
    #: The organization read ({uuid, name, plan, chosenBy, otherPaid?}); local file only.
    organization: Mapping[str, Any] | None = None

    @property
    def empty(self) -> bool:
        return self.session is None and not self.weekly

    def limits(self) -> list[tuple[str, Limit]]:
        """Every limit by key, the session first."""
        found = [(SESSION, self.session)] if self.session is not None else []
        return found + list(self.weekly.items())


#: Model families whose rows are keyed without the "Claude" before them ("Claude Opus" → opus).
_FAMILIES = frozenset({"opus", "sonnet", "haiku", "fable", "mythos"})
_WORD = re.compile(r"[A-Za-z0-9]+(?:\.[0-9]+)*")
_VERSION = re.compile(r"\d+(?:\.\d+)*")


def _family_words(label: str) -> list[str]:
    """The words that name a row's model family: 'Claude Opus 4.6 only' → ['Opus'].

    Version numbers are dropped ('Sonnet 4.5', 'Claude 3.5 Sonnet', 'Haiku 4'), and so is a
    leading 'Claude' before a family or a version: one family is one row whatever its version.
    'Claude Design' (a product without a version) keeps its name.
    """
    name = re.sub(r"\s*only\s*$", "", label.strip(), flags=re.IGNORECASE) or label.strip()
    words: list[str] = _WORD.findall(name)
    named = [w for w in words if not _VERSION.fullmatch(w)]
    versioned = len(named) < len(words)
    words = named  # a version alone ("4.6") names no model
    if (
        len(words) > 1
        and words[0].lower() == "claude"
        and (versioned or words[1].lower() in _FAMILIES)
    ):
        words = words[1:]
    return words


def model_key(label: str) -> str:
    """The weekly-limit key for a page label or model name: 'Sonnet only' → 'sonnetOnly',
    'Claude Opus 4.6' → 'opusOnly' (the family, not the version)."""
    # "Sonnet only" (a page label) and "sonnetOnly" (a key given as a setting) name one row.
    words = [w.replace(".", "") for w in _family_words(label)]
    if not words:
        raise ValueError(f"no model name in {label!r}")
    if [w.lower() for w in words] == ["all", "models"]:
        return ALL_MODELS
    first, *rest = words
    return first.lower() + "".join(w[:1].upper() + w[1:].lower() for w in rest) + "Only"


def row_label(label: str, key: str) -> str | None:
    """The row's own name when it says more than its key's family name ('Claude Opus 4.6' for
    opusOnly), else None: the local file keeps what the page or the endpoint called it."""
    name = re.sub(r"\s*only\s*$", "", " ".join(label.split()), flags=re.IGNORECASE)
    return name if name and name.casefold() != model_name(key).casefold() else None


def model_name(key: str) -> str:
    """The display name behind a model row key: 'claudeDesignOnly' → 'Claude Design'."""
    stem = key[: -len("Only")] if key.endswith("Only") else key
    words = re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", stem)
    return " ".join(w[:1].upper() + w[1:] for w in words)


def finish(
    last_updated: datetime,
    session: Limit | None,
    weekly: Mapping[str, Limit],
    *,
    source: str,
    model_row: str = DEFAULT_MODEL_ROW,
    errors: Mapping[str, str] | None = None,
    origins: Mapping[str, str] | None = None,
    organization: Mapping[str, Any] | None = None,
) -> Snapshot:
    """Build a snapshot, recording why each expected section is missing (isPartial)."""
    found_errors = dict(errors or {})
    slot_key = model_key(model_row)
    if session is not None:
        found_errors.pop(SESSION, None)
    for key in weekly:
        found_errors.pop(key, None)
    missing: dict[str, str] = {}
    if session is None:
        missing[SESSION] = found_errors.pop(SESSION, "section not found")
    for key in (ALL_MODELS, slot_key):
        if key not in weekly:
            missing[key] = found_errors.pop(key, "row not found")
    if slot_key in missing:
        others = other_model_rows(weekly, model_row)
        if others:
            missing[slot_key] += f" (page shows model rows: {', '.join(others)})"
    return Snapshot(
        last_updated=last_updated,
        session=session,
        weekly=dict(weekly),
        extraction_errors={**missing, **found_errors},
        is_partial=bool(missing),
        source=source,
        origins=dict(origins or {}),
        organization=organization,
    )


def other_model_rows(weekly: Mapping[str, Limit], model_row: str) -> list[str]:
    """Display names of model rows other than the one that fills the server slot."""
    slot_key = model_key(model_row)
    return [model_name(k) for k in weekly if k not in (ALL_MODELS, slot_key) and k.endswith("Only")]


def model_row_hint(snapshot: Snapshot, model_row: str) -> str | None:
    """Advice when the configured model row is missing but others exist (the slot rule in
    docs/server-contract.md)."""
    if model_key(model_row) in snapshot.weekly:
        return None
    others = other_model_rows(snapshot.weekly, model_row)
    if not others:
        return None
    return (
        f"page shows model rows: {', '.join(others)} — set CONSOLESCRAPE_MODEL_ROW={others[0]} "
        f"to sync it as {SLOT}"
    )


# --- time -----------------------------------------------------------------------------------


def format_time(moment: datetime) -> str:
    """UTC ISO 8601 with milliseconds and Z: 2026-11-29T01:17:41.123Z."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_time(text: str) -> datetime:
    """Parse an ISO 8601 timestamp that carries a zone; naive times are refused."""
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without a time zone: {text!r}")
    return moment.astimezone(UTC)


# --- local JSON --------------------------------------------------------------------------------


def _limit_json(limit: Limit, *, local: bool) -> dict[str, Any]:
    doc: dict[str, Any] = {"resetsIn": limit.resets_in, "percentageUsed": limit.percentage_used}
    if local and limit.resets_at is not None:
        doc["resetsAt"] = format_time(limit.resets_at)
    if local and limit.raw_percentage is not None:
        doc["rawPercentageUsed"] = limit.raw_percentage
    if local and limit.label is not None:
        doc["label"] = limit.label
    return doc


def to_json(snapshot: Snapshot) -> dict[str, Any]:
    """The local file format (usage-data.json and outbox items)."""
    doc: dict[str, Any] = {}
    if snapshot.session is not None:
        doc[SESSION] = _limit_json(snapshot.session, local=True)
    if snapshot.weekly:
        doc["weeklyLimits"] = {k: _limit_json(v, local=True) for k, v in snapshot.weekly.items()}
    doc["lastUpdated"] = format_time(snapshot.last_updated)
    doc["isPartial"] = snapshot.is_partial
    if snapshot.extraction_errors:
        doc["extractionErrors"] = dict(snapshot.extraction_errors)
    if snapshot.source is not None:
        doc["source"] = snapshot.source
    if snapshot.organization is not None:
        doc["organization"] = dict(snapshot.organization)
    if snapshot.via is not None:
        doc["via"] = snapshot.via
    return doc


def _is_percentage(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    # Range first: math.isfinite overflows on integers too big for a float (JSON allows them).
    return 0 <= value <= 100 and (isinstance(value, int) or math.isfinite(value))


def _limit_problems(doc: object, path: str) -> list[str]:
    if not isinstance(doc, dict):
        return [f"{path}: must be an object"]
    problems = []
    resets_in = doc.get("resetsIn")
    if not isinstance(resets_in, str) or not resets_in.strip():
        problems.append(f"{path}.resetsIn: must be a non-empty string")
    if not _is_percentage(doc.get("percentageUsed")):
        problems.append(
            f"{path}.percentageUsed: must be a number 0–100 (got {doc.get('percentageUsed')!r})"
        )
    return problems


def _limit_from(doc: dict[str, Any], path: str, problems: list[str]) -> Limit | None:
    found = _limit_problems(doc, path)
    resets_at = None
    if isinstance(doc, dict) and doc.get("resetsAt") is not None:
        try:
            resets_at = parse_time(str(doc["resetsAt"]))
        except ValueError:
            found.append(f"{path}.resetsAt: must be an ISO 8601 timestamp with a zone")
    raw = doc.get("rawPercentageUsed") if isinstance(doc, dict) else None
    if raw is not None and (
        isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 <= raw < 1e9
    ):
        found.append(f"{path}.rawPercentageUsed: must be a number")
    label = doc.get("label") if isinstance(doc, dict) else None
    if label is not None and not isinstance(label, str):
        found.append(f"{path}.label: must be a string")
    if found:
        problems.extend(found)
        return None
    return Limit(doc["resetsIn"], doc["percentageUsed"], resets_at, raw, label)


def from_json(doc: object) -> Snapshot:
    """Read the local format (or a bare payload) back; every shape problem is reported."""
    if not isinstance(doc, dict):
        raise ContractViolation(["document: must be a JSON object"])
    problems: list[str] = []
    last_updated = datetime.min.replace(tzinfo=UTC)
    raw_time = doc.get("lastUpdated")
    if not isinstance(raw_time, str):
        problems.append("lastUpdated: missing or not a string")
    else:
        try:
            last_updated = parse_time(raw_time)
        except ValueError:
            problems.append(f"lastUpdated: not an ISO 8601 timestamp with a zone ({raw_time!r})")
    session = None
    if doc.get(SESSION) is not None:
        session = _limit_from(doc[SESSION], SESSION, problems)
    weekly: dict[str, Limit] = {}
    raw_weekly = doc.get("weeklyLimits")
    if raw_weekly is not None:
        if not isinstance(raw_weekly, dict):
            problems.append("weeklyLimits: must be an object")
        else:
            for key, value in raw_weekly.items():
                limit = _limit_from(value, f"weeklyLimits.{key}", problems)
                if limit is not None:
                    weekly[key] = limit
    if not problems and session is None and not weekly:
        problems.append("document: has neither currentSession nor weeklyLimits")
    errors = doc.get("extractionErrors") or {}
    if not isinstance(errors, dict) or not all(isinstance(v, str) for v in errors.values()):
        problems.append("extractionErrors: must be an object of strings")
    partial = doc.get("isPartial", False)
    if not isinstance(partial, bool):
        problems.append("isPartial: must be true or false")
    source = doc.get("source")
    organization = doc.get("organization")
    if organization is not None and not isinstance(organization, dict):
        problems.append("organization: must be an object")
    via = doc.get("via")
    if problems:
        raise ContractViolation(problems)
    return Snapshot(
        last_updated=last_updated,
        session=session,
        weekly=weekly,
        extraction_errors=dict(errors),
        is_partial=partial,
        source=source if isinstance(source, str) else None,
        organization=organization,
        via=via if isinstance(via, str) else None,
    )


# --- the server contract -----------------------------------------------------------------------


@dataclass(frozen=True)
class Payload:
    """The body to POST, its idempotency id, and advice when the model slot stays empty."""

    body: dict[str, Any]
    id: str
    hint: str | None = None

    def encode(self) -> bytes:
        return json.dumps(self.body, separators=(",", ":"), ensure_ascii=False).encode()


def payload_id(body: Mapping[str, Any]) -> str:
    """A stable id of a normalised payload: the same snapshot always gets the same key."""
    import hashlib  # here: `status --line`, which a bar runs every second, sends nothing

    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def to_payload(snapshot: Snapshot, model_row: str = DEFAULT_MODEL_ROW) -> Payload:
    """The server's view of a snapshot: only allowed keys, `sonnetOnly` filled from `model_row`.

    When only one of allModels/the slot row exists, `weeklyLimits` is omitted (the server
    requires both) and `extractionErrors` says why; nothing is invented.
    """
    slot_key = model_key(model_row)
    body: dict[str, Any] = {}
    errors = {
        k: v
        for k, v in snapshot.extraction_errors.items()
        if k not in (SESSION, ALL_MODELS, SLOT, slot_key, "weeklyLimits")
    }
    if snapshot.session is not None:
        body[SESSION] = _limit_json(snapshot.session, local=False)
    else:
        errors[SESSION] = snapshot.extraction_errors.get(SESSION, "section not found")
    all_models = snapshot.weekly.get(ALL_MODELS)
    slot = snapshot.weekly.get(slot_key)
    if all_models is not None and slot is not None:
        body["weeklyLimits"] = {
            ALL_MODELS: _limit_json(all_models, local=False),
            SLOT: _limit_json(slot, local=False),
        }
    else:
        if all_models is None:
            errors[ALL_MODELS] = snapshot.extraction_errors.get(ALL_MODELS, "row not found")
        if slot is None:
            reason = snapshot.extraction_errors.get(slot_key, f"{model_row} row not found")
            others = other_model_rows(snapshot.weekly, model_row)
            if others and "page shows model rows" not in reason:
                reason += f" (page shows model rows: {', '.join(others)})"
            errors[SLOT] = reason
        if all_models is not None or slot is not None:
            errors["weeklyLimits"] = "omitted: the server needs both allModels and sonnetOnly"
    body["lastUpdated"] = format_time(snapshot.last_updated)
    body["isPartial"] = snapshot.session is None or "weeklyLimits" not in body
    if errors:
        body["extractionErrors"] = errors
    return Payload(body=body, id=payload_id(body), hint=model_row_hint(snapshot, model_row))


#: What the server's dashboard card reads without guards (docs/server-contract.md): a payload
#: missing one of them is stored but blanks the card.
CARD_SECTIONS = (SESSION, f"weeklyLimits.{ALL_MODELS}", f"weeklyLimits.{SLOT}")


def card_gaps(payload: Payload) -> list[str]:
    """The sections of CARD_SECTIONS a payload lacks (CONSOLESCRAPE_PARTIAL=hold keeps such a
    snapshot local)."""
    body = payload.body
    weekly = body.get("weeklyLimits")
    present = {SESSION} if SESSION in body else set()
    if isinstance(weekly, dict):
        present |= {f"weeklyLimits.{key}" for key in weekly}
    return [section for section in CARD_SECTIONS if section not in present]


def validate_payload(body: object) -> list[str]:
    """Every reason the server would answer 400 (or 413), each with its field path."""
    if not isinstance(body, dict):
        return ["body: must be a JSON object"]
    problems: list[str] = []
    raw_time = body.get("lastUpdated")
    if not isinstance(raw_time, str):
        problems.append("lastUpdated: missing or not a string")
    else:
        try:
            parse_time(raw_time)
        except ValueError:
            problems.append(f"lastUpdated: not an ISO 8601 timestamp ({raw_time!r})")
    if SESSION in body:
        problems += _limit_problems(body[SESSION], SESSION)
    if "weeklyLimits" in body:
        weekly = body["weeklyLimits"]
        if not isinstance(weekly, dict):
            problems.append("weeklyLimits: must be an object")
        else:
            for key in (ALL_MODELS, SLOT):
                if key not in weekly:
                    problems.append(f"weeklyLimits.{key}: missing (both rows are required)")
                else:
                    problems += _limit_problems(weekly[key], f"weeklyLimits.{key}")
    if SESSION not in body and "weeklyLimits" not in body:
        problems.append("body: needs currentSession or weeklyLimits")
    size = len(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_BODY_BYTES:
        problems.append(f"body: {size} bytes, over the server's {MAX_BODY_BYTES}-byte limit")
    return problems


# --- one-line description ------------------------------------------------------------------------


def _percent(value: int | float) -> str:
    return f"{value:g}%"


def _reset_phrase(limit: Limit) -> str:
    text = limit.resets_in
    if re.match(r"^\d", text):
        return f"resets in {text}"
    if re.match(
        r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun|Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)", text
    ):
        return f"resets {text}"
    return text


def summary(snapshot: Snapshot) -> str:
    """'session 47% (resets in 2 hr 42 min) · all models 31% · sonnet 10%'."""
    parts = []
    if snapshot.session is not None:
        parts.append(
            f"session {_percent(snapshot.session.percentage_used)} "
            f"({_reset_phrase(snapshot.session)})"
        )
    for key, limit in snapshot.weekly.items():
        name = "all models" if key == ALL_MODELS else model_name(key).lower()
        parts.append(f"{name} {_percent(limit.percentage_used)}")
    if snapshot.is_partial:
        parts.append("partial")
    return " · ".join(parts)
