"""Text from outside (a server, a page, a file) made safe to print and store.

A terminal obeys escape sequences in what it prints (retitle the window, clear the screen, fake a
log line), and a server may echo the API key it was sent. Every such text passes `scrub` before
it reaches stderr, the `--json` result or `state.json`.
"""

from __future__ import annotations

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


def clean(text: str) -> str:
    """`text` without escape sequences or control characters; line breaks become spaces."""
    return _CONTROLS.sub(" ", _ESCAPES.sub("", text))


def clean_lines(text: str) -> str:
    """`clean` each line of a multi-line text (a page's innerText), keeping the line breaks."""
    return "\n".join(clean(line) for line in text.replace("\r", "\n").split("\n"))


def scrub(text: str, secrets: Iterable[Secret | None] = ()) -> str:
    """`clean` text with every secret's value replaced, whatever the text's origin."""
    text = clean(text)  # first: an escape sequence inside the key must not hide it
    for secret in secrets:
        if secret is not None and secret.reveal():
            text = text.replace(secret.reveal(), REDACTED)
    return text


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
