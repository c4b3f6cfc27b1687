"""Output paths stay inside their folder whatever a label says; writes are atomic."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from helpers.core.files import atomic_path, path_inside, safe_component, write_json_atomic, write_text_atomic


@pytest.mark.parametrize("name", ["..", "../../etc/passwd", "/abs/path", "a/../../b", "..\\..\\win", ".hidden", "", "nul\x00byte"])
def test_hostile_labels_cannot_leave_the_root(tmp_path: Path, name: str) -> None:
    path = path_inside(tmp_path, "aligned", name, "x.png")
    assert path.is_relative_to(tmp_path.resolve())
    assert "/" not in safe_component(name) and safe_component(name) not in ("", ".", "..")


def test_unicode_survives() -> None:
    assert safe_component("Zoë Ünïcode") == "Zoë_Ünïcode"
    assert safe_component("фото.jpg") == "фото.jpg"


def test_atomic_write_leaves_old_content_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    write_text_atomic(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("partial")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_json_is_strict_with_nan_as_null(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    write_json_atomic(target, {"history": [{"val_tar_lq": math.nan, "auc": 0.5}], "ci": (math.inf, 1.0)})
    text = target.read_text(encoding="utf-8")
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"history": [{"val_tar_lq": None, "auc": 0.5}], "ci": [None, 1.0]}


def test_atomic_files_get_the_usual_permissions(tmp_path: Path) -> None:
    target = tmp_path / "metrics.json"
    write_json_atomic(target, {"auc": 0.9})
    assert target.stat().st_mode & 0o777 == 0o666 & ~_current_umask()


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
