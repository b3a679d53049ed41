"""A usage page as heavy as claude.ai's, for the stand-in site: an app shell whose ~3 MB script
works for a while, then asks the JSON endpoint and renders the usage panel from its answer.

The shell also loads a web font and a couple of dozen images, as the real page does. When the
endpoint fails, the app renders the numbers embedded in the shell, so the page text alone can
still carry a run (the scraper's fallback). Everything is generated, deterministic, stdlib only.

    pages = write_heavy_site(directory)
    StandIn(pages["/settings/usage"], pages=pages, api=usage_answer())
"""

from __future__ import annotations

import json
import random
import struct
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

USAGE_PATH = "/settings/usage"
#: A font a Debian machine has; any file will do where it does not (the browser then fails to
#: decode it, which costs less, so the baseline only gets cheaper).
SYSTEM_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")

#: What the usage panel shows when the endpoint does not answer: the numbers the server put in
#: the page (the scraper's page fallback reads these).
EMBEDDED = {
    "session": {"percent": 47, "resets": "Resets in 2 hr 42 min"},
    "weekly": [
        {"label": "All models", "percent": 31, "resets": "Resets Thu 7:00 AM"},
        {"label": "Sonnet only", "percent": 10, "resets": "Resets Sat 12:00 PM"},
    ],
}

SHELL = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Settings - Claude</title>
<link rel="stylesheet" href="/static/app.css">
<script defer src="/static/app.js"></script>
<script id="embedded" type="application/json">{embedded}</script>
</head>
<body>
<div id="root"><div class="spinner" aria-busy="true">Loading…</div></div>
<div class="gallery">{images}</div>
</body>
</html>
"""

CSS = """@font-face { font-family: "Stand-in Sans"; src: url("/static/font.ttf") format("truetype");
  font-display: block; }
body { margin: 0; font: 14px/1.4 "Stand-in Sans", sans-serif; display: flex; }
nav { width: 240px; padding: 12px; } main { flex: 1; padding: 24px; }
.row { display: grid; grid-template-columns: 200px 1fr 80px; gap: 12px; margin: 12px 0; }
.bar { height: 8px; background: #e8e6dc; } .bar > div { height: 100%; background: #3d6fd9; }
.gallery img { width: 96px; height: 96px; }
"""

#: The app: fetch the organizations and the usage, render the panel (or the embedded numbers).
APP = r"""
function pickOrg(orgs) {
  const chat = orgs.filter((o) => (o.capabilities || []).includes("chat"));
  return (chat[0] || orgs[0] || {}).uuid;
}
function resetsText(at, countdown) {
  if (!at) return "";
  const when = new Date(at), ms = when - Date.now();
  if (countdown && ms < 864e5) {
    const h = Math.floor(ms / 36e5), m = Math.floor((ms % 36e5) / 6e4);
    return "Resets in " + (h ? h + " hr " : "") + m + " min";
  }
  const day = when.toLocaleDateString("en-US", {weekday: "short"});
  const time = when.toLocaleTimeString("en-US", {hour: "numeric", minute: "2-digit"});
  return "Resets " + day + " " + time;
}
function fromApi(usage) {
  const rows = usage.limits || [];
  const session = rows.find((r) => r.kind === "session");
  const weekly = rows.filter((r) => r.kind !== "session").map((r) => ({
    label: r.kind === "weekly_all" ? "All models" : r.scope.model.display_name + " only",
    percent: r.percent, resets: resetsText(r.resets_at, false)}));
  return {session: {percent: session.percent, resets: resetsText(session.resets_at, true)}, weekly};
}
function row(label, r) {
  return '<div class="row"><div><div>' + label + '</div><div>' + r.resets + '</div></div>' +
    '<div class="bar" role="meter" aria-valuenow="' + r.percent + '"><div style="width:' +
    r.percent + '%"></div></div><div>' + r.percent + '% used</div></div>';
}
function render(data) {
  document.getElementById("root").innerHTML =
    '<nav aria-label="Sidebar"><a href="/new">New chat</a><div>Session 0% used</div></nav>' +
    '<main><h2>Plan usage limits</h2><div>Max (20x)</div>' + row("Current session", data.session) +
    '<h3>Weekly limits</h3>' + data.weekly.map((w) => row(w.label, w)).join("") +
    '<h3>Additional features</h3><div>Daily included routine runs 0 / 25</div></main>';
}
async function boot() {
  const get = async (path) => {
    const r = await fetch(path, {credentials: "include"});
    if (!r.ok) throw new Error(path + " " + r.status);
    return r.json();
  };
  try {
    const org = pickOrg(await get("/api/organizations"));
    render(fromApi(await get("/api/organizations/" + org + "/usage")));
  } catch (e) {
    render(JSON.parse(document.getElementById("embedded").textContent));
  }
}
"""


def _module(index: int, rng: random.Random) -> str:
    """One of the bundle's many modules: code that must be parsed, compiled and run."""
    words = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(360))
    return (
        f"M[{index}]=function(x){{var s={json.dumps(words)};var a=x|0;"
        f"for(var i={index % 7};i<s.length;i+=5){{a=(a*31+s.charCodeAt(i)+{index})|0}}"
        f"return a^{index}}};\n"
    )


def app_script(megabytes: float = 3.0, spin: int = 40_000_000) -> str:
    """The bundle: `megabytes` of modules, each run once at start-up, then `spin` rounds of
    arithmetic, then boot(). Measured at the defaults (CPU time of the browser tree, --dump-dom
    of the script alone vs an empty page): ~0.23 s to load, compile and run the modules, ~0.17 s
    of arithmetic: ~0.4 s of work before the app asks the endpoint."""
    rng = random.Random(19)  # noqa: S311 (stand-in content, not secrets)
    parts = ["var M=[];\n"]
    size, index = 0, 0
    while size < megabytes * 1_000_000:
        parts.append(_module(index, rng))
        size += len(parts[-1])
        index += 1
    parts.append(APP)
    parts.append(
        "(function(){var t0=performance.now(),acc=1;"
        "for(var i=0;i<M.length;i++)acc=M[i](acc);"
        f"for(var n=0;n<{spin};n++)acc=(acc*1103515245+n)|0;"
        "window.__work=acc;window.__workMs=performance.now()-t0;boot();})();\n"
    )
    return "".join(parts)


def _png(size: int, seed: int) -> bytes:
    """A `size`×`size` RGB PNG of noise (it does not compress: decoding costs what it weighs)."""
    rng = random.Random(seed)  # noqa: S311 (noise pixels)
    raw = b"".join(b"\0" + rng.randbytes(size * 3) for _ in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 1))
        + chunk(b"IEND", b"")
    )


def write_heavy_site(
    directory: Path, *, megabytes: float = 3.0, spin: int = 40_000_000, images: int = 24
) -> dict[str, Path]:
    """Write the shell, the bundle, the stylesheet, the font and the images into `directory`;
    returns the StandIn `pages` mapping (path on the site → file)."""
    directory.mkdir(parents=True, exist_ok=True)
    pages: dict[str, Path] = {}

    def put(path: str, name: str, body: bytes) -> None:
        target = directory / name
        target.write_bytes(body)
        pages[path] = target

    tags = "".join(f'<img src="/static/img-{i}.png" alt="">' for i in range(images))
    embedded = json.dumps(EMBEDDED)
    put(USAGE_PATH, "usage.html", SHELL.format(embedded=embedded, images=tags).encode())
    put("/static/app.js", "app.js", app_script(megabytes, spin).encode())
    put("/static/app.css", "app.css", CSS.encode())
    font = SYSTEM_FONT.read_bytes() if SYSTEM_FONT.is_file() else b"\0" * 700_000
    put("/static/font.ttf", "font.ttf", font)
    for i in range(images):
        put(f"/static/img-{i}.png", f"img-{i}.png", _png(160, i))
    return pages


def usage_answer(now: datetime | None = None) -> dict[str, object]:
    """The usage endpoint's answer the app renders: session, all models, Sonnet."""
    now = now or datetime.now(UTC)

    def at(delta: timedelta) -> str:
        return (now + delta).isoformat().replace("+00:00", "Z")

    return {
        "limits": [
            {"kind": "session", "percent": 47, "resets_at": at(timedelta(hours=2, minutes=42))},
            {"kind": "weekly_all", "percent": 31, "resets_at": at(timedelta(days=3))},
            {
                "kind": "weekly_scoped",
                "percent": 10,
                "resets_at": at(timedelta(days=3, hours=5)),
                "scope": {"model": {"display_name": "Sonnet"}, "surface": None},
            },
        ]
    }
