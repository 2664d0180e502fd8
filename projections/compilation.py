"""Which of the judge's modules run compiled (mypyc, ADR 22), and whether any is stale.

``setup.py`` compiles :data:`MODULES` when a build sets ``PETITION_COMPILE=1``, and records a
digest of each source it compiled (:data:`RECORD`). An in-place build leaves the compiled
modules beside their sources, where Python imports them in place of the ``.py`` files: a
source edited after that would silently not run, and :func:`stale` names it. (Digests, not
file times: a build whose output did not change keeps its older file.)
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import json
from pathlib import Path

MODULES = ("bulk", "facts", "judge", "periods", "rows")
"""The modules a rebuild spends its time in: decoding facts, judging cases, turning the
judgments into rows, and the rows into what PostgreSQL copies in."""

_HERE = Path(__file__).resolve().parent
RECORD = "compiled-sources.json"
"""Beside the modules: each compiled module's source digest, as it was compiled."""


def _built(module: str) -> list[Path]:
    return [
        _HERE / f"{module}{suffix}"
        for suffix in importlib.machinery.EXTENSION_SUFFIXES
        if (_HERE / f"{module}{suffix}").exists()
    ]


def _digest(module: str) -> str:
    return hashlib.sha256((_HERE / f"{module}.py").read_bytes()).hexdigest()


def record() -> None:
    """Note the sources about to be compiled (``setup.py``, before it compiles them)."""
    (_HERE / RECORD).write_text(json.dumps({m: _digest(m) for m in MODULES}, indent=1) + "\n")


def compiled() -> list[str]:
    """The modules of :data:`MODULES` with a compiled build beside their source."""
    return [module for module in MODULES if _built(module)]


def stale() -> list[str]:
    """The compiled modules whose source is not the one they were compiled from (or of
    which no build recorded one)."""
    try:
        recorded = json.loads((_HERE / RECORD).read_text())
    except (OSError, ValueError):
        recorded = {}
    return [m for m in compiled() if recorded.get(m) != _digest(m)]


def stale_reason() -> str | None:
    """Why the compiled build must not run here (a stale one), or None."""
    if not (found := stale()):
        return None
    return (
        f"projections/: {', '.join(found)} compiled from other sources than these: build "
        "them again (PETITION_COMPILE=1 python setup.py build_ext --inplace) or delete "
        "their .so files"
    )
