"""Scan a folder-per-identity dataset: fully decode every file and record what is wrong with it.

Nothing here writes to the dataset, and nothing but regular files is ever opened
(:mod:`helpers.data.walk`). Each file, special file, unfollowed symlink and
unreadable folder gets one row with a ``status`` (``ok`` or the problem found)
and a human-readable ``reason``; files that are readable only after a
conversion stay ``ok`` and list the conversions.
"""

from __future__ import annotations

import threading
import unicodedata
import warnings
from collections import defaultdict
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from io import BytesIO
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from PIL import Image, ImageOps, UnidentifiedImageError

from helpers.core.cache import JsonlCache
from helpers.core.files import safe_component, sha256_bytes
from helpers.core.progress import progress
from helpers.data.manifest import (
    BAD_FILENAME_ENCODING,
    CORRUPT,
    DUPLICATE,
    EMPTY,
    MARKED_BAD,
    NO_IDENTITY,
    NOT_IMAGE,
    NOT_REGULAR_FILE,
    OK,
    SCAN_COLUMNS,
    TOO_LARGE,
    UNREADABLE,
)
from helpers.data.walk import Entry, NotRegularFile, read_regular, walk_dataset

# Suffixes by which dataset authors flag a file as a failed capture (Extended Yale B: *.pgm.bad).
BAD_SUFFIXES = (".bad",)

DEFAULT_MAX_MEGAPIXELS = 250.0
"""The largest image decoded, in megapixels (a 108 MP phone photo passes); larger ones are ``too_large``."""

_PILLOW_DEFAULT_PIXELS = 89_478_485
"""Pillow's own default decompression-bomb limit: scans before ``max_megapixels`` called larger images ``corrupt``."""

_PILLOW_LIMIT_LOCK = threading.Lock()


class UndecodableImage(ValueError):
    """A file that is not an image, or an image that cannot be fully decoded."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def _to_uint8(array: np.ndarray, bits: int) -> np.ndarray:
    scale = (1 << bits) - 1
    return np.clip(np.rint(array.astype(np.float64) * 255.0 / scale), 0, 255).astype(np.uint8)


def _high_bit_depth(image: Image.Image) -> int:
    """Bits per sample of a single-channel integer image (16 unless values show 8)."""
    if image.mode.startswith("I;16"):
        return 16
    return 16 if int(np.asarray(image).max(initial=0)) > 255 else 8


def _pil_to_rgb(image: Image.Image) -> tuple[np.ndarray, list[str]]:
    """Convert any Pillow mode to RGB uint8, naming each conversion made."""
    notes: list[str] = []
    if getattr(image, "n_frames", 1) > 1:
        notes.append(f"first of {image.n_frames} frames")
    oriented = ImageOps.exif_transpose(image)
    if oriented is not image and image.getexif().get(0x0112, 1) != 1:
        notes.append("exif orientation applied")
    image = oriented
    mode = image.mode
    if mode == "RGB":
        return np.asarray(image, dtype=np.uint8).copy(), notes
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
        bits = _high_bit_depth(image)
        grey = _to_uint8(np.asarray(image), bits)
        notes.append(f"{bits}-bit greyscale to 8-bit RGB")
        return np.repeat(grey[..., None], 3, axis=2), notes
    if mode == "F":
        raise UndecodableImage(CORRUPT, "floating-point image (mode F): convert it to 8-bit first")
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        notes.append("palette to RGB")
    if image.mode in ("RGBA", "LA", "PA"):
        background = Image.new("RGBA", image.size, (0, 0, 0, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
        notes.append("alpha composited on black")
    elif image.mode in ("L", "1"):
        notes.append("greyscale to RGB")
    elif image.mode == "CMYK":
        notes.append("CMYK to RGB")
    elif image.mode != "RGB":
        notes.append(f"{image.mode} to RGB")
    return np.asarray(image.convert("RGB"), dtype=np.uint8).copy(), notes


def _opencv_to_rgb(data: bytes) -> tuple[np.ndarray, list[str]] | None:
    """Fallback for formats Pillow does not know (OpenCV reads them, without truncation checks)."""
    decoded = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if decoded is None:
        return None
    notes = ["decoded by OpenCV"]
    if decoded.dtype == np.uint16:
        decoded = _to_uint8(decoded, 16)
        notes.append("16-bit to 8-bit")
    elif decoded.dtype != np.uint8:
        raise UndecodableImage(CORRUPT, f"unsupported sample type {decoded.dtype}: convert it to 8-bit first")
    if decoded.ndim == 2:
        return cv2.cvtColor(decoded, cv2.COLOR_GRAY2RGB), [*notes, "greyscale to RGB"]
    if decoded.shape[2] == 4:
        return cv2.cvtColor(decoded, cv2.COLOR_BGRA2RGB), [*notes, "alpha dropped"]
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB), notes


@contextmanager
def _pillow_limit(pixels: int | None) -> Iterator[None]:
    """Pillow's decompression-bomb limit set to ``pixels`` (``None``: off) inside the block only, then restored."""
    with _PILLOW_LIMIT_LOCK:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = pixels
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _limit_pixels(max_megapixels: float) -> int:
    return int(max_megapixels * 1_000_000)


def _open(data: bytes) -> Image.Image:
    """Open image bytes (header only); if Pillow's own bomb check objects, open with it off: the caller checks the size."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(BytesIO(data))
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        with _pillow_limit(None):
            return Image.open(BytesIO(data))


def _decode_limit(size: tuple[int, int], max_megapixels: float) -> AbstractContextManager[None]:
    """Pillow's limit raised to ``max_megapixels`` for this decode only, and only when this image needs it."""
    current = Image.MAX_IMAGE_PIXELS
    if current is None or size[0] * size[1] <= current:
        return nullcontext()
    return _pillow_limit(_limit_pixels(max_megapixels))


def too_large_reason(width: int, height: int, max_megapixels: float) -> str:
    """Why an image is refused: its pixel count, the limit, and how to raise it."""
    pixels = width * height
    return (
        f"{width}x{height} = {pixels:,} pixels ({pixels / 1e6:.1f} megapixels), above the limit of {max_megapixels:g} megapixels: not decoded; "
        "if the image is trusted, pass a larger max_megapixels to scan_dataset (decoding needs roughly 10 bytes of memory per pixel), or downscale it"
    )


def _check_size(size: tuple[int, int], max_megapixels: float) -> None:
    if size[0] * size[1] > _limit_pixels(max_megapixels):
        raise UndecodableImage(TOO_LARGE, too_large_reason(size[0], size[1], max_megapixels))


def decode_rgb(data: bytes, name: str = "<bytes>", max_megapixels: float = DEFAULT_MAX_MEGAPIXELS) -> tuple[np.ndarray, list[str]]:
    """Fully decode image bytes to RGB uint8, raising :class:`UndecodableImage` on any problem.

    Images above ``max_megapixels`` (read from the header, before decoding) are
    ``too_large``; up to it, they decode even above Pillow's own, lower limit.
    """
    if not data:
        raise UndecodableImage(EMPTY, "zero-byte file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with _open(data) as image:
                _check_size(image.size, max_megapixels)
                with _decode_limit(image.size, max_megapixels):
                    image.load()  # decodes every pixel: truncated files fail here, not at the header
                    return _pil_to_rgb(image)
    except UnidentifiedImageError:
        fallback = _opencv_to_rgb(data)
        if fallback is None:
            raise UndecodableImage(NOT_IMAGE, "not an image format that Pillow or OpenCV can read") from None
        _check_size(fallback[0].shape[1::-1], max_megapixels)
        return fallback
    except UndecodableImage:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UndecodableImage(CORRUPT, f"cannot be fully decoded ({exc}); re-export or re-download {name}") from None


def load_rgb(path: Path, max_megapixels: float = DEFAULT_MAX_MEGAPIXELS) -> np.ndarray:
    """Read an image file as RGB uint8 (the same decoding the scan validated)."""
    return decode_rgb(read_regular(Path(path)), str(path), max_megapixels)[0]


def list_files(root: Path, follow_external_symlinks: bool = False) -> list[str]:
    """Every entry the scan gives a row (files, special files, unfollowed links, unreadable folders), as sorted POSIX paths relative to ``root``."""
    return [entry.path for entry in walk_dataset(root, follow_external_symlinks)]


def _header_size(data: bytes) -> tuple[int, int]:
    """Width and height from the image header alone; ``(0, 0)`` when Pillow cannot read one."""
    try:
        with _open(data) as image:
            return image.size
    except Exception:  # any header Pillow cannot parse: the full decode names the problem
        return (0, 0)


def _inspect(data: bytes, relpath: str, max_megapixels: float = DEFAULT_MAX_MEGAPIXELS) -> dict:
    if relpath.lower().endswith(BAD_SUFFIXES):
        return {"status": MARKED_BAD, "reason": "file name marks it as a failed capture (*.bad suffix by the dataset's authors)"}
    try:
        rgb, notes = decode_rgb(data, relpath, max_megapixels)
    except UndecodableImage as exc:
        return {"status": exc.status, "reason": str(exc)}
    return {"status": OK, "reason": "", "width": int(rgb.shape[1]), "height": int(rgb.shape[0]), "conversions": "; ".join(notes)}


def _inspect_cached(data: bytes, digest: str, relpath: str, cache: JsonlCache | None, max_megapixels: float) -> dict:
    """Decode status of one file, from ``cache`` when there; images over the limit are refused from the header, uncached.

    Keys are the content hash and the ``.bad`` flag; images above Pillow's default
    limit add ``:large``, so entries from scans before ``max_megapixels`` are not reused.
    """
    bad = relpath.lower().endswith(BAD_SUFFIXES)
    width, height = (0, 0) if bad else _header_size(data)
    if width * height > _limit_pixels(max_megapixels):
        return {"status": TOO_LARGE, "reason": too_large_reason(width, height, max_megapixels)}
    key = f"{digest}:{bad}" + (":large" if width * height > _PILLOW_DEFAULT_PIXELS else "")
    if cache is None or (info := cache.get(key)) is None:
        info = _inspect(data, relpath, max_megapixels)
        if cache is not None and info["status"] != TOO_LARGE:
            cache.put(key, info)
    return info


def _unread_row(entry: Entry, exc: OSError) -> dict:
    """Status and reason for a regular file that could not be read."""
    if isinstance(exc, NotRegularFile):
        return {"status": NOT_REGULAR_FILE, "reason": str(exc)}
    return {
        "status": UNREADABLE,
        "reason": f"cannot be read ({exc.strerror or exc}); grant read permission (chmod a+r '{entry.path}') or move it out of the dataset",
    }


def _scan_entry(entry: Entry, first_seen: dict[str, str], cache: JsonlCache | None, max_megapixels: float) -> dict:
    """One manifest row: the walk's verdict, or the file read, hashed and judged."""
    row = {"path": entry.path, "identity": unicodedata.normalize("NFC", entry.identity_folder), "conversions": ""}
    if entry.source is None:
        return row | {"status": entry.status, "reason": entry.reason}
    try:
        data = read_regular(entry.source)
    except OSError as exc:
        return row | _unread_row(entry, exc)
    digest = sha256_bytes(data)
    row |= {"sha256": digest, "bytes": len(data)}
    if not entry.identity_folder:
        return row | {"status": NO_IDENTITY, "reason": "file sits at the dataset root; put images under <identity>/<image>"}
    if digest in first_seen:
        return row | {"status": DUPLICATE, "reason": f"same bytes as {first_seen[digest]}"}
    row |= _inspect_cached(data, digest, entry.path, cache, max_megapixels)
    if row["status"] == OK:
        first_seen[digest] = entry.path
    return row


def check_identities(entries: list[Entry]) -> None:
    """Warn about identity folders merged by NFC normalisation; refuse two that would share an output folder."""
    spellings: dict[str, set[str]] = defaultdict(set)
    for entry in entries:
        if entry.identity_folder and entry.status != BAD_FILENAME_ENCODING:
            spellings[unicodedata.normalize("NFC", entry.identity_folder)].add(entry.identity_folder)
    if merged := {name: sorted(group) for name, group in sorted(spellings.items()) if len(group) > 1}:
        listing = "; ".join(f"{name!r} from folders {', '.join(ascii(spelling) for spelling in group)}" for name, group in merged.items())
        warnings.warn(
            f"identity folders spelled in different Unicode forms (NFC/NFD) are merged into one identity each: {listing}; rename them to one spelling to silence this",
            stacklevel=3,
        )
    folders: dict[str, list[str]] = defaultdict(list)
    for name in sorted(spellings):
        folders[safe_component(name)].append(name)
    if clashes := {folder: names for folder, names in folders.items() if len(names) > 1}:
        listing = "; ".join(f"{' and '.join(repr(name) for name in names)} (both become {folder!r})" for folder, names in clashes.items())
        raise ValueError(
            f"identity folders {listing} would share one output folder (only letters, digits, '.', '-' and '_' are kept in folder names): "
            "rename one of them in the dataset (or merge them, if they are the same person) and re-run"
        )


def scan_dataset(
    root: Path,
    cache: JsonlCache | None = None,
    *,
    max_megapixels: float = DEFAULT_MAX_MEGAPIXELS,
    follow_external_symlinks: bool = False,
) -> pd.DataFrame:
    """One row per entry below ``root`` (file, special file, unfollowed symlink, unreadable folder): identity, sha256, size and status.

    The identity is the first folder below ``root``, NFC-normalised: spellings of
    one name in different Unicode forms are merged, with a warning; two folders
    whose names give the same output folder raise ``ValueError`` before any decoding.
    Exact byte duplicates are kept once (the first path in sorted order) and the
    others are marked. Images whose header shows more than ``max_megapixels`` are
    ``too_large``, never decoded. Symlinks that leave ``root`` are ``symlink_outside``
    unless ``follow_external_symlinks``. ``cache`` (keyed by content hash) lets a
    re-run skip decoding.
    """
    entries = walk_dataset(Path(root), follow_external_symlinks)
    check_identities(entries)
    first_seen: dict[str, str] = {}
    rows = [_scan_entry(entry, first_seen, cache, max_megapixels) for entry in progress(entries, "scan")]
    return pd.DataFrame(rows, columns=SCAN_COLUMNS)
