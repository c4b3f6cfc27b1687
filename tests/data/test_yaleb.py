"""Extended Yale B as distributed: its known defects are reported, never touched."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.data import scan
from helpers.data.datasets import resolve_dataset


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


def test_tight_crops_are_detected_through_the_border_retry(yaleb_scan) -> None:
    from helpers.data.faces import FaceDetector
    from helpers.models.packs import resolve_detector

    root, frame = yaleb_scan
    detector = FaceDetector(resolve_detector("scrfd_2.5g")[0])
    frontal = frame[frame["path"].str.endswith("_P00A+000E+00.pgm")].head(4)
    for path in frontal["path"]:
        image = scan.load_rgb(root / path)
        face = detector.detect(image)
        assert face is not None and face.padded, path
        xs, ys = face.kps[0::2], face.kps[1::2]
        assert min(xs) >= 0 and max(xs) <= image.shape[1] and min(ys) >= 0 and max(ys) <= image.shape[0], path
