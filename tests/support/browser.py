"""Headless Chromium for the report tests: lay a page out in a real browser and measure it.

No new dependency: Chromium's own ``--dump-dom`` runs a script injected into a copy of the page
(the report itself never carries one) and the script writes what it measured into the DOM, which
Chromium prints. ``--screenshot`` draws the same page to a PNG for a person to look at.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

# How the machines this project runs on start Chromium as root, with no network and no GPU.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--hide-scrollbars",
]
MARK = "cwb-layout"

# What the page measures about itself once laid out. A text's box is its glyph box in page
# coordinates (getBoundingClientRect, which applies a rotate() transform; getBBox does not).
PROBE = """
<script>
(function () {
  const EPS = 0.5;
  const column = document.body.getBoundingClientRect();
  const style = getComputedStyle(document.body);
  const right = column.right - parseFloat(style.paddingRight);
  const found = {page_width: innerWidth, column_right: right,
                 scroll_width: document.documentElement.scrollWidth, overflow: [], svgs: []};
  function clipped(el) {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (p instanceof SVGElement && p.tagName !== "svg") continue;
      if (p.tagName === "svg") return true;
      const o = getComputedStyle(p).overflowX;
      if (o === "auto" || o === "scroll" || o === "hidden" || o === "clip") return true;
    }
    return false;
  }
  function describe(el) {
    const text = (el.textContent || "").trim().replace(/\\s+/g, " ").slice(0, 80);
    return el.tagName.toLowerCase() + (el.className && el.className.baseVal === undefined
      ? "." + el.className : "") + ": " + text;
  }
  for (const el of document.body.querySelectorAll("*")) {
    if (el.tagName === "SCRIPT" || el.closest("#MARK") || clipped(el)) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.right > right + EPS || r.left < column.left - EPS) {
      found.overflow.push({element: describe(el), left: r.left, right: r.right});
    }
  }
  document.querySelectorAll("svg").forEach(function (svg, index) {
    const box = svg.getBoundingClientRect();
    const title = svg.getAttribute("aria-label") || ("svg " + index);
    const texts = Array.from(svg.querySelectorAll("text")).map(function (t) {
      const r = t.getBoundingClientRect();
      return {text: t.textContent, left: r.left, right: r.right, top: r.top, bottom: r.bottom};
    });
    const overlaps = [], outside = [];
    for (let i = 0; i < texts.length; i++) {
      const a = texts[i];
      if (a.left < box.left - EPS || a.right > box.right + EPS ||
          a.top < box.top - EPS || a.bottom > box.bottom + EPS) outside.push(a.text);
      for (let j = i + 1; j < texts.length; j++) {
        const b = texts[j];
        const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
        const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
        if (w > EPS && h > EPS) overlaps.push([a.text, b.text]);
      }
    }
    found.svgs.push({title: title, texts: texts.length, overlaps: overlaps, outside: outside,
                     width: box.width, height: box.height});
  });
  found.height = document.documentElement.scrollHeight;
  const out = document.createElement("pre");
  out.id = "MARK";
  out.textContent = JSON.stringify(found);
  document.body.appendChild(out);
})();
</script>
""".replace("MARK", MARK)


def chromium() -> str | None:
    """The Chromium to use: ``$CWB_CHROMIUM``, else the first of the usual names on PATH."""
    given = os.environ.get("CWB_CHROMIUM")
    if given:
        return given if Path(given).is_file() else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _run(args: list[str], timeout: float = 60) -> str:
    exe = chromium()
    if exe is None:
        raise RuntimeError("no Chromium on this machine")
    with tempfile.TemporaryDirectory(prefix="cwb-chromium-") as profile:
        done = subprocess.run(
            [exe, *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"chromium exited {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


def _page(page: str, folder: Path, probe: bool) -> Path:
    if probe:
        at = page.rfind("</body>")
        page = page[:at] + PROBE + page[at:] if at >= 0 else page + PROBE
    path = folder / "page.html"
    path.write_text(page)
    return path


def measure(page: str, width: int = 1024) -> dict[str, Any]:
    """Lay ``page`` (HTML text) out in a window ``width`` pixels wide; what the probe found:
    ``overflow`` (elements past the page's column), ``scroll_width``, and per SVG its text
    labels that overlap each other (``overlaps``) or stick out of the drawing (``outside``)."""
    with tempfile.TemporaryDirectory(prefix="cwb-page-") as folder:
        path = _page(page, Path(folder), probe=True)
        dom = _run([f"--window-size={width},900", "--dump-dom", path.as_uri()])
    start = dom.find(f'<pre id="{MARK}">')
    if start < 0:
        raise RuntimeError(f"the probe wrote nothing; chromium printed: {dom[-1000:]}")
    start += len(f'<pre id="{MARK}">')
    return json.loads(html.unescape(dom[start : dom.index("</pre>", start)]))


def screenshot(page: str, png: Path, width: int = 1024, height: int | None = None) -> Path:
    """The whole page drawn to ``png`` (``height``: the page's own, unless given)."""
    height = max(height or int(measure(page, width)["height"]) + 16, 400)  # shorter draws blank
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cwb-page-") as folder:
        path = _page(page, Path(folder), probe=False)
        _run([f"--window-size={width},{height}", f"--screenshot={png}", path.as_uri()])
    return png
