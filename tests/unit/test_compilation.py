"""A judge compiled in place is found, and found stale once its source changes (ADR 22)."""

from __future__ import annotations

import importlib.machinery
from pathlib import Path

import pytest

from projections import compilation


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for module in compilation.MODULES:
        (tmp_path / f"{module}.py").write_text(f"# {module}\n")
    monkeypatch.setattr(compilation, "_HERE", tmp_path)
    return tmp_path


def built(package: Path, module: str) -> None:
    (package / f"{module}{importlib.machinery.EXTENSION_SUFFIXES[0]}").write_bytes(b"")


def test_plain_sources_are_neither_compiled_nor_stale(package: Path) -> None:
    assert compilation.compiled() == []
    assert compilation.stale() == []


def test_a_module_built_from_its_source_is_compiled_and_not_stale(package: Path) -> None:
    compilation.record()
    built(package, "judge")
    assert compilation.compiled() == ["judge"]
    assert compilation.stale() == []


def test_a_source_edited_after_its_build_is_stale(package: Path) -> None:
    compilation.record()
    built(package, "rows")
    (package / "rows.py").write_text("# rows, edited\n")
    assert compilation.stale() == ["rows"]


def test_a_build_with_no_record_of_its_sources_is_stale(package: Path) -> None:
    built(package, "facts")
    assert compilation.stale() == ["facts"]
