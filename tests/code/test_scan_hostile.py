"""Scanning folders nobody curated: every entry gets exactly one row and a status, nothing hangs, nothing is touched.

"An entry on disk" here means every non-folder entry of the real tree (regular
file, symlink of any kind, FIFO), found without following links, plus every
folder that cannot be listed (its contents are invisible, so it stands for them).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from helpers.core.cache import JsonlCache
from helpers.data import manifest as mf
from helpers.data import scan
from helpers.data.walk import printable
from tests.conftest import face_like, save

REPO = Path(__file__).resolve().parents[2]
SCAN_TIMEOUT_S = 60
NFC_NAME = unicodedata.normalize("NFC", "José_Müller")
NFD_NAME = unicodedata.normalize("NFD", "José_Müller")
DROP_DAC = ["setpriv", "--inh-caps=-dac_override,-dac_read_search", "--bounding-set=-dac_override,-dac_read_search", "--"]


def _jpeg(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(face_like(seed)).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def _huge_png(path: Path) -> None:
    """A 12000x9000 (108 MP) flat bilevel PNG: about 30 KB on disk, written in well under a second."""
    Image.new("1", (12000, 9000), 1).save(path)


def build_hostile(tmp_path: Path) -> dict[str, str]:
    """A dataset with every kind of trouble under ``tmp_path/dataset``, and the status each entry must get (keyed by printable path)."""
    root = tmp_path / "dataset"
    alice, bob = root / "alice", root / "bob"
    save(alice / "1.jpg", face_like(1), quality=90)
    save(alice / "2.jpg", face_like(2), quality=90)
    save(bob / "1.png", face_like(3))
    data = (alice / "1.jpg").read_bytes()
    (alice / "copy.jpg").write_bytes(data)
    (alice / "empty.jpg").write_bytes(b"")
    (alice / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (alice / "dangling.jpg").symlink_to("missing.jpg")
    (alice / "a.jpg").symlink_to("b.jpg")
    (alice / "b.jpg").symlink_to("a.jpg")
    (alice / "inside.jpg").symlink_to("2.jpg")
    (alice / "loopdir").symlink_to(".")
    (alice / "up").symlink_to("..")
    (root / "parent").symlink_to("..")
    (root / "carol").symlink_to("alice")
    outside = tmp_path / "outside"
    save(outside / "x.jpg", face_like(4), quality=90)
    (alice / "outside.jpg").symlink_to(outside / "x.jpg")
    os.mkfifo(alice / "pipe.jpg")
    (alice / "fifo_link.jpg").symlink_to("pipe.jpg")
    with open(os.fsencode(alice) + b"/caf\xe9.jpg", "wb") as handle:
        handle.write(_jpeg(5))
    save(root / NFC_NAME / "1.jpg", face_like(6), quality=90)
    save(root / NFD_NAME / "2.jpg", face_like(7), quality=90)
    _huge_png(bob / "huge.png")
    (root / "stray.jpg").write_bytes(_jpeg(8))
    expected = {
        "alice/1.jpg": mf.OK,
        "alice/2.jpg": mf.OK,
        "bob/1.png": mf.OK,
        "alice/copy.jpg": mf.DUPLICATE,
        "alice/empty.jpg": mf.EMPTY,
        "alice/truncated.jpg": mf.CORRUPT,
        "alice/dangling.jpg": mf.DANGLING_SYMLINK,
        "alice/a.jpg": mf.SYMLINK_LOOP,
        "alice/b.jpg": mf.SYMLINK_LOOP,
        "alice/inside.jpg": mf.DUPLICATE,  # a link inside the dataset is read: same bytes as alice/2.jpg
        "alice/loopdir": mf.SYMLINK_LOOP,
        "alice/up": mf.SYMLINK_LOOP,
        "parent": mf.SYMLINK_OUTSIDE,
        "carol": mf.DUPLICATE,  # the folder alice, already scanned under its own name
        "alice/outside.jpg": mf.SYMLINK_OUTSIDE,
        "alice/pipe.jpg": mf.NOT_REGULAR_FILE,
        "alice/fifo_link.jpg": mf.NOT_REGULAR_FILE,
        "alice/caf\\xe9.jpg": mf.BAD_FILENAME_ENCODING,
        f"{NFC_NAME}/1.jpg": mf.OK,
        f"{NFD_NAME}/2.jpg": mf.OK,
        "bob/huge.png": mf.TOO_LARGE,
        "stray.jpg": mf.NO_IDENTITY,
    }
    return expected


def disk_entries(root: Path) -> list[str]:
    """Printable relative paths of every entry on disk that must get a row (see the module docstring); follows no link."""
    found: list[str] = []

    def unlistable(exc: OSError) -> None:
        found.append(Path(exc.filename).relative_to(root).as_posix())

    for folder, dirs, files in os.walk(root, onerror=unlistable):
        links = [name for name in dirs if os.path.islink(os.path.join(folder, name))]
        found += [Path(folder, name).relative_to(root).as_posix() for name in files + links]
    return sorted(printable(path) for path in found)


def regular_checksums(root: Path) -> dict[str, tuple[int, str]]:
    """Mode and sha256 of every regular file, mode of everything else: never opens a FIFO, never follows a link."""
    sums = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            info = os.lstat(path)
            digest = hashlib.sha256(Path(path).read_bytes()).hexdigest() if stat.S_ISREG(info.st_mode) else ""
            sums[path] = (info.st_mode, digest)
    return sums


def scan_in_subprocess(root: Path, out: Path, prefix: Sequence[str] = (), **kwargs) -> tuple[pd.DataFrame, str]:
    """``scan_dataset`` in a child process (optionally under ``prefix``, e.g. setpriv), killed if it hangs; the frame and stderr."""
    code = "import sys, json; from helpers.data.scan import scan_dataset; scan_dataset(sys.argv[1], **json.loads(sys.argv[3])).to_pickle(sys.argv[2])"
    command = [*prefix, sys.executable, "-c", code, str(root), str(out), json.dumps(kwargs)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=SCAN_TIMEOUT_S, env=env, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"scan_dataset did not finish within {SCAN_TIMEOUT_S} s: it hangs on something in {root}")
    assert done.returncode == 0, done.stderr
    return pd.read_pickle(out), done.stderr


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The hostile tree scanned once (with a 100 MP limit) in a child process, with its checksums before and after."""
    base = tmp_path_factory.mktemp("hostile")
    expected = build_hostile(base)
    root = base / "dataset"
    before = regular_checksums(root)
    frame, stderr = scan_in_subprocess(root, base / "scan.pkl", max_megapixels=100)
    return {"root": root, "base": base, "expected": expected, "frame": frame, "stderr": stderr, "before": before, "after": regular_checksums(root)}


def test_every_entry_gets_one_row_with_the_expected_status(hostile: dict) -> None:
    frame, expected = hostile["frame"], hostile["expected"]
    assert list(frame["path"]) == disk_entries(hostile["root"])  # exactly one row per entry, in sorted path order
    assert sorted(expected) == list(frame["path"])
    assert dict(zip(frame["path"], frame["status"])) == expected
    assert (frame.loc[frame["status"] != mf.OK, "reason"] != "").all()


def test_the_dataset_is_left_untouched(hostile: dict) -> None:
    assert hostile["after"] == hostile["before"]


def test_reasons_name_the_problem_and_the_fix(hostile: dict) -> None:
    reason = hostile["frame"].set_index("path")["reason"]
    assert "missing.jpg" in reason["alice/dangling.jpg"] and "does not exist" in reason["alice/dangling.jpg"]
    assert "loop" in reason["alice/loopdir"] and "loop" in reason["alice/a.jpg"] and "loop" in reason["alice/up"]
    assert "follow_external_symlinks=True" in reason["parent"] and "follow_external_symlinks=True" in reason["alice/outside.jpg"]
    assert "FIFO" in reason["alice/pipe.jpg"] and "FIFO" in reason["alice/fifo_link.jpg"]
    assert "UTF-8" in reason["alice/caf\\xe9.jpg"] and "rename" in reason["alice/caf\\xe9.jpg"]
    huge = reason["bob/huge.png"]
    assert "108,000,000 pixels" in huge and "100 megapixels" in huge and "max_megapixels" in huge
    assert "alice" in reason["carol"]


def test_identities_are_nfc_and_merges_are_reported(hostile: dict) -> None:
    people = hostile["frame"].set_index("path")["identity"]
    assert people[f"{NFC_NAME}/1.jpg"] == people[f"{NFD_NAME}/2.jpg"] == NFC_NAME
    assert people["alice/loopdir"] == "alice" and people["carol"] == "carol" and people["stray.jpg"] == ""
    assert "NFC" in hostile["stderr"] and ascii(NFD_NAME) in hostile["stderr"]


def test_the_manifest_saves_and_loads(hostile: dict) -> None:
    frame, processed = hostile["frame"], hostile["base"] / "processed"
    full = frame.assign(**{column: "" for column in mf.COLUMNS if column not in frame.columns})
    mf.save_manifest(full, processed)
    loaded = mf.load_manifest(processed)
    for column in ("path", "identity", "status", "reason"):
        assert list(loaded[column]) == list(frame[column]), column


def _can_drop_dac(probe: Path) -> list[str]:
    """The command prefix that runs a process without DAC override (none when not root); skips when that is impossible."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root and setpriv is unavailable: cannot test permission errors (root bypasses them)")
    done = subprocess.run([*DROP_DAC, sys.executable, "-c", f"open({str(probe)!r}, 'rb')"], capture_output=True, timeout=SCAN_TIMEOUT_S, check=False)
    if done.returncode == 0 or b"PermissionError" not in done.stderr:
        pytest.skip(f"setpriv could not drop the DAC capabilities here: {done.stderr.decode(errors='replace')[-300:]}")
    return DROP_DAC


@pytest.fixture
def locked(tmp_path: Path):
    """A dataset with a mode-000 file and a mode-000 identity folder (modes restored afterwards)."""
    root = tmp_path / "dataset"
    save(root / "alice" / "1.jpg", face_like(1), quality=90)
    save(root / "alice" / "locked.jpg", face_like(2), quality=90)
    save(root / "bob" / "1.jpg", face_like(3), quality=90)
    save(root / "bob" / "2.jpg", face_like(4), quality=90)
    save(root / "carol" / "1.jpg", face_like(5), quality=90)
    expected_entries = sorted({*disk_entries(root), "bob"} - {"bob/1.jpg", "bob/2.jpg"})
    (root / "alice" / "locked.jpg").chmod(0)
    (root / "bob").chmod(0)
    yield root, expected_entries
    (root / "bob").chmod(0o755)
    (root / "alice" / "locked.jpg").chmod(0o644)


def test_unreadable_file_and_folder_get_one_row_each(locked: tuple[Path, list[str]], tmp_path: Path) -> None:
    root, expected_entries = locked
    prefix = _can_drop_dac(root / "alice" / "locked.jpg")
    frame, _ = scan_in_subprocess(root, tmp_path / "scan.pkl", prefix)
    rows = frame.set_index("path")
    assert list(frame["path"]) == expected_entries
    assert rows.loc["alice/locked.jpg", "status"] == mf.UNREADABLE and "chmod" in rows.loc["alice/locked.jpg", "reason"]
    assert rows.loc["bob", "status"] == mf.UNREADABLE and rows.loc["bob", "identity"] == "bob"
    assert "bob/" in rows.loc["bob", "reason"] and "chmod" in rows.loc["bob", "reason"]
    assert rows.loc["alice/1.jpg", "status"] == rows.loc["carol/1.jpg", "status"] == mf.OK


def test_external_links_are_followed_only_when_asked(tmp_path: Path) -> None:
    root, external = tmp_path / "dataset", tmp_path / "external"
    save(root / "alice" / "1.jpg", face_like(1), quality=90)
    save(external / "1.jpg", face_like(2), quality=90)
    save(external / "2.jpg", face_like(3), quality=90)
    (external / "again").symlink_to(".")
    (root / "ext").symlink_to(external)
    (root / "alice" / "x.jpg").symlink_to(external / "1.jpg")
    plain = scan.scan_dataset(root).set_index("path")["status"]
    assert plain.to_dict() == {"alice/1.jpg": mf.OK, "alice/x.jpg": mf.SYMLINK_OUTSIDE, "ext": mf.SYMLINK_OUTSIDE}
    followed = scan.scan_dataset(root, follow_external_symlinks=True)
    assert dict(zip(followed["path"], followed["status"])) == {
        "alice/1.jpg": mf.OK,
        "alice/x.jpg": mf.OK,
        "ext/1.jpg": mf.DUPLICATE,  # same bytes as alice/x.jpg, which sorts first
        "ext/2.jpg": mf.OK,
        "ext/again": mf.SYMLINK_LOOP,
    }
    assert followed.set_index("path").loc["ext/2.jpg", "identity"] == "ext"


def test_nfc_and_nfd_spellings_merge_with_a_warning(tmp_path: Path) -> None:
    root = tmp_path / "dataset"
    save(root / NFC_NAME / "1.jpg", face_like(1), quality=90)
    save(root / NFD_NAME / "2.jpg", face_like(2), quality=90)
    with pytest.warns(UserWarning, match="NFC") as caught:
        frame = scan.scan_dataset(root)
    assert ascii(NFC_NAME) in str(caught[0].message) and ascii(NFD_NAME) in str(caught[0].message)
    assert set(frame["identity"]) == {NFC_NAME} and (frame["status"] == mf.OK).all()


def test_folders_sharing_an_output_folder_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "dataset"
    save(root / "a b" / "1.jpg", face_like(1), quality=90)
    save(root / "a_b" / "2.jpg", face_like(2), quality=90)
    with pytest.raises(ValueError, match=r"'a b' and 'a_b'.*rename"):
        scan.scan_dataset(root)


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (width, height), 128).save(buffer, format="PNG")
    return buffer.getvalue()


def test_our_pixel_limit_replaces_pillows_inside_the_call_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow refuses anything over 2000 pixels outright
    data = _png(100, 100)
    rgb, _ = scan.decode_rgb(data, "x.png", max_megapixels=0.02)
    assert rgb.shape == (100, 100, 3)
    assert Image.MAX_IMAGE_PIXELS == 1000
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(data))
    with pytest.raises(scan.UndecodableImage) as info:
        scan.decode_rgb(data, "x.png", max_megapixels=0.005)
    assert info.value.status == mf.TOO_LARGE and "10,000 pixels" in str(info.value) and "max_megapixels" in str(info.value)
    assert Image.MAX_IMAGE_PIXELS == 1000


def test_too_large_is_not_cached_so_a_higher_limit_decodes(tmp_path: Path) -> None:
    root = tmp_path / "dataset"
    (root / "alice").mkdir(parents=True)
    (root / "alice" / "big.png").write_bytes(_png(300, 200))
    cache = tmp_path / "scan.jsonl"
    assert scan.scan_dataset(root, JsonlCache(cache), max_megapixels=0.01)["status"].tolist() == [mf.TOO_LARGE]
    again = scan.scan_dataset(root, JsonlCache(cache))
    assert again["status"].tolist() == [mf.OK] and again["width"].tolist() == [300]
