"""Extended Yale B as distributed: its known defects are reported, never touched."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import scan
from helpers.datasets import resolve_dataset


@pytest.fixture(scope="module")
def yaleb_scan():
    import os

    mirror = os.environ.get("LQFACE_MIRROR")
    if not mirror or not (Path(mirror) / "datasets" / "yaleb").is_dir():
        pytest.skip("LQFACE_MIRROR with datasets/yaleb is needed")
    root = resolve_dataset("yaleb")
    return root, scan.scan_dataset(root)


def test_defects_are_classified(yaleb_scan) -> None:
    _, frame = yaleb_scan
    bad = frame[frame["path"].str.endswith(".bad")]
    assert len(bad) == 18 and (bad["status"] == scan.MARKED_BAD).all()
    junk = frame[frame["path"].str.endswith((".info", "WS_FTP.LOG", "DEADJOE"))]
    assert len(junk) > 0 and (junk["status"].isin([scan.NOT_IMAGE, scan.NO_IDENTITY])).all()
    assert (junk["reason"] != "").all()


def test_usable_images_are_the_pgm_crops_and_ambient_shots(yaleb_scan) -> None:
    _, frame = yaleb_scan
    ok = frame[frame["status"] == scan.OK]
    assert ok["path"].str.endswith(".pgm").all()
    assert ok["identity"].nunique() == 38
    assert len(ok) == 2414 + 38  # cropped poses plus one ambient shot per person
    assert (ok["conversions"] == "greyscale to RGB").all()
    ambient = ok[ok["path"].str.contains("Ambient")]
    assert len(ambient) == 38 and (640, 480) in set(zip(ambient["width"], ambient["height"]))
