"""Where data and model files come from: a local mirror, a local cache, or a download.

One setting serves every resource: ``LQFACE_MIRROR`` names a folder laid out
like the project's ``../shared`` (``datasets/lfw/...``, ``models/...``).
Resources found there are read in place, never copied or modified. Without a
mirror, files are downloaded (checksum-verified) into a local cache; when that
fails, the error says exactly where a local copy can be put instead, and the
download is not tried again in the same process. Archives are unpacked only
when every member stays inside the target folder.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from tqdm import tqdm

from helpers.core.files import atomic_path, sha256_file

MIRROR_ENV = "LQFACE_MIRROR"
CACHE_ENV = "LQFACE_CACHE"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


class ResourceUnavailable(RuntimeError):
    """A data or model file could be neither found locally nor downloaded."""


class ChecksumMismatch(ResourceUnavailable):
    """A file is there, but its sha256 is not the published one (damaged, or a different file)."""


class DownloadFailed(ResourceUnavailable):
    """A download failed; ``repeated`` when it had failed earlier in this process and was not tried again."""

    def __init__(self, message: str, repeated: bool = False) -> None:
        super().__init__(message)
        self.repeated = repeated


@dataclass(frozen=True)
class Remote:
    """A file that can be downloaded, and where it would sit inside a mirror."""

    name: str
    urls: tuple[str, ...]
    sha256: str | None
    mirror_path: str


@dataclass(frozen=True)
class ModelFile:
    """One model file with its provenance: where it lies, its sha256, and where it came from."""

    name: str
    path: Path
    sha256: str
    source: str


RESULTS = "results"
"""The folder of run folders, in the project."""


def project_path(path: str | Path) -> Path:
    """``path`` as given when absolute, else relative to the project root (not the notebook's folder)."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


def mirror_root() -> Path | None:
    """The local mirror named by ``LQFACE_MIRROR``, if set."""
    value = os.environ.get(MIRROR_ENV)
    if not value:
        return None
    root = Path(value).expanduser().resolve()
    if not root.is_dir():
        raise ResourceUnavailable(f"{MIRROR_ENV}={value} is not a folder; point it at a copy laid out like ../shared")
    return root


def cache_root() -> Path:
    """Download cache (``LQFACE_CACHE``, default ``~/.cache/lqface``)."""
    return Path(os.environ.get(CACHE_ENV, Path.home() / ".cache" / "lqface")).expanduser()


def in_mirror(relative: str) -> Path | None:
    """The path of ``relative`` inside the mirror, when the mirror holds it."""
    root = mirror_root()
    if root is None:
        return None
    path = root / relative
    return path if path.exists() else None


def _verify(path: Path, expected: str | None) -> None:
    if expected is not None and (actual := sha256_file(path)) != expected:
        raise ChecksumMismatch(f"{path} has sha256 {actual}, expected {expected}; the file is damaged or a different version")


# Downloads that failed in this process, with their error: each is tried once per process, not on every call.
_FAILED_DOWNLOADS: dict[Remote, str] = {}


def forget_failed_downloads() -> None:
    """Let downloads that failed earlier in this process be tried again (e.g. once the network is back)."""
    _FAILED_DOWNLOADS.clear()


def _download(remote: Remote, target: Path, timeout: float) -> None:
    errors = []
    for url in remote.urls:
        try:
            with atomic_path(target) as tmp:
                with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
                    total = int(response.headers.get("Content-Length") or 0) or None
                    with tqdm(total=total, unit="B", unit_scale=True, desc=f"download {remote.name}") as bar:
                        while chunk := response.read(1 << 20):
                            out.write(chunk)
                            bar.update(len(chunk))
                _verify(tmp, remote.sha256)
            return
        except (OSError, ResourceUnavailable) as exc:
            errors.append(f"{url}: {exc}")
    message = (
        f"could not download {remote.name}:\n  " + "\n  ".join(errors) + "\n"
        f"Offline? Put a copy at <mirror>/{remote.mirror_path} and set {MIRROR_ENV}=<mirror> "
        f"(on the project's machines: {MIRROR_ENV}=../shared), or place the file at {target}."
    )
    _FAILED_DOWNLOADS[remote] = message
    raise DownloadFailed(message)


def fetch(remote: Remote, timeout: float = 30.0) -> Path:
    """Local path of ``remote``: the mirror's copy, a cached copy, or a fresh download.

    A download that failed is not tried again in the same process (the mirror and
    the cache are still looked at first); :func:`forget_failed_downloads` allows a retry.
    """
    if (mirrored := in_mirror(remote.mirror_path)) is not None:
        _verify(mirrored, remote.sha256)
        return mirrored
    target = cache_root() / remote.mirror_path
    if target.exists():
        _verify(target, remote.sha256)
        return target
    if (earlier := _FAILED_DOWNLOADS.get(remote)) is not None:
        raise DownloadFailed(
            f"{earlier}\n(Not tried again: this download already failed earlier in this process; restart Python "
            "or call helpers.core.sources.forget_failed_downloads() to retry.)",
            repeated=True,
        )
    _download(remote, target, timeout)
    return target


def _unsafe_member(name: str, mode: int) -> str | None:
    """Why an archive member named ``name`` (Unix mode ``mode``) may not be extracted, or ``None``."""
    if name.startswith(("/", "\\")) or PureWindowsPath(name).drive:
        return "is an absolute path"
    if ".." in PurePosixPath(name.replace("\\", "/")).parts:
        return "has a '..' component"
    if stat.S_ISLNK(mode):
        return "is a symbolic link"
    return None


def _extract_zip(archive: Path, staging: Path) -> None:
    """Unpack ``archive`` into ``staging`` after checking every member: nothing may land outside ``staging``."""
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            if (why := _unsafe_member(info.filename, info.external_attr >> 16)) is not None:
                raise ResourceUnavailable(f"{archive}: member {info.filename!r} {why}; refusing to extract an archive that could write outside {staging}")
        zf.extractall(staging)


def fetch_and_extract(remote: Remote, folder: str, root: Path | None = None, timeout: float = 30.0) -> Path:
    """Download a ``.tgz``/``.zip`` archive (unless cached) and return its extracted ``folder``.

    The archive is unpacked into a staging folder and moved into place whole,
    so an interrupted extraction never leaves a half-filled ``folder`` behind.
    Archives without a top-level folder are unpacked straight into ``folder``.
    """
    parent = root if root is not None else cache_root() / Path(remote.mirror_path).parent
    extracted = parent / folder
    if extracted.is_dir():
        return extracted
    archive = fetch(remote, timeout)  # verified against remote.sha256 before anything is unpacked
    staging = parent / f".{folder}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        if archive.name.endswith((".tgz", ".tar.gz")):
            with tarfile.open(archive) as tar:
                tar.extractall(staging, filter="data")
        elif archive.name.endswith(".zip"):
            _extract_zip(archive, staging)
        else:
            raise ResourceUnavailable(f"{archive}: only .tgz, .tar.gz and .zip archives are unpacked")
    except tarfile.FilterError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise ResourceUnavailable(f"{archive}: refusing to extract: {error}") from error
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    entries = list(staging.iterdir())
    source = entries[0] if len(entries) == 1 and entries[0].is_dir() else staging
    os.replace(source, extracted)
    shutil.rmtree(staging, ignore_errors=True)
    return extracted
