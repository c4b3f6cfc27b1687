"""Scan a folder-per-identity dataset: fully decode every file and record what is wrong with it.

Nothing here writes to the dataset. Each file gets one row with a ``status``
(``ok`` or the problem found) and a human-readable ``reason``; files that are
readable only after a conversion stay ``ok`` and list the conversions.
"""

from __future__ import annotations

import os
import warnings
from io import BytesIO
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from PIL import Image, ImageOps, UnidentifiedImageError

from helpers.core.cache import JsonlCache
from helpers.core.files import sha256_bytes
from helpers.core.progress import progress
from helpers.data.manifest import CORRUPT, DUPLICATE, EMPTY, MARKED_BAD, NO_IDENTITY, NOT_IMAGE, OK, SCAN_COLUMNS

# Suffixes by which dataset authors flag a file as a failed capture (Extended Yale B: *.pgm.bad).
BAD_SUFFIXES = (".bad",)


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


def decode_rgb(data: bytes, name: str = "<bytes>") -> tuple[np.ndarray, list[str]]:
    """Fully decode image bytes to RGB uint8, raising :class:`UndecodableImage` on any problem."""
    if not data:
        raise UndecodableImage(EMPTY, "zero-byte file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(BytesIO(data)) as image:
                image.load()  # decodes every pixel: truncated files fail here, not at the header
                return _pil_to_rgb(image)
    except UnidentifiedImageError:
        fallback = _opencv_to_rgb(data)
        if fallback is None:
            raise UndecodableImage(NOT_IMAGE, "not an image format that Pillow or OpenCV can read") from None
        return fallback
    except UndecodableImage:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UndecodableImage(CORRUPT, f"cannot be fully decoded ({exc}); re-export or re-download {name}") from None


def load_rgb(path: Path) -> np.ndarray:
    """Read an image file as RGB uint8 (the same decoding the scan validated)."""
    return decode_rgb(Path(path).read_bytes(), str(path))[0]


def list_files(root: Path) -> list[str]:
    """Every regular file below ``root``, as sorted POSIX paths relative to it."""
    root = Path(root)
    found = []
    for folder, dirs, files in os.walk(root, followlinks=True):
        dirs.sort()
        for name in files:
            found.append((Path(folder) / name).relative_to(root).as_posix())
    return sorted(found)


def _inspect(data: bytes, relpath: str) -> dict:
    if relpath.lower().endswith(BAD_SUFFIXES):
        return {"status": MARKED_BAD, "reason": "file name marks it as a failed capture (*.bad suffix by the dataset's authors)"}
    try:
        rgb, notes = decode_rgb(data, relpath)
    except UndecodableImage as exc:
        return {"status": exc.status, "reason": str(exc)}
    return {"status": OK, "reason": "", "width": int(rgb.shape[1]), "height": int(rgb.shape[0]), "conversions": "; ".join(notes)}


def scan_dataset(root: Path, cache: JsonlCache | None = None) -> pd.DataFrame:
    """One row per file below ``root``: identity, sha256, size and decode status.

    The identity is the first folder below ``root``. Exact byte duplicates are
    kept once (the first path in sorted order) and the others are marked.
    ``cache`` (keyed by content hash) lets a re-run skip decoding.
    """
    root = Path(root)
    rows = []
    first_seen: dict[str, str] = {}
    for relpath in progress(list_files(root), "scan"):
        data = (root / relpath).read_bytes()
        digest = sha256_bytes(data)
        parts = relpath.split("/")
        row = {"path": relpath, "identity": parts[0] if len(parts) > 1 else "", "sha256": digest, "bytes": len(data)}
        if len(parts) == 1:
            row |= {"status": NO_IDENTITY, "reason": "file sits at the dataset root; put images under <identity>/<image>"}
        elif digest in first_seen:
            row |= {"status": DUPLICATE, "reason": f"same bytes as {first_seen[digest]}"}
        else:
            key = f"{digest}:{relpath.lower().endswith(BAD_SUFFIXES)}"
            if cache is None or (info := cache.get(key)) is None:
                info = _inspect(data, relpath)
                if cache is not None:
                    cache.put(key, info)
            row |= info
            if info["status"] == OK:
                first_seen[digest] = relpath
        rows.append(row)
    frame = pd.DataFrame(rows, columns=SCAN_COLUMNS)
    frame["conversions"] = frame["conversions"].fillna("")
    return frame
