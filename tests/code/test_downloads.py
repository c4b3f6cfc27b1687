"""Downloads are verified before use, tried once per process, and archives never write outside their folder."""

from __future__ import annotations

import hashlib
import io
import stat
import zipfile
from pathlib import Path

import pytest

from helpers.core import sources
from helpers.models import packs


def write_zip(path: Path, members: dict[str, bytes], symlinks: dict[str, str] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name), data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return path


def cached_archive(offline: Path, members: dict[str, bytes], symlinks: dict[str, str] | None = None) -> sources.Remote:
    """A Remote whose archive already sits in the download cache (so nothing is downloaded)."""
    remote = sources.Remote("pack.zip", ("http://127.0.0.1:9/pack.zip",), None, "models/pack.zip")
    write_zip(offline / "cache" / remote.mirror_path, members, symlinks)
    return remote


def files_below(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_a_normal_zip_is_extracted_into_its_folder(offline: Path) -> None:
    remote = cached_archive(offline, {"pack/det_10g.onnx": b"detector", "pack/w600k_r50.onnx": b"recogniser"})
    folder = sources.fetch_and_extract(remote, "pack", root=offline / "models")
    assert folder == offline / "models" / "pack"
    assert files_below(folder) == ["det_10g.onnx", "w600k_r50.onnx"]
    assert (folder / "det_10g.onnx").read_bytes() == b"detector"
    assert sorted(p.name for p in (offline / "models").iterdir()) == ["pack"]  # no staging folder left behind


@pytest.mark.parametrize(
    ("member", "why"),
    [
        ("../evil.txt", "has a '..' component"),
        ("pack/../../evil.txt", "has a '..' component"),
        ("..\\evil.txt", "has a '..' component"),
        ("/tmp/evil.txt", "is an absolute path"),
        ("C:/evil.txt", "is an absolute path"),
    ],
)
def test_a_zip_member_escaping_the_folder_is_refused_and_nothing_is_written(offline: Path, member: str, why: str) -> None:
    before = files_below(offline)
    remote = cached_archive(offline, {"pack/ok.onnx": b"fine", member: b"escaped"})
    with pytest.raises(sources.ResourceUnavailable, match=rf"member {member!r} {why}".replace("\\", "\\\\").replace(".", r"\.")):
        sources.fetch_and_extract(remote, "pack", root=offline / "models" / "deep")
    assert files_below(offline) == sorted([*before, "cache/models/pack.zip"])  # only the archive itself
    assert not (offline / "models" / "deep").exists() or list((offline / "models" / "deep").iterdir()) == []


def test_a_zip_with_a_symbolic_link_is_refused(offline: Path) -> None:
    remote = cached_archive(offline, {"pack/ok.onnx": b"fine"}, symlinks={"pack/link.onnx": "/etc/passwd"})
    with pytest.raises(sources.ResourceUnavailable, match=r"member 'pack/link\.onnx' is a symbolic link"):
        sources.fetch_and_extract(remote, "pack", root=offline / "models")
    assert not (offline / "models").exists() or list((offline / "models").iterdir()) == []


class FakeResponse(io.BytesIO):
    """What ``urllib.request.urlopen`` returns, as far as the download reads it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.headers: dict[str, str] = {}


def test_a_download_whose_sha256_differs_from_the_pin_is_refused(offline: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources.urllib.request, "urlopen", lambda url, timeout: FakeResponse(b"not the published archive"))
    remote = sources.Remote("pack.zip", ("http://example.invalid/pack.zip",), hashlib.sha256(b"the published archive").hexdigest(), "models/pack.zip")
    with pytest.raises(sources.DownloadFailed, match="sha256"):
        sources.fetch_and_extract(remote, "pack", root=offline / "models")
    assert files_below(offline) == []  # neither the archive nor anything extracted from it


def test_a_cached_archive_whose_sha256_differs_from_the_pin_is_refused_before_extraction(offline: Path) -> None:
    write_zip(offline / "cache" / "models" / "pack.zip", {"pack/ok.onnx": b"fine"})
    remote = sources.Remote("pack.zip", ("http://127.0.0.1:9/pack.zip",), "0" * 64, "models/pack.zip")
    with pytest.raises(sources.ChecksumMismatch, match=r"expected 0{64}"):
        sources.fetch_and_extract(remote, "pack", root=offline / "models")
    assert not (offline / "models").exists()


def test_a_failed_download_is_tried_once_per_process(offline: Path, unreachable: list[str]) -> None:
    attempts = unreachable
    remote = sources.Remote("thing.zip", ("http://127.0.0.1:9/thing.zip",), None, "models/thing.zip")
    with pytest.raises(sources.DownloadFailed) as first:
        sources.fetch(remote, timeout=1)
    assert not first.value.repeated and attempts == ["http://127.0.0.1:9/thing.zip"]
    with pytest.raises(sources.DownloadFailed, match="Not tried again") as second:
        sources.fetch(remote, timeout=1)
    assert second.value.repeated and "network is unreachable" in str(second.value) and len(attempts) == 1
    # A copy put into the cache meanwhile is used; forgetting the failure allows a new attempt.
    (offline / "cache" / "models").mkdir(parents=True, exist_ok=True)
    (offline / "cache" / "models" / "thing.zip").write_bytes(b"copied by hand")
    assert sources.fetch(remote) == offline / "cache" / "models" / "thing.zip"
    (offline / "cache" / "models" / "thing.zip").unlink()
    sources.forget_failed_downloads()
    with pytest.raises(sources.DownloadFailed):
        sources.fetch(remote, timeout=1)
    assert len(attempts) == 2


def test_buffalo_l_download_is_attempted_once_per_process(offline: Path, unreachable: list[str]) -> None:
    attempts = unreachable
    assert packs.BUFFALO_L.sha256 is not None and len(packs.BUFFALO_L.sha256) == 64
    with pytest.raises(sources.DownloadFailed):
        packs.folder_pack("buffalo_l")
    with pytest.raises(sources.DownloadFailed, match="Not tried again"):
        packs.folder_pack("buffalo_l")
    assert attempts == list(packs.BUFFALO_L.urls)
    assert not (offline / "models" / "buffalo_l").exists()


def test_auto_pack_says_the_download_was_not_tried_again(mirror: Path, offline: Path, unreachable: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sources.MIRROR_ENV, str(mirror))
    attempts = unreachable
    first, second = packs.load_pack("auto"), packs.load_pack("auto")
    assert first.name == second.name == packs.OFFLINE_PACK and len(attempts) == 1
    assert first.note.endswith("and its download failed)")
    assert "failed earlier in this process and was not tried again" in second.note
