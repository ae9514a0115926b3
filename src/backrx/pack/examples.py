"""The example profiles shipped with backrx (``backrx example NAME``)."""

from __future__ import annotations

from pathlib import Path

from backrx.pack.read import shipped_folder


def examples_path() -> Path:
    """The folder of the bundled example profiles (inside the wheel, or the checkout's examples/)."""
    return shipped_folder("_examples", "examples")


def example_names() -> list[str]:
    """The names of the bundled examples, sorted (file names without ``.yaml``)."""
    return sorted(p.stem for p in examples_path().glob("*.yaml"))


def example_text(name: str) -> str:
    """The YAML text of the bundled example ``name``.

    Raises ``ValueError`` naming the known examples when there is no such example.
    """
    names = example_names()
    if name not in names:
        raise ValueError(f"no example named {name!r}; the examples are: {', '.join(names)}")
    return (examples_path() / f"{name}.yaml").read_text(encoding="utf-8")
