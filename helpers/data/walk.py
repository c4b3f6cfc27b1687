"""Walk a dataset folder without trusting it: every entry once, no loops, nothing opened but regular files.

Folders are listed once each, tracked by ``(st_dev, st_ino)``: the real tree first,
then folders reached through symlinks, so a link to a folder already listed
(or to one that contains it) becomes one row instead of a loop. Special files
(FIFOs, sockets, devices) are only ever ``stat``-ed, never opened. Names that
are not UTF-8 are shown with ``\\xNN`` escapes and never read.
"""

from __future__ import annotations

import errno
import os
import stat
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from helpers.data.manifest import (
    BAD_FILENAME_ENCODING,
    DANGLING_SYMLINK,
    DUPLICATE,
    NOT_REGULAR_FILE,
    SYMLINK_LOOP,
    SYMLINK_OUTSIDE,
    UNREADABLE,
)

_Key = tuple[int, int]
"""A folder's identity on disk: ``(st_dev, st_ino)``."""


@dataclass(frozen=True)
class Entry:
    """One thing below the dataset root: a regular file to read (``source``), or a problem found without opening it."""

    parts: tuple[str, ...]
    """Path components as the OS gives them (bytes that are not UTF-8 appear as surrogates)."""
    source: Path | None = None
    status: str = ""
    reason: str = ""
    folder: bool = False
    """The row stands for a whole folder (an unreadable one, or a link to one that is not followed)."""

    @property
    def path(self) -> str:
        """The relative POSIX path, printable (see :func:`printable`)."""
        return "/".join(printable(part) for part in self.parts)

    @property
    def identity_folder(self) -> str:
        """The first folder of the path, printable; empty for a file at the root."""
        return printable(self.parts[0]) if len(self.parts) > 1 or self.folder else ""


class NotRegularFile(OSError):
    """A path that turned out not to be a regular file when it was opened."""


def printable(name: str) -> str:
    """``name`` as text that always encodes to UTF-8: bytes that are not UTF-8 become ``\\xNN``."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def is_utf8(name: str) -> bool:
    """Whether the OS gave ``name`` as valid UTF-8 (else it holds surrogate escapes)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _kind(mode: int) -> str:
    """What a non-regular, non-folder entry is, in words."""
    kinds = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))
    return next((text for test, text in kinds if test(mode)), "a special file")


def _shown(parts: tuple[str, ...]) -> str:
    """A folder's relative path for messages (``.`` for the dataset root)."""
    return "/".join(printable(part) for part in parts) or "."


def _key(status: os.stat_result) -> _Key:
    return (status.st_dev, status.st_ino)


def read_regular(path: Path) -> bytes:
    """The bytes of ``path``, refusing (without blocking) anything that is not a regular file once opened."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    with open(fd, "rb") as handle:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(f"{_kind(mode)}, not a regular file: never read (reading it could block); move it out of the dataset")
        return handle.read()


def _broken_link(exc: OSError, target: str) -> tuple[str, str]:
    """Status and reason for a symlink that cannot be followed."""
    if exc.errno == errno.ELOOP:
        return SYMLINK_LOOP, f"symlink loop: {target} leads back to itself through other links; fix or remove the link"
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return DANGLING_SYMLINK, f"symlink to {target}, which does not exist; fix or remove the link"
    return UNREADABLE, f"symlink to {target} cannot be followed ({exc.strerror}); fix its permissions or remove the link"


class _Walk:
    """State of one walk: folders seen, folders still to list, links to folders to follow last, entries found."""

    def __init__(self, root: Path, follow_external: bool) -> None:
        self.root = Path(root)
        self.real_root = Path(os.path.realpath(self.root))
        self.follow_external = follow_external
        self.seen: dict[_Key, str] = {}
        self.pending: list[tuple[Path, tuple[str, ...], tuple[_Key, ...], _Key]] = []
        self.links: deque[tuple[Path, tuple[str, ...], tuple[_Key, ...], _Key, str]] = deque()
        self.entries: list[Entry] = []

    def run(self) -> list[Entry]:
        try:
            root_status = os.stat(self.root)
        except OSError as exc:
            raise OSError(f"cannot open the dataset folder {self.root}: {exc.strerror}; check the path") from exc
        if not stat.S_ISDIR(root_status.st_mode):
            raise NotADirectoryError(f"{self.root} is not a folder: point the scan at the folder that holds <identity>/<image> folders")
        self._enter(self.root, (), (), _key(root_status), None)
        while self.pending or self.links:
            if self.pending:
                self._list(*self.pending.pop())
            else:
                self._enter(*self.links.popleft())
        return sorted(self.entries, key=lambda entry: entry.path)

    def _add(self, parts: tuple[str, ...], status: str = "", reason: str = "", source: Path | None = None, folder: bool = False) -> None:
        """Record an entry; a name that is not UTF-8 anywhere in its path overrides everything else."""
        if bad := next((part for part in parts if not is_utf8(part)), None):
            status, source = BAD_FILENAME_ENCODING, None
            reason = (
                f"the name '{printable(bad)}' is not valid UTF-8 (bytes shown as \\x escapes): never read; rename it to UTF-8 (e.g. convmv -f latin1 -t utf-8)"
            )
        self.entries.append(Entry(parts, source, status, reason, folder))

    def _enter(self, path: Path, parts: tuple[str, ...], chain: tuple[_Key, ...], key: _Key, link: str | None) -> None:
        """Queue a folder for listing unless it contains itself (a loop) or was listed already (under another path)."""
        what = "folder" if link is None else f"symlink to {printable(link)}, a folder"
        if key in chain:
            self._add(parts, SYMLINK_LOOP, f"{what} that contains this entry ({self.seen[key]}): following it would loop forever; remove the link", folder=True)
        elif key in self.seen:
            self._add(parts, DUPLICATE, f"{what} already scanned as {self.seen[key]}", folder=True)
        else:
            real = Path(os.path.realpath(path))
            self.seen[key] = _shown(parts) if real.is_relative_to(self.real_root) else printable(str(real))
            self.pending.append((path, parts, chain, key))

    def _list(self, path: Path, parts: tuple[str, ...], ancestors: tuple[_Key, ...], key: _Key) -> None:
        """Record every entry of one folder; an unreadable folder becomes one row."""
        try:
            with os.scandir(path) as listing:
                children = sorted(listing, key=lambda child: child.name)
        except OSError as exc:
            if not parts:
                raise OSError(f"cannot list the dataset folder {path}: {exc.strerror}; grant read and execute permission on it") from exc
            reason = f"folder {_shown(parts)}/ cannot be listed ({exc.strerror}): its files are not scanned; grant read and execute permission (chmod a+rx) or move it out of the dataset"
            self._add(parts, UNREADABLE, reason, folder=True)
            return
        for child in children:
            self._child(child, (*parts, child.name), (*ancestors, key))

    def _child(self, child: os.DirEntry[str], parts: tuple[str, ...], chain: tuple[_Key, ...]) -> None:
        """Classify one folder entry by ``lstat`` alone."""
        try:
            if child.is_symlink():
                self._link(Path(child.path), parts, chain)
                return
            info = child.stat(follow_symlinks=False)
        except OSError as exc:
            self._add(parts, UNREADABLE, f"cannot be inspected ({exc.strerror}); grant execute permission on its folder or move it out of the dataset")
            return
        if stat.S_ISDIR(info.st_mode):
            self._enter(Path(child.path), parts, chain, _key(info), None)
        elif stat.S_ISREG(info.st_mode):
            self._add(parts, source=Path(child.path))
        else:
            self._add(parts, NOT_REGULAR_FILE, f"{_kind(info.st_mode)}, not a regular file: never opened (reading it could block); move it out of the dataset")

    def _link(self, path: Path, parts: tuple[str, ...], chain: tuple[_Key, ...]) -> None:
        """A symlink: report it when broken or leaving the dataset; follow a folder link only after the real tree."""
        target = printable(os.readlink(path))  # an OSError here is the caller's "cannot be inspected"
        try:
            info = os.stat(path)
        except OSError as exc:
            self._add(parts, *_broken_link(exc, target))
            return
        is_dir = stat.S_ISDIR(info.st_mode)
        real = Path(os.path.realpath(path))
        if not self.follow_external and not real.is_relative_to(self.real_root):
            what = "folder" if is_dir else "file"
            reason = f"symlink to {printable(str(real))}, outside the dataset: not followed; pass follow_external_symlinks=True to scan_dataset, or copy the {what} in"
            self._add(parts, SYMLINK_OUTSIDE, reason, folder=is_dir)
        elif is_dir:
            self.links.append((path, parts, chain, _key(info), target))
        elif stat.S_ISREG(info.st_mode):
            self._add(parts, source=path)
        else:
            self._add(parts, NOT_REGULAR_FILE, f"symlink to {_kind(info.st_mode)}, not a regular file: never opened (reading it could block); remove the link")


def walk_dataset(root: Path, follow_external_symlinks: bool = False) -> list[Entry]:
    """Every file, special file, unreadable folder and unfollowed link below ``root``, sorted by printable path.

    Regular files (also through symlinks that stay inside ``root``, or any symlink
    with ``follow_external_symlinks``) come with a ``source`` to read; everything
    else comes with a status and a reason, and is never opened.
    """
    return _Walk(Path(root), follow_external_symlinks).run()
