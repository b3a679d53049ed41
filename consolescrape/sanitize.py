"""Text from outside (a server, a page, a file) made safe to print and store.

A terminal obeys escape sequences in what it prints (retitle the window, clear the screen, fake a
log line), and a server may echo the API key it was sent. Every such text passes `scrub` before
it reaches stderr, the `--json` result or `state.json`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from consolescrape.config import Secret

#: Whole escape sequences first (CSI `ESC [ … final`, OSC `ESC ] … BEL|ST`, two-byte `ESC x`),
#: so no printable remains such as "[2J" are left; then any other C0/C1 control character.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
REDACTED = "[redacted]"
#: A control character as json.dumps writes it: escaped below 0x20 (plain substring tests,
#: much faster than one regex over a large text), raw from 0x7f.
_JSON_ESCAPES = ("\\u00", "\\b", "\\f", "\\n", "\\r", "\\t")
_RAW_CONTROLS = re.compile(r"[\x7f-\x9f]")


def clean(text: str) -> str:
    """`text` without escape sequences or control characters; line breaks become spaces."""
    return _CONTROLS.sub(" ", _ESCAPES.sub("", text))


def clean_lines(text: str) -> str:
    """`clean` each line of a multi-line text (a page's innerText), keeping the line breaks."""
    return "\n".join(clean(line) for line in text.replace("\r", "\n").split("\n"))


def scrub(text: str, secrets: Iterable[Secret | None] = ()) -> str:
    """`clean` text with every secret's value replaced, whatever the text's origin."""
    if _CONTROLS.search(text) is not None:
        text = clean(text)  # first: an escape sequence inside the key must not hide it
    for secret in secrets:
        if secret is not None and secret.reveal():
            text = text.replace(secret.reveal(), REDACTED)
    return text


def dumps(doc: Any, secrets: Iterable[Secret | None] = ()) -> str:
    """`doc` as JSON text with every string in it scrubbed.

    Serialised once and checked as a whole first: a large document (a year of `history`) with
    nothing to scrub, the usual case, is not walked string by string.
    """
    secrets = list(secrets)
    text = json.dumps(doc, ensure_ascii=False)
    # A secret as it stands in JSON text: a quote or a backslash in it is escaped there.
    values = [json.dumps(s.reveal(), ensure_ascii=False)[1:-1] for s in secrets if s and s.reveal()]
    unsafe = (
        any(e in text for e in _JSON_ESCAPES)
        or "\x7f" in text
        or (not text.isascii() and _RAW_CONTROLS.search(text) is not None)
    )
    if not unsafe and not any(v in text for v in values):
        return text
    return json.dumps(scrub_all(doc, secrets), ensure_ascii=False)


def scrub_all(doc: Any, secrets: Iterable[Secret | None] = ()) -> Any:
    """`scrub` every string inside a JSON-like document (keys and values)."""
    secrets = list(secrets)
    if isinstance(doc, str):
        return scrub(doc, secrets)
    if isinstance(doc, dict):
        return {scrub_all(k, secrets): scrub_all(v, secrets) for k, v in doc.items()}
    if isinstance(doc, list | tuple):
        return [scrub_all(v, secrets) for v in doc]
    return doc
