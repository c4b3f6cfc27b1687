"""Scanning: every kind of bad input gets a status and a reason; usable oddities are converted."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.core.cache import JsonlCache
from helpers.data import scan
from tests.conftest import face_like, save, tree_checksums


def _row(frame, path: str):
    return frame.set_index("path").loc[path]


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    root = tmp_path / "dataset"
    rgb = face_like(1)
    save(root / "alice" / "ok.jpg", rgb, quality=90)
    data = (root / "alice" / "ok.jpg").read_bytes()
    (root / "alice" / "copy.jpg").write_bytes(data)  # exact duplicate
    (root / "alice" / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (root / "alice" / "empty.jpg").write_bytes(b"")
    (root / "alice" / "notes.txt").write_text("not an image")
    (root / "alice" / "capture.pgm.bad").write_bytes((root / "alice" / "ok.jpg").read_bytes())
    save(root / "bob" / "grey.png", rgb[..., 0])
    sixteen = rgb[..., 0].astype(np.uint16) * 257
    Image.fromarray(sixteen).save(root / "bob" / "sixteen.png")
    save(root / "bob" / "alpha.png", np.dstack([rgb, np.full(rgb.shape[:2], 200, np.uint8)]))
    Image.fromarray(rgb).convert("P").save(root / "bob" / "palette.png")
    Image.fromarray(rgb).convert("CMYK").save(root / "bob" / "cmyk.jpg")
    rotated = Image.fromarray(rgb[:, :64])  # 128x64, tagged "rotate 90 CW"
    exif = rotated.getexif()
    exif[0x0112] = 6
    rotated.save(root / "bob" / "exif.jpg", exif=exif)
    save(root / "Zoë Ünïcode" / "фото 1.jpg", face_like(2))
    (root / "stray.jpg").write_bytes(data)
    return root


def test_every_bad_input_gets_a_status_and_reason(messy: Path) -> None:
    frame = scan.scan_dataset(messy)
    expected = {
        "alice/truncated.jpg": scan.CORRUPT,
        "alice/empty.jpg": scan.EMPTY,
        "alice/notes.txt": scan.NOT_IMAGE,
        "alice/capture.pgm.bad": scan.MARKED_BAD,
        "stray.jpg": scan.NO_IDENTITY,
    }
    for path, status in expected.items():
        row = _row(frame, path)
        assert row["status"] == status, path
        assert row["reason"], path
    # the first copy in sorted path order is kept, the other is the duplicate
    assert _row(frame, "alice/copy.jpg")["status"] == scan.OK
    assert _row(frame, "alice/ok.jpg")["status"] == scan.DUPLICATE
    assert "alice/copy.jpg" in _row(frame, "alice/ok.jpg")["reason"]


@pytest.mark.parametrize(
    ("path", "note"),
    [
        ("bob/grey.png", "greyscale to RGB"),
        ("bob/sixteen.png", "16-bit greyscale to 8-bit RGB"),
        ("bob/alpha.png", "alpha composited on black"),
        ("bob/palette.png", "palette to RGB"),
        ("bob/cmyk.jpg", "CMYK to RGB"),
        ("bob/exif.jpg", "exif orientation applied"),
    ],
)
def test_unusual_modes_are_converted_and_recorded(messy: Path, path: str, note: str) -> None:
    row = _row(scan.scan_dataset(messy), path)
    assert row["status"] == scan.OK
    assert note in row["conversions"]


def test_conversions_give_rgb_uint8_with_the_right_content(messy: Path) -> None:
    sixteen = scan.load_rgb(messy / "bob" / "sixteen.png")
    grey = scan.load_rgb(messy / "bob" / "grey.png")
    assert sixteen.dtype == np.uint8 and sixteen.shape == grey.shape == (128, 128, 3)
    assert np.abs(sixteen.astype(int) - grey.astype(int)).max() <= 1
    assert scan.load_rgb(messy / "bob" / "exif.jpg").shape == (64, 128, 3)  # rotated upright


def test_unicode_names_and_identities(messy: Path) -> None:
    row = _row(scan.scan_dataset(messy), "Zoë Ünïcode/фото 1.jpg")
    assert row["status"] == scan.OK and row["identity"] == "Zoë Ünïcode"


def test_scan_never_touches_the_dataset(messy: Path) -> None:
    before = tree_checksums(messy)
    scan.scan_dataset(messy, JsonlCache(messy.parent / "cache.jsonl"))
    assert tree_checksums(messy) == before


def test_cache_skips_decoding_and_gives_the_same_answer(messy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = JsonlCache(tmp_path / "scan.jsonl")
    first = scan.scan_dataset(messy, cache)
    monkeypatch.setattr(scan, "decode_rgb", lambda *a, **k: pytest.fail("decoded again despite the cache"))
    second = scan.scan_dataset(messy, JsonlCache(tmp_path / "scan.jsonl"))
    assert first.equals(second)


def test_torn_cache_line_is_ignored(tmp_path: Path) -> None:
    cache = JsonlCache(tmp_path / "c.jsonl")
    cache.put("a", {"x": 1})
    with open(tmp_path / "c.jsonl", "a") as handle:
        handle.write('{"key": "b", "val')
    reloaded = JsonlCache(tmp_path / "c.jsonl")
    assert reloaded.get("a") == {"x": 1} and "b" not in reloaded


def test_decode_rejects_truncated_bytes_that_opencv_would_accept() -> None:
    buffer = io.BytesIO()
    Image.fromarray(face_like(3)).save(buffer, format="JPEG", quality=90)
    with pytest.raises(scan.UndecodableImage) as info:
        scan.decode_rgb(buffer.getvalue()[:-400], "x.jpg")
    assert info.value.status == scan.CORRUPT and "x.jpg" in str(info.value)
