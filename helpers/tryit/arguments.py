"""Every argument of verify, identify and calibrate checked before a model library is imported: one line naming the
argument and the fix, exit 2. Standard library only, so a bad argument is reported at once."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
PACK_NAMES = ("auto", "offline", "buffalo_l", "buffalo_s", "antelopev2")
MAX_FMR = 0.1
MAX_CALIBRATION_PHOTOS = 2000
"""``calibrate`` scores every pair of photos at once: 2,000 photos make 2 million pairs, a peak of 2.7 GB of process memory
here (3,000: 5.2 GB); more is refused."""


class ArgumentError(ValueError):
    """A command-line argument that cannot be used, with what to pass instead."""


def check_photo(name: str, value: str | None) -> None:
    """A photo argument names an existing file."""
    if not value:
        raise ArgumentError(f"{name} is missing: give the path of a photo")
    path = Path(value)
    if path.is_dir():
        raise ArgumentError(f"{name} {value} is a folder: give the path of one photo")
    if not path.is_file():
        raise ArgumentError(f"{name} {value} does not exist: check the path")


def step_folders(folder: Path) -> list[str]:
    """The scored step folders (notebook 02 or 03) directly inside ``folder``."""
    return sorted(p.parent.name for p in folder.glob("0[23]_*/metrics.json"))


def check_model(spec: str) -> None:
    """``--model`` is a pack name, a pack folder or a notebook 02/03 step folder; a run folder names its step folders."""
    path = Path(spec).expanduser()
    if not path.exists():
        if spec in PACK_NAMES or ("/" not in spec and not spec.startswith(".")):
            return  # a pack name: the pack loader says whether it is installed or can be fetched
        raise ArgumentError(f"--model {spec} does not exist: give a notebook 02/03 step folder, a pack folder, or a pack name ({', '.join(PACK_NAMES)})")
    if not path.is_dir():
        raise ArgumentError(f"--model {spec} is a file: give a notebook 02/03 step folder (results/<run>/02_baseline) or a pack folder")
    if (path / "metrics.json").is_file() or any(path.glob("*.onnx")):
        return
    if steps := step_folders(path):
        raise ArgumentError(f"--model {spec} is a run folder: give one of its step folders, e.g. --model {path / steps[-1]} (it has {', '.join(steps)})")
    raise ArgumentError(f"--model {spec} holds neither a scored step (metrics.json) nor a pack (*.onnx): give results/<run>/02_baseline or a pack folder")


def check_threshold(args: argparse.Namespace) -> None:
    """``--threshold`` is a cosine; ``--calibration`` names an existing file; not both."""
    if args.threshold is not None and not -1 <= args.threshold <= 1:
        raise ArgumentError(f"--threshold {args.threshold:g} is not a cosine score: give a value in [-1, 1] (e.g. 0.35)")
    if args.calibration is not None:
        if args.threshold is not None:
            raise ArgumentError("--threshold and --calibration both set the 1:1 threshold: give one of them")
        if not Path(args.calibration).is_file():
            raise ArgumentError(f"--calibration {args.calibration} does not exist: run lqface calibrate FOLDER first, and pass the file it writes")


def check_level(value: str | None) -> None:
    """``--degrade`` names one of notebook 01's levels (imports the degradation module, not a model)."""
    if value is None:
        return
    from helpers.data.degrade import NAMED_LEVELS

    if value not in NAMED_LEVELS:
        raise ArgumentError(f"--degrade {value}: no quality level of that name; valid: {', '.join(NAMED_LEVELS)}")


def check_verify(args: argparse.Namespace) -> None:
    """Two photos, or ``--pairs`` with no photos; the model, the thresholds and the level."""
    if args.pairs is not None:
        if args.photo_a or args.photo_b:
            raise ArgumentError("--pairs scores the pairs of a CSV: give either two photos or --pairs, not both")
        pairs = Path(args.pairs)
        if not pairs.is_file():
            raise ArgumentError(f"--pairs {args.pairs} does not exist: give a CSV with columns a,b (photo paths) and optionally same")
        args.out = args.out or str(pairs.with_name(f"{pairs.stem}-scores.csv"))
        if not Path(args.out).parent.is_dir():
            raise ArgumentError(f"--out {args.out}: its folder does not exist")
    else:
        if args.out is not None:
            raise ArgumentError("--out is the output of --pairs: give --pairs CSV too, or leave --out out")
        check_photo("photo_a", args.photo_a)
        check_photo("photo_b", args.photo_b)
    if args.seed < 0:
        raise ArgumentError(f"--seed {args.seed}: give a seed of 0 or more")
    check_model(args.model)
    check_threshold(args)
    check_level(args.degrade)


def person_folders(root: Path) -> list[Path]:
    """The sub-folders of ``root`` that hold at least one photo."""
    return sorted(p for p in root.iterdir() if p.is_dir() and any(f.suffix.lower() in PHOTO_SUFFIXES for f in p.iterdir() if f.is_file()))


def check_people_folder(name: str, value: str, at_least: int) -> None:
    """A folder of person folders with photos; photos lying loose at its top level are named on stderr (they are not used)."""
    root = Path(value)
    if not root.is_dir():
        raise ArgumentError(f"{name} {value} is not a folder: lay photos out as {value}/<person>/<photo>.jpg")
    people = person_folders(root)
    if len(people) < at_least:
        raise ArgumentError(
            f"{name} {value} has {len(people)} person folders with photos, fewer than {at_least}: lay photos out as {value}/<person>/<photo>.jpg"
        )
    loose = sorted(p.name for p in root.iterdir() if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)
    if loose:
        print(
            f"note: {len(loose)} photos at the top of {value} are not used ({', '.join(loose[:3])}{', ...' if len(loose) > 3 else ''}): put each in its person's folder",
            file=sys.stderr,
        )


def check_identify(args: argparse.Namespace) -> None:
    """A probe photo, a gallery of person folders, ``--top`` of at least 1, the model and the thresholds."""
    check_photo("probe", args.probe)
    if args.top < 1:
        raise ArgumentError(f"--top {args.top}: give how many people to list, at least 1")
    check_people_folder("--gallery", args.gallery, at_least=1)
    check_model(args.model)
    check_threshold(args)


def check_calibrate(args: argparse.Namespace) -> None:
    """A folder of at least two people, an FMR in (0, 0.1], a writable output, the model."""
    check_people_folder("folder", args.folder, at_least=2)
    photos = sum(1 for person in person_folders(Path(args.folder)) for f in person.iterdir() if f.is_file() and f.suffix.lower() in PHOTO_SUFFIXES)
    if photos > MAX_CALIBRATION_PHOTOS:
        raise ArgumentError(
            f"folder {args.folder} has {photos:,} photos; calibrate scores every pair of them at once, so at most {MAX_CALIBRATION_PHOTOS:,}: "
            "copy a few photos of each person into a new folder (more people rather than more photos a person supports a lower FMR)"
        )
    if not 0 < args.fmr <= MAX_FMR:
        raise ArgumentError(f"--fmr {args.fmr:g}: give a false match rate in (0, {MAX_FMR:g}], e.g. 0.01")
    folder = Path(args.folder).resolve()
    args.out = args.out or str(folder.with_name(f"{folder.name}-calibration.json"))
    if not Path(args.out).parent.is_dir():
        raise ArgumentError(f"--out {args.out}: its folder does not exist")
    check_model(args.model)
