"""``lqface verify A B``, ``lqface identify PROBE --gallery DIR`` and ``lqface app``: a model on your own photos.

Exit codes of verify and identify: 0 match (identify: the best person passes the threshold), 1 no match (or
"unknown"), 2 error: a photo unreadable or without a face, a bad argument, or no threshold to decide with.
Models, detectors and the app are imported when a command runs, so ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from helpers.data.faces import Face
    from helpers.tryit.models import Operating, TryModel

MATCH, NO_MATCH, ERROR = 0, 1, 2
NO_THRESHOLD = (
    "no operating threshold for this model: run notebook 02 (or 03) on it (`make demo` does) so its step folder holds one, "
    "pass that folder as --model, or give --threshold (a run whose val split was too small to support one holds none: "
    "its metrics.json says why)"
)


def _add_model(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", default="auto", help="a notebook 02/03 step folder, or a pack: auto, offline, buffalo_l, a pack folder (default: %(default)s)"
    )
    parser.add_argument("--threshold", type=float, help="decide at this cosine instead of the run's operating threshold (default: the run's)")


def add_verify_arguments(parser: argparse.ArgumentParser) -> None:
    """photo_a photo_b [--degrade LEVEL] [--seed N] [--model M] [--threshold T]."""
    parser.add_argument("photo_a", help="gallery photo")
    parser.add_argument("photo_b", help="probe photo")
    parser.add_argument("--degrade", metavar="LEVEL", help="degrade the probe photo before detection at a named level: px16, real24, blur4, jpeg10, ...")
    parser.add_argument("--seed", type=int, default=0, help="seed of the degradation's randomness (default: %(default)s)")
    _add_model(parser)


def add_identify_arguments(parser: argparse.ArgumentParser) -> None:
    """probe --gallery DIR [--top K] [--model M] [--threshold T]."""
    parser.add_argument("probe", help="probe photo")
    parser.add_argument("--gallery", required=True, help="folder of person folders: GALLERY/<person>/<photo>")
    parser.add_argument("--top", type=int, default=5, help="how many people to list (default: %(default)s)")
    _add_model(parser)


def add_app_arguments(parser: argparse.ArgumentParser) -> None:
    """[--host H] [--port P] [--share] [--results DIR]."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: %(default)s, this machine only)")
    parser.add_argument("--port", type=int, default=7860, help="port of the web app (default: %(default)s)")
    parser.add_argument("--share", action="store_true", help="ask Gradio for a public share link")
    parser.add_argument("--results", help="folder of pipeline runs whose models are offered (default: results/ in the project)")


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
    from helpers.data.degrade import level_named
    from helpers.tryit.faces import read_photo
    from helpers.tryit.verify import verify

    level = None if args.degrade is None else level_named(args.degrade)
    found = verify(model, read_photo(args.photo_a), read_photo(args.photo_b), (args.photo_a, args.photo_b), level, args.seed)
    print(face_line(args.photo_a, found.faces[0].face, found.faces[0].note))
    print(face_line(args.photo_b + (f" at {found.level}" if found.level else ""), found.faces[1].face, found.faces[1].note))
    print(f"model: {model.name} ({model.source}) | score: {found.score:.4f}")
    return decide(found.operating, found.match, "match" if found.match else "no match")


def run_identify(model: TryModel, args: argparse.Namespace) -> int:
    """Print the top matches and return the exit code."""
    from helpers.tryit.faces import read_photo
    from helpers.tryit.identify import enrol_folder, identify

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


def decide_photos(args: argparse.Namespace) -> int:
    """``verify`` or ``identify`` (by ``args.command``); errors are printed to stderr with exit code 2."""
    from helpers.tryit.faces import NoFace, UnreadablePhoto
    from helpers.tryit.models import load_model

    try:
        model = load_model(args.model, args.threshold)
        return run_verify(model, args) if args.command == "verify" else run_identify(model, args)
    except (NoFace, UnreadablePhoto, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return ERROR


def serve_app(args: argparse.Namespace) -> int:
    """Serve the try-it web app until interrupted."""
    from helpers.pipeline.folders import RESULTS
    from helpers.tryit.app import build

    build(args.results or RESULTS).launch(server_name=args.host, server_port=args.port, share=args.share)
    return 0
