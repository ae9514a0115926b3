"""The HTML handout in a real browser: headless Chromium renders each example to PNG and PDF with
no console errors, the DOM holds every prescription, and a basic accessibility check passes."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.browser import Page, browser

import backrx
from backrx.pack.examples import example_names, example_text
from backrx.render import TEMPLATES, render

BROWSER = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser")) if p), None)
if BROWSER is None and os.environ.get("CI"):
    raise RuntimeError("CI needs Debian's chromium for the browser tests (.ci/run installs it)")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(BROWSER is None, reason="headless chromium is not installed")]

# Measures every visible text's contrast in the browser (computed colours, effective background)
# and the document's structure; the result lands in the DOM the tests read.
A11Y_SCRIPT = """
<script>
(function () {
  function rgb(s) { var m = s.match(/[\\d.]+/g) || [0, 0, 0, 0]; return m.map(Number); }
  function lum(c) {
    var v = c.slice(0, 3).map(function (x) { x /= 255;
      return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); });
    return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
  }
  function background(el) {
    for (var e = el; e; e = e.parentElement) {
      var c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length < 4 || c[3] > 0) { return c; }
    }
    return [255, 255, 255, 1];
  }
  var worst = [], walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    var node = walker.currentNode, el = node.parentElement;
    if (!node.textContent.trim() || !el || el.closest("script,style,title")) { continue; }
    var st = getComputedStyle(el);
    var fg = rgb(el instanceof SVGElement ? st.fill : st.color), bg = background(el);
    var a = lum(fg), b = lum(bg), ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) { worst.push({text: node.textContent.trim().slice(0, 40), ratio: ratio}); }
  }
  var heads = Array.prototype.map.call(document.querySelectorAll("h1,h2,h3,h4,h5,h6"),
                                       function (h) { return Number(h.tagName[1]); });
  var noAlt = Array.prototype.filter.call(document.querySelectorAll("img"),
                                          function (i) { return !i.hasAttribute("alt"); }).length;
  var unnamed = Array.prototype.filter.call(document.querySelectorAll("[role=img]"), function (e) {
    var title = e instanceof SVGElement && e.querySelector(":scope > title");  // SVG's own name
    return !e.getAttribute("aria-label") && !e.getAttribute("aria-labelledby") &&
           !(title && title.textContent.trim()); }).length;
  var out = document.createElement("pre");
  out.id = "a11y-result";
  out.textContent = JSON.stringify({lang: document.documentElement.lang, headings: heads,
                                    noAlt: noAlt, unnamed: unnamed, lowContrast: worst});
  document.body.appendChild(out);
})();
</script>
"""


def open_page(page: Path, **outputs: Any) -> Page:
    """Load a local page in this process's headless Chromium (one browser, a fresh tab per page;
    see tests/browser.py): its DOM and console, and a PDF or screenshot if asked for."""
    assert BROWSER is not None
    return browser(BROWSER).open(page, **outputs)


def _pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf))


def _media_box(pdf: bytes) -> tuple[float, float]:
    found = re.search(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)
    assert found is not None
    return float(found.group(1)), float(found.group(2))


#: Every bundled example, and two of them in Spanish ("name@es").
HANDOUTS = [*example_names(), "stenosis@es", "red-flag-emergency@es"]


@pytest.fixture(scope="module")
def handouts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[backrx.Recommendation, Path]]:
    """Every bundled example, recommended and written as a patient HTML handout."""
    folder = tmp_path_factory.mktemp("handouts")
    out = {}
    for name in HANDOUTS:
        example, _, locale = name.partition("@")
        rec = backrx.recommend(yaml.safe_load(example_text(example)), locale=locale or "en")
        page = folder / f"{name}.html"
        page.write_text(render(rec, "html", view="patient"), encoding="utf-8")
        out[name] = (rec, page)
    return out


def test_console_detection_catches_a_page_error(tmp_path: Path) -> None:
    """The console check sees console.error output and uncaught exceptions (so a clean run means clean)."""
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html lang="en"><body><script>console.error("boom");'
                    "notDefined();</script></body></html>", encoding="utf-8")
    messages = open_page(page).console
    assert any("boom" in m for m in messages) and any("notDefined" in m for m in messages)


@pytest.mark.parametrize("name", HANDOUTS)
def test_example_renders_to_png_and_pdf_without_console_errors(
    handouts: dict[str, tuple[backrx.Recommendation, Path]], name: str
) -> None:
    """Each example's patient handout renders to a PNG and to an A4 PDF of at most 4 pages (the
    current phase only), with nothing written to the console."""
    _, page = handouts[name]
    png, pdf = page.with_suffix(".png"), page.with_suffix(".pdf")
    shot = open_page(page, window=(900, 1800), screenshot=png)
    printed = open_page(page, pdf=pdf)
    assert shot.console + printed.console == []
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    data = pdf.read_bytes()
    assert data[:5] == b"%PDF-"
    assert 1 <= _pages(data) <= 4
    width, height = _media_box(data)
    assert abs(width - 595) < 2 and abs(height - 842) < 2  # A4 in points


def test_letter_paper_prints_on_letter(tmp_path: Path) -> None:
    """--paper letter gives US Letter pages (612 x 792 points) in the printed PDF."""
    rec = backrx.recommend(yaml.safe_load(example_text("stenosis")))
    page = tmp_path / "letter.html"
    page.write_text(render(rec, "html", paper="letter"), encoding="utf-8")
    pdf = tmp_path / "letter.pdf"
    open_page(page, pdf=pdf)
    width, height = _media_box(pdf.read_bytes())
    assert abs(width - 612) < 2 and abs(height - 792) < 2


def rec_locale(locale: str) -> dict[str, str]:
    """The bundled pack's flattened locale file (empty for English)."""
    return dict(backrx.load_rules().pack.locales.get(locale, {})) if locale else {}


def _dom(page: Path) -> str:
    return open_page(page).dom


@pytest.mark.parametrize("name", HANDOUTS)
def test_dom_holds_every_prescription(handouts: dict[str, tuple[backrx.Recommendation, Path]],
                                      name: str) -> None:
    """The rendered DOM holds the current phase's exercises, in order, each with its plain name, a
    drawn figure and its steps, after the safety net; advice is listed, not drawn."""
    rec, page = handouts[name]
    dom = _dom(page)
    if rec.program is None:
        assert "data-exercise" not in dom and 'id="safety-net"' in dom
        return
    texts = backrx.load_rules().pack.texts
    phase = next(ph for ph in rec.program.phases if ph.id == rec.program.current_phase)
    section = dom[dom.index(f'id="phase-{phase.id}"'):]
    section = section[:section.index("</section>")]
    exercises = [p for p in phase.prescriptions if p.exercise.category != "education"]
    assert re.findall(r'<article[^>]*data-exercise="([^"]+)"', section) == [p.exercise.id for p in exercises]
    assert dom.index('id="safety-net"') < dom.index("data-exercise=")
    locale = name.partition("@")[2]
    words = {**texts, **{k.removeprefix("text."): v for k, v in rec_locale(locale).items()}}
    for p in exercises:
        article = section[section.index(f'data-exercise="{p.exercise.id}"'):]
        article = article[:article.index("</article>")]
        assert words[f"plain.{p.exercise.id}.name"].replace("&", "&amp;") in article
        assert "<ol" in article and 'class="backrx-figure"' in article


@pytest.mark.parametrize("name", HANDOUTS)
def test_handout_passes_a_basic_accessibility_check(
    handouts: dict[str, tuple[backrx.Recommendation, Path]], name: str, tmp_path: Path
) -> None:
    """lang is set, headings start at h1 and never skip a level, every image has alt text, and every
    text's computed contrast is at least 4.5:1 (WCAG AA)."""
    _, page = handouts[name]
    probe = tmp_path / page.name
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", A11Y_SCRIPT + "</body>"),
                     encoding="utf-8")
    dom = _dom(probe)
    found = re.search(r'<pre id="a11y-result">(.*?)</pre>', dom, re.S)
    assert found is not None
    result: dict[str, Any] = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert result["lang"] == (name.partition("@")[2] or "en")
    heads = result["headings"]
    assert heads[0] == 1 and heads.count(1) == 1
    assert all(b - a <= 1 for a, b in itertools.pairwise(heads))
    assert result["noAlt"] == 0 and result["unnamed"] == 0
    assert result["lowContrast"] == []


def _hex(value: str) -> tuple[float, float, float]:
    value = value.lstrip("#")
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))


def _contrast(a: str, b: str) -> float:
    def lum(c: tuple[float, float, float]) -> float:
        ch = [x / 255 for x in c]
        ch = [x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4 for x in ch]
        return 0.2126 * ch[0] + 0.7152 * ch[1] + 0.0722 * ch[2]

    hi, lo = sorted((lum(_hex(a)), lum(_hex(b))), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_css_colour_pairs_meet_wcag_aa() -> None:
    """The template's declared text/background colour pairs all reach 4.5:1, read from the CSS."""
    css = (TEMPLATES / "handout.css").read_text(encoding="utf-8")
    colours = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})", css))
    pairs = [("text", "paper"), ("muted", "paper"), ("accent", "paper"), ("alert", "alert-soft"),
             ("text", "alert-soft"), ("text", "accent-soft"), ("muted", "accent-soft"),
             ("accent", "accent-soft")]
    low = {f"{a} on {b}": round(_contrast(colours[a], colours[b]), 2) for a, b in pairs
           if _contrast(colours[a], colours[b]) < 4.5}
    assert low == {}


def test_accessibility_probe_flags_a_bad_page(tmp_path: Path) -> None:
    """The probe reports light grey text, a skipped heading level, an image without alt text and a
    drawing (role img) with no name, while an SVG named by its own title passes."""
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><body><h1>T</h1><h3 style="color:#bbbbbb">grey</h3>'
                    '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">'
                    '<svg role="img"><title> </title></svg><svg role="img"><title>Cat-camel</title></svg>'
                    + A11Y_SCRIPT + "</body></html>", encoding="utf-8")
    found = re.search(r'<pre id="a11y-result">(.*?)</pre>', _dom(page), re.S)
    assert found is not None
    result = json.loads(found.group(1).replace("&quot;", '"'))
    assert result["lang"] == "" and result["headings"] == [1, 3] and result["noAlt"] == 1
    assert result["unnamed"] == 1
    assert [item["text"] for item in result["lowContrast"]] == ["grey"]
