"""Real low-quality benchmark adapters on tiny copies built here in each set's own layout.

Every image is a solid colour whose red channel carries a code; the fake recogniser
puts code ``c`` at angle ``6c`` degrees on a circle, so every cosine, and therefore
every rank, follows from the codes alone (the expected numbers are worked out by hand).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from sklearn.metrics import roc_auc_score

from helpers.core import sources
from helpers.evaluation.metrics import roc, tar_of
from helpers.identification import realsets
from helpers.identification.realsets import BenchmarkMissing, available_benchmarks, evaluate_benchmark, locate
from tests.conftest import save

DEGREES_PER_CODE = 6


def tile(code: int, size: tuple[int, int] = (20, 16)) -> np.ndarray:
    """A solid image whose red channel encodes ``code`` (tiny, like the real crops)."""
    return np.full((*size, 3), (16 * code, 128, 128), dtype=np.uint8)


def angle_of(code: int) -> np.ndarray:
    theta = np.radians(DEGREES_PER_CODE * code)
    return np.array([np.cos(theta), np.sin(theta)])


class AngleRecogniser:
    """Embeds a crop as the unit vector at the angle of its colour code; records every call."""

    def __init__(self) -> None:
        self.images = 0
        self.flips: list[bool] = []

    def embed(self, crops_rgb: np.ndarray, flip: bool = False) -> np.ndarray:
        assert crops_rgb.dtype == np.uint8 and crops_rgb.shape[1:] == (112, 112, 3)
        self.images += len(crops_rgb)
        self.flips.append(flip)
        codes = np.rint(crops_rgb[..., 0].mean(axis=(1, 2)) / 16)
        theta = np.radians(DEGREES_PER_CODE * codes)
        return np.stack([np.cos(theta), np.sin(theta)], axis=1).astype(np.float32)


def put(root: Path, relative: str, code: int) -> Path:
    return save(root / relative, tile(code), quality=95)


# TinyFace: gallery people 1 (code 1), 2 (code 4), 3 (codes 8 and 12), distractors at codes 2 and 6.
# Probe codes and their true ranks: 1_p 1 -> 1; 2_q 7 -> 3 (person 3 and the code-6 distractor are nearer);
# 3_p 13 -> 1 (thanks to person 3's second image); 3_q 3 -> 5 (everyone else is nearer).
TINYFACE_FILES = {
    "Probe/1_p.jpg": 1,
    "Probe/2_q.jpg": 7,
    "Probe/3_p.jpg": 13,
    "Probe/3_q.jpg": 3,
    "Gallery_Match/1_g.jpg": 1,
    "Gallery_Match/2_g.jpg": 4,
    "Gallery_Match/3_g.jpg": 8,
    "Gallery_Match/3_h.jpg": 12,
    "Gallery_Distractor/1_x.jpg": 2,  # its name starts like person 1's, yet it is a distinct non-matching person
    "Gallery_Distractor/sub/77_y.jpg": 6,
}


def make_tinyface(root: Path) -> Path:
    for relative, code in TINYFACE_FILES.items():
        put(root, f"Testing_Set/{relative}", code)
    return root


def test_tinyface_ranks_cmc_and_counts(offline: Path) -> None:
    root = make_tinyface(offline / "tinyface")
    recogniser = AngleRecogniser()
    result = evaluate_benchmark("tinyface", recogniser, flip=True, path=root, batch_size=3)
    assert (result["probes"], result["gallery_people"], result["distractors"]) == (4, 3, 2)
    assert result["rank"] == {"1": 0.5, "5": 1.0, "10": 1.0, "20": 1.0}
    assert result["cmc"] == [0.5, 0.5, 0.75, 0.75] + [1.0] * 16
    assert result["published_rank1"]["AdaFace R100 MS1MV2 (CVPR 2022)"] == pytest.approx(0.6821)
    assert recogniser.images == len(TINYFACE_FILES) and set(recogniser.flips) == {True} and len(recogniser.flips) == 4
    json.dumps(result, allow_nan=False)


def test_tinyface_probe_without_gallery_identity_is_refused(offline: Path) -> None:
    root = make_tinyface(offline / "tinyface")
    put(root, "Testing_Set/Probe/9_lost.jpg", 5)
    with pytest.raises(ValueError, match=r"no Gallery_Match image of their identity, e\.g\. .*9_lost\.jpg"):
        evaluate_benchmark("tinyface", AngleRecogniser(), path=root)


def test_tinyface_file_name_without_identity_is_refused(offline: Path) -> None:
    root = make_tinyface(offline / "tinyface")
    put(root, "Testing_Set/Gallery_Match/noidentity.jpg", 5)
    with pytest.raises(ValueError, match=r"noidentity\.jpg: .*'<identity>_'"):
        evaluate_benchmark("tinyface", AngleRecogniser(), path=root)


def test_damaged_image_names_its_file(offline: Path) -> None:
    root = make_tinyface(offline / "tinyface")
    (root / "Testing_Set/Probe/1_p.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    with pytest.raises(ValueError, match=r"1_p\.jpg: .*damaged"):
        evaluate_benchmark("tinyface", AngleRecogniser(), path=root)


# SCface: mugshots 001..004 at codes 1, 4, 8, 12. Per distance, (file, code, true rank):
SCFACE_PROBES = {
    1: [("cam_1/001_cam1_1.jpg", 3, 2), ("cam_1/002_cam1_1.jpg", 4, 1), ("cam_2/003_cam2_1.jpg", 11, 2), ("cam_2/004_cam2_1.jpg", 12, 1)],
    2: [("cam_1/001_cam1_2.jpg", 1, 1), ("cam_1/002_cam1_2.jpg", 4, 1), ("cam_1/003_cam1_2.jpg", 8, 1), ("cam_5/004_cam5_2.jpg", 6, 4)],
    3: [("cam_1/001_cam1_3.jpg", 1, 1), ("cam_3/003_cam3_3.jpg", 8, 1)],
}


def make_scface(root: Path) -> Path:
    for subject, code in zip(("001", "002", "003", "004"), (1, 4, 8, 12)):
        put(root, f"mugshot_frontal_cropped_all/{subject}_frontal.JPG", code)
    for distance, shots in SCFACE_PROBES.items():
        for relative, code, _ in shots:
            put(root, f"surveillance_cameras_distance_{distance}/{relative}", code)
        put(root, f"surveillance_cameras_distance_{distance}/cam_6/001_cam6_{distance}.jpg", 15)  # infrared: left out
    return root


def test_scface_rank1_and_rank5_per_distance(offline: Path) -> None:
    root = make_scface(offline / "scface" / "SCface_database")  # the archive's own folder, one level down
    result = evaluate_benchmark("scface", AngleRecogniser(), path=offline / "scface")
    assert result == {
        "gallery_people": 4,
        "distance": {
            "1": {"metres": 4.2, "probes": 4, "rank1": 0.5, "rank5": 1.0},
            "2": {"metres": 2.6, "probes": 4, "rank1": 0.75, "rank5": 1.0},
            "3": {"metres": 1.0, "probes": 2, "rank1": 1.0, "rank5": 1.0},
        },
    }
    assert locate("scface", offline / "scface") == root


def test_scface_probe_of_unenrolled_subject_is_refused(offline: Path) -> None:
    root = make_scface(offline / "scface")
    put(root, "surveillance_cameras_distance_2/cam_1/005_cam1_2.jpg", 3)
    with pytest.raises(ValueError, match=r"no mugshot of their subject, e\.g\. .*005_cam1_2\.jpg"):
        evaluate_benchmark("scface", AngleRecogniser(), path=root)


def test_scface_image_in_the_wrong_distance_folder_is_refused(offline: Path) -> None:
    root = make_scface(offline / "scface")
    put(root, "surveillance_cameras_distance_1/cam_1/002_cam1_3.jpg", 4)
    with pytest.raises(ValueError, match=r"002_cam1_3\.jpg: the name says distance 3 .* surveillance_cameras_distance_1"):
        evaluate_benchmark("scface", AngleRecogniser(), path=root)


def make_survface(root: Path, genuine: list[tuple[int, int]], impostor: list[tuple[int, int]]) -> Path:
    """Images ``<code>_v.jpg`` per code used, and the two official pair lists as MATLAB cell arrays."""
    test_set = root / "Face_Verification_Test_Set"
    for code in {c for pair in genuine + impostor for c in pair}:
        put(test_set, f"verification_images/{code}_v.jpg", code)
    for stem, pairs in (("positive_pairs_names", genuine), ("negative_pairs_names", impostor)):
        cells = np.empty((len(pairs), 2), dtype=object)
        cells[:] = [[f"{a}_v.jpg", f"{b}_v.jpg"] for a, b in pairs]
        scipy.io.savemat(test_set / f"{stem}.mat", {stem: cells})
    return root


def pair_scores(pairs: list[tuple[int, int]]) -> list[float]:
    return [float(angle_of(a) @ angle_of(b)) for a, b in pairs]


def test_survface_scores_counts_auc_and_estimable_tars(offline: Path) -> None:
    # Genuine pairs differ by an even number of codes, impostor pairs by an odd one: no score is shared across
    # the two classes, so the AUC cannot depend on how float32 rounding orders equal cosines.
    genuine = [(k, k + d) for k, d in zip(range(12), [0, 2, 4, 0, 4, 2, 0, 2, 4, 0, 4, 2])]
    impostor = ([(a, b) for a in range(15) for b in range(a + 1, 15) if (b - a) % 2] * 2)[:100]
    root = make_survface(offline / "qmul_survface" / "QMUL-SurvFace", genuine, impostor)
    recogniser = AngleRecogniser()
    result = evaluate_benchmark("qmul_survface", recogniser, path=root.parent)
    assert result["pairs"] == {"genuine": 12, "impostor": 100}
    assert recogniser.images == 15  # each distinct image once, though most are in several pairs
    scores = pair_scores(genuine) + pair_scores(impostor)
    same = [1] * len(genuine) + [0] * len(impostor)
    assert result["auc"] == pytest.approx(roc_auc_score(same, scores))
    # 100 impostor pairs estimate FAR 0.3 (30 false accepts expected) and nothing stricter.
    assert result["tar"] == {"0.3": pytest.approx(tar_of(roc(scores, same), 0.3)), "0.1": None, "0.01": None, "0.001": None}
    json.dumps(result, allow_nan=False)


def test_survface_pair_naming_a_missing_image_is_refused(offline: Path) -> None:
    root = make_survface(offline / "survface", [(1, 1)], [(1, 2)])
    (root / "Face_Verification_Test_Set/verification_images/2_v.jpg").unlink()
    with pytest.raises(ValueError, match=r"not in .*verification_images, e\.g\. 2_v\.jpg"):
        evaluate_benchmark("qmul_survface", AngleRecogniser(), path=root)


def test_survface_pair_list_with_another_variable_is_refused(offline: Path) -> None:
    root = make_survface(offline / "survface", [(1, 1)], [(1, 2)])
    scipy.io.savemat(root / "Face_Verification_Test_Set/negative_pairs_names.mat", {"pairs": np.zeros((1, 2))})
    with pytest.raises(ValueError, match=r"expected a variable named 'negative_pairs_names', found pairs"):
        evaluate_benchmark("qmul_survface", AngleRecogniser(), path=root)


def test_missing_copy_says_which_folder_to_create_and_where_to_ask(offline: Path) -> None:
    with pytest.raises(BenchmarkMissing) as missing:
        locate("tinyface")
    message = str(missing.value)
    assert str(offline / "cache" / "datasets" / "tinyface") in message
    assert all(item in message for item in ("Testing_Set/Probe/", "Testing_Set/Gallery_Match/", "Testing_Set/Gallery_Distractor/"))
    assert "https://qmul-tinyface.github.io/" in message and "cannot download" in message
    assert isinstance(missing.value, FileNotFoundError)


def test_missing_copy_names_the_mirror_folder_when_a_mirror_is_set(offline: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (offline / "mirror" / "datasets").mkdir(parents=True)
    monkeypatch.setenv(sources.MIRROR_ENV, str(offline / "mirror"))
    with pytest.raises(BenchmarkMissing, match=r"(?s)Create the folder .*mirror/datasets/scface .*mugshot_frontal_cropped_all/.*www\.scface\.org"):
        locate("scface")


def test_incomplete_copy_is_an_error_naming_what_is_missing(offline: Path) -> None:
    root = make_tinyface(offline / "cache" / "datasets" / "tinyface")
    shutil.rmtree(root / "Testing_Set" / "Gallery_Distractor")
    with pytest.raises(BenchmarkMissing, match=r"incomplete \(missing Testing_Set/Gallery_Distractor/\)"):
        locate("tinyface")


def test_locate_prefers_an_explicit_path_then_the_mirror_then_the_cache(offline: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cached = make_tinyface(offline / "cache" / "datasets" / "tinyface")
    assert locate("tinyface") == cached
    mirrored = make_tinyface(offline / "mirror" / "datasets" / "tinyface")
    monkeypatch.setenv(sources.MIRROR_ENV, str(offline / "mirror"))
    assert locate("tinyface") == mirrored.resolve()
    explicit = make_tinyface(offline / "elsewhere")
    assert locate("tinyface", explicit) == explicit


def test_available_benchmarks_gives_folders_or_messages(offline: Path) -> None:
    tinyface = make_tinyface(offline / "tf")
    found = available_benchmarks({"tinyface": tinyface})
    assert found["tinyface"] == tinyface
    assert isinstance(found["scface"], str) and "datasets/scface" in found["scface"]
    assert isinstance(found["qmul_survface"], str) and "positive_pairs_names.mat" in found["qmul_survface"]
    with pytest.raises(ValueError, match="unknown benchmarks"):
        available_benchmarks({"lfw": tinyface})


def test_benchmarks_table_is_complete() -> None:
    assert set(realsets.BENCHMARKS) == {"tinyface", "scface", "qmul_survface"}
    for benchmark in realsets.BENCHMARKS.values():
        assert benchmark.url.startswith("https://") and "research" in benchmark.licence
        assert all(0 < value <= 1 for metrics in benchmark.published.values() for value in metrics.values())
    with pytest.raises(ValueError, match="unknown benchmark 'lfw'"):
        locate("lfw")
