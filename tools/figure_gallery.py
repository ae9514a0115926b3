"""Write an HTML page with the figure of every exercise of a pack, to look at them in a browser.

    python tools/figure_gallery.py [--pack rules] [--locale es] [--out /tmp/gallery.html]
    chromium --headless --no-sandbox --screenshot=/tmp/g.png --window-size=1400,4000 file:///tmp/gallery.html

With --per-page 12 --page N it writes one page of the catalog, to look at the figures a page at a time.
"""

from __future__ import annotations

import argparse
from html import escape
from pathlib import Path

from backrx.pack.load import read_pack
from backrx.render.context import pack_texts
from backrx.render.figures import figure_for


def main() -> None:
    """Write the gallery page."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pack", default=None, help="pack folder (the bundled pack when left out)")
    parser.add_argument("--locale", default="en")
    parser.add_argument("--out", default="/tmp/gallery.html")
    parser.add_argument("--only", default="", help="comma-separated exercise ids (all when empty)")
    parser.add_argument("--columns", type=int, default=2)
    parser.add_argument("--per-page", type=int, default=0, help="figures a page (0: all on one page)")
    parser.add_argument("--page", type=int, default=1, help="which page, from 1")
    args = parser.parse_args()
    pack = read_pack(args.pack)
    texts = pack_texts(pack, args.locale)
    only = [o for o in args.only.split(",") if o]
    cells = []
    chosen = [eid for eid in pack.exercises if not only or eid in only]
    if args.per_page:
        chosen = chosen[(args.page - 1) * args.per_page:args.page * args.per_page]
    for eid in chosen:
        svg = figure_for(pack, eid, texts.get)
        name = texts.get(f"plain.{eid}.name") or eid
        summary = texts.get(f"plain.{eid}.summary") or ""
        cells.append(f'<figure><figcaption><b>{escape(name)}</b> <code>{escape(eid)}</code><br>'
                     f'{escape(summary)}</figcaption>{svg or "<p>(advice: no figure)</p>"}</figure>')
    style = ("body{font-family:sans-serif;margin:8px;display:grid;gap:6px;"
             f"grid-template-columns:repeat({args.columns},minmax(0,1fr))}}"
             "figure{margin:0;border:1px solid #ddd;padding:4px} figcaption{font-size:12px}"
             " svg{width:100%;height:auto}")
    Path(args.out).write_text(f"<!doctype html><html lang=\"{escape(args.locale)}\"><meta charset=\"utf-8\">"
                              f"<style>{style}</style><body>{''.join(cells)}</body></html>", encoding="utf-8")
    print(f"{len(cells)} figures -> {args.out}")


if __name__ == "__main__":
    main()
