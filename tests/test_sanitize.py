"""Text from outside made safe: no control character and no secret survives, fast or slow path."""

from __future__ import annotations

import json

import pytest

from consolescrape import sanitize
from consolescrape.config import Secret


@pytest.mark.parametrize(
    "text", ["x\x7fy", "x\x1b]0;title\x07y", "x\x1b[2Jy", "x\ny", "x\x9by", "x\x00y"], ids=repr
)
def test_no_control_character_survives_the_json_result(text: str) -> None:
    shown = json.loads(sanitize.dumps({"message": text, "rows": [{"resetsIn": text}]}))
    for value in (shown["message"], shown["rows"][0]["resetsIn"]):
        assert value.startswith("x") and value.endswith("y")
        assert not any(ord(c) < 32 or 127 <= ord(c) <= 159 for c in value)


@pytest.mark.parametrize("key", ["sk-plain-1234", 'sk-"quoted"-1234', "sk-back\\slash-1234"])
def test_a_secret_is_redacted_however_json_escapes_it(key: str) -> None:
    text = sanitize.dumps({"error": f"server said: bad key {key}"}, [Secret(key)])
    assert key not in json.loads(text)["error"] and sanitize.REDACTED in text


def test_a_clean_document_is_printed_as_it_is() -> None:
    doc = {"rows": [{"limit": "allModels", "percentageUsed": 31, "resetsIn": "Thu 7:00 AM"}]}
    assert sanitize.dumps(doc, [Secret("sk-elsewhere")]) == json.dumps(doc, ensure_ascii=False)
