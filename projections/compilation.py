"""Which of the judge's modules run compiled (mypyc, ADR 22), and whether any is stale.

``setup.py`` compiles :data:`MODULES` when a build sets ``PETITION_COMPILE=1``; an in-place
build leaves the compiled modules beside their sources, where Python imports them in place of
the ``.py`` files. Edited after that, a source would silently not run: :func:`stale` names it.
"""

from __future__ import annotations

import importlib.machinery
from pathlib import Path

MODULES = ("bulk", "facts", "judge", "periods", "rows")
"""The modules a rebuild spends its time in: decoding facts, judging cases, turning the
judgments into rows, and the rows into what PostgreSQL copies in."""

_HERE = Path(__file__).resolve().parent


def _built(module: str) -> list[Path]:
    return [
        _HERE / f"{module}{suffix}"
        for suffix in importlib.machinery.EXTENSION_SUFFIXES
        if (_HERE / f"{module}{suffix}").exists()
    ]


def compiled() -> list[str]:
    """The modules of :data:`MODULES` with a compiled build beside their source."""
    return [module for module in MODULES if _built(module)]


def stale() -> list[str]:
    """The compiled modules whose source changed after they were built."""
    found = []
    for module in MODULES:
        source = (_HERE / f"{module}.py").stat().st_mtime
        if any(built.stat().st_mtime < source for built in _built(module)):
            found.append(module)
    return found
