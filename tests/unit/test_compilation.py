"""A judge compiled in place is found, and found stale once its source changes (ADR 22)."""

from __future__ import annotations

import importlib.machinery
import os
from pathlib import Path

import pytest

from projections import compilation


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for module in compilation.MODULES:
        (tmp_path / f"{module}.py").write_text("")
    monkeypatch.setattr(compilation, "_HERE", tmp_path)
    return tmp_path


def built(package: Path, module: str, *, at: float) -> None:
    path = package / f"{module}{importlib.machinery.EXTENSION_SUFFIXES[0]}"
    path.write_bytes(b"")
    os.utime(path, (at, at))


def test_plain_sources_are_neither_compiled_nor_stale(package: Path) -> None:
    assert compilation.compiled() == []
    assert compilation.stale() == []


def test_a_module_built_after_its_source_is_compiled_and_not_stale(package: Path) -> None:
    source = (package / "judge.py").stat().st_mtime
    built(package, "judge", at=source + 10)
    assert compilation.compiled() == ["judge"]
    assert compilation.stale() == []


def test_a_source_edited_after_its_build_is_stale(package: Path) -> None:
    source = (package / "rows.py").stat().st_mtime
    built(package, "rows", at=source - 10)
    assert compilation.stale() == ["rows"]
