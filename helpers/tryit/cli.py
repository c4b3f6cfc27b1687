"""``python -m helpers verify A B`` and ``python -m helpers identify PROBE --gallery DIR``.

Exit codes: 0 match (identify: the best person passes the threshold), 1 no match (or "unknown"),
2 error: a photo unreadable or without a face, a bad argument, or no threshold to decide with.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from helpers.data.faces import Face
from helpers.tryit.faces import LEVELS, NoFace, UnreadablePhoto, level_named, read_photo
from helpers.tryit.identify import enrol_folder, identify
from helpers.tryit.models import Operating, TryModel, load_model
from helpers.tryit.verify import verify

MATCH, NO_MATCH, ERROR = 0, 1, 2
NO_THRESHOLD = (
    "no operating threshold for this model: run notebook 02 (or 03) on it (`make demo` does) so its step folder holds one, "
    "pass that folder as --model, or give --threshold"
)


def parser() -> argparse.ArgumentParser:
    """The command line: ``verify`` and ``identify``, each with ``--model`` and ``--threshold``."""
    main = argparse.ArgumentParser(prog="python -m helpers", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = main.add_subparsers(dest="command", required=True)
    check = commands.add_parser("verify", help="are two photos the same person?")
    check.add_argument("photo_a", help="gallery photo")
    check.add_argument("photo_b", help="probe photo")
    check.add_argument("--degrade", metavar="LEVEL", help=f"degrade the probe photo before detection: {', '.join(LEVELS)}")
    check.add_argument("--seed", type=int, default=0, help="seed of the degradation's randomness")
    search = commands.add_parser("identify", help="who in a gallery folder is this?")
    search.add_argument("probe")
    search.add_argument("--gallery", required=True, help="folder of person folders: GALLERY/<person>/<photo>")
    search.add_argument("--top", type=int, default=5)
    for command in (check, search):
        command.add_argument("--model", default="auto", help="a notebook 02/03 step folder, or a pack: auto (default), offline, buffalo_l, a folder")
        command.add_argument("--threshold", type=float, help="decide at this cosine instead of the run's operating threshold")
    return main


def describe(operating: Operating) -> str:
    """The threshold and where it came from."""
    fmr = "" if operating.fmr is None else f", set at FMR {operating.fmr:g} on val impostor pairs"
    return f"{operating.threshold:.4f} ({operating.source}{fmr})"


def face_line(label: str, face: Face, note: str) -> str:
    """One detection: box, confidence and the note on a choice among several faces."""
    box = ", ".join(f"{v:.0f}" for v in face.bbox)
    return f"{label}: face at [{box}], confidence {face.score:.2f}" + (f" ({note})" if note else "")


def decide(operating: Operating | None, accepted: bool | None, decision: str, caveat: str = "") -> int:
    """Print the threshold and the decision and return the exit code; without a threshold, say how to get one (exit 2)."""
    if operating is None:
        print(f"error: {NO_THRESHOLD}", file=sys.stderr)
        return ERROR
    print(f"threshold: {describe(operating)}{caveat}")
    print(f"decision: {decision}")
    return MATCH if accepted else NO_MATCH


def run_verify(model: TryModel, args: argparse.Namespace) -> int:
    """Print the verification and return its exit code."""
    level = None if args.degrade is None else level_named(args.degrade)
    found = verify(model, read_photo(args.photo_a), read_photo(args.photo_b), (args.photo_a, args.photo_b), level, args.seed)
    print(face_line(args.photo_a, found.faces[0].face, found.faces[0].note))
    print(face_line(args.photo_b + (f" at {found.level}" if found.level else ""), found.faces[1].face, found.faces[1].note))
    print(f"model: {model.name} ({model.source}) | score: {found.score:.4f}")
    return decide(found.operating, found.match, "match" if found.match else "no match")


def run_identify(model: TryModel, args: argparse.Namespace) -> int:
    """Print the top matches and return the exit code."""
    enrolled = enrol_folder(model, args.gallery)
    for path, reason in enrolled.skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    found = identify(model, enrolled, read_photo(args.probe), args.probe, args.top)
    print(face_line(args.probe, found.face.face, found.face.note))
    print(f"model: {model.name} ({model.source}) | gallery: {len(enrolled.gallery)} people, {enrolled.images} photos")
    for rank, (person, score) in enumerate(zip(found.people, found.scores, strict=True), start=1):
        print(f"{rank:>3}. {person}  {score:.4f}")
    caveat = " (a 1:1 threshold: a larger gallery raises the chance of a false match)"
    return decide(found.operating, found.accepted, found.people[0] if found.accepted else "unknown", caveat)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; errors are printed to stderr with exit code 2."""
    args = parser().parse_args(argv)
    try:
        model = load_model(args.model, args.threshold)
        return run_verify(model, args) if args.command == "verify" else run_identify(model, args)
    except (NoFace, UnreadablePhoto, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return ERROR
