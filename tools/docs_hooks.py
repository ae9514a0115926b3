"""mkdocs hooks: pages generated at build time, so they cannot go stale.

- cli.md: the command-line reference, from the argparse parser (tools/clidoc.py).
- changelog.md: CHANGELOG.md from the repository root.
- handout/*.html: the bundled examples rendered as HTML handouts (patient and clinician views).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# tools/clidoc.py: mkdocs puts this folder on the path while it loads the hooks.
from clidoc import cli_reference
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
HANDOUTS = (("stenosis", "patient"), ("stenosis", "clinician"), ("red-flag-emergency", "patient"))


def on_files(files: Files, config: Any) -> Files:
    import yaml

    import backrx
    from backrx.pack.examples import example_text
    from backrx.render import render

    files.append(File.generated(config, "cli.md", content=cli_reference()))
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    files.append(File.generated(config, "changelog.md", content=changelog))
    for name, view in HANDOUTS:
        rec = backrx.recommend(yaml.safe_load(example_text(name)))
        files.append(File.generated(config, f"handout/{name}-{view}.html",
                                    content=render(rec, "html", view=view)))
    return files
