"""``lqface verify A B``, ``lqface identify PROBE --gallery DIR``, ``lqface calibrate FOLDER`` and ``lqface app``.

Exit codes of verify and identify: 0 match (identify: the best person passes the threshold), 1 no match (or
"unknown"), 2 error: a bad argument, a photo unreadable or without a face, or no threshold to decide with; an
error is one line on stderr. Arguments are checked before any model library is imported, so a bad one is
reported at once; models, detectors and the app are imported only when a command runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from helpers.tryit.arguments import ArgumentError, check_calibrate, check_identify, check_verify

if TYPE_CHECKING:
    from helpers.data.faces import Face
    from helpers.tryit.models import TryModel
    from helpers.tryit.quality import FaceQuality
    from helpers.tryit.thresholds import Operating

MATCH, NO_MATCH, ERROR = 0, 1, 2
NO_THRESHOLD = (
    "no threshold for this model: run notebook 02 (or 03) on it (`make demo` does) and pass its step folder as --model, "
    "calibrate one on your photos (lqface calibrate FOLDER), or give --threshold"
)


def _add_model(parser: argparse.ArgumentParser, thresholds: bool = True) -> None:
    parser.add_argument(
        "--model", default="auto", help="a notebook 02/03 step folder, or a pack: auto, offline, buffalo_l, a pack folder (default: %(default)s)"
    )
    if thresholds:
        parser.add_argument("--threshold", type=float, help="decide at this cosine, in [-1, 1] (default: the model's thresholds, see docs/tryit.md)")
        parser.add_argument("--calibration", metavar="FILE", help="decide 1:1 at the threshold lqface calibrate wrote in FILE")


def add_verify_arguments(parser: argparse.ArgumentParser) -> None:
    """photo_a photo_b | --pairs CSV --out CSV; [--degrade LEVEL] [--seed N] [--model M] [--threshold T] [--calibration FILE]."""
    parser.add_argument("photo_a", nargs="?", help="gallery photo")
    parser.add_argument("photo_b", nargs="?", help="probe photo")
    parser.add_argument("--pairs", metavar="CSV", help="batch mode: a CSV with columns a,b (photo paths) and optionally same (1/0)")
    parser.add_argument("--out", metavar="CSV", help="batch mode: where to write a,b,score,decision,threshold,error (default: PAIRS-scores.csv)")
    parser.add_argument("--degrade", metavar="LEVEL", help="degrade the probe photo before detection at a named level: px16, real24, blur4, jpeg10, ...")
    parser.add_argument("--seed", type=int, default=0, help="seed of the degradation's randomness (default: %(default)s)")
    _add_model(parser)


def add_identify_arguments(parser: argparse.ArgumentParser) -> None:
    """probe --gallery DIR [--top K] [--model M] [--threshold T]."""
    parser.add_argument("probe", help="probe photo")
    parser.add_argument("--gallery", required=True, help="folder of person folders: GALLERY/<person>/<photo>")
    parser.add_argument("--top", type=int, default=5, help="how many people to list, at least 1 (default: %(default)s)")
    _add_model(parser)


def add_calibrate_arguments(parser: argparse.ArgumentParser) -> None:
    """folder [--fmr F] [--out FILE] [--model M]."""
    parser.add_argument("folder", help="your photos: FOLDER/<person>/<photo>, at least two people")
    parser.add_argument("--fmr", type=float, default=0.01, help="the false match rate to set the threshold at, in (0, 0.1] (default: %(default)s)")
    parser.add_argument("--out", metavar="FILE", help="where to write the calibration (default: FOLDER-calibration.json beside the folder)")
    _add_model(parser, thresholds=False)


def add_app_arguments(parser: argparse.ArgumentParser) -> None:
    """[--host H] [--port P] [--share] [--results DIR]."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: %(default)s, this machine only)")
    parser.add_argument("--port", type=int, default=7860, help="port of the web app (default: %(default)s)")
    parser.add_argument("--share", action="store_true", help="ask Gradio for a public share link")
    parser.add_argument("--results", help="folder of pipeline runs whose models are offered (default: results/ in the project)")


def face_line(label: str, face: Face, note: str) -> str:
    """One detection: box, confidence and the note on a choice among several faces."""
    box = ", ".join(f"{v:.0f}" for v in face.bbox)
    return f"{label}: face at [{box}], confidence {face.score:.2f}" + (f" ({note})" if note else "")


def print_quality(label: str, quality: FaceQuality) -> None:
    """A face's quality measures and the gate's verdict on it, indented under its face line."""
    from helpers.tryit.quality import quality_lines

    for line in quality_lines(label, quality):
        print(f"  {line}")


def decide(operating: Operating | None, accepted: bool | None, decision: str, caveat: str = "") -> int:
    """Print the threshold and the decision (with ``caveat`` beside it: a face the quality gate rejects) and return the
    exit code, which the caveat never changes; without a threshold, say how to get one (exit 2)."""
    if operating is None:
        print(f"error: {NO_THRESHOLD}", file=sys.stderr)
        return ERROR
    print(f"threshold: {operating.describe()}")
    print(f"decision: {decision}{caveat}")
    return MATCH if accepted else NO_MATCH


def run_verify(model: TryModel, args: argparse.Namespace) -> int:
    """Print the verification, each face's quality and the gate's verdict, and return its exit code."""
    from helpers.data.degrade import level_named
    from helpers.tryit.faces import read_photo
    from helpers.tryit.quality import gate_caveat, gate_line, quality_of
    from helpers.tryit.verify import verify

    level = None if args.degrade is None else level_named(args.degrade)
    found = verify(model, read_photo(args.photo_a), read_photo(args.photo_b), (args.photo_a, args.photo_b), level, args.seed)
    paths, labels = (args.photo_a, args.photo_b + (f" at {found.level}" if found.level else "")), ("photo A", "photo B")
    qualities = [quality_of(model, face) for face in found.faces]
    for face, path, label, quality in zip(found.faces, paths, labels, qualities, strict=True):
        print(face_line(path, face.face, face.note))
        print_quality(label, quality)
    print(f"model: {model.name} ({model.source}) | score: {found.score:.4f}")
    print(gate_line(model))
    return decide(found.operating, found.match, "match" if found.match else "no match", gate_caveat(labels, qualities))


def run_batch(model: TryModel, args: argparse.Namespace) -> int:
    """Score every pair of a CSV into another; 0 when every pair was scored, 2 when some could not be."""
    from helpers.tryit.batch import verify_pairs
    from helpers.tryit.quality import gate_line

    if model.operating is None:
        print(f"note: {NO_THRESHOLD}; scores are written without decisions", file=sys.stderr)
    outcome = verify_pairs(model, Path(args.pairs), Path(args.out), args.degrade, args.seed)
    print(f"{outcome.pairs} pairs -> {args.out}: {outcome.matches} match, {outcome.pairs - outcome.matches - outcome.failed} no match, {outcome.failed} failed")
    if model.operating is not None:
        print(f"threshold: {model.operating.describe()}")
    print(gate_line(model) + ("" if model.gate is None else f"; {outcome.gated} pairs hold a face it rejects (columns gate_a, gate_b)"))
    if outcome.warning:
        print(outcome.warning, file=sys.stderr)
    return ERROR if outcome.failed else MATCH


def run_identify(model: TryModel, args: argparse.Namespace) -> int:
    """Print the top matches and the open-set decision, and return the exit code."""
    from helpers.tryit.faces import read_photo
    from helpers.tryit.identify import enrol_folder, identify
    from helpers.tryit.quality import gate_caveat, gate_line, quality_of

    enrolled = enrol_folder(model, args.gallery)
    for path, reason in enrolled.skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    found = identify(model, enrolled, read_photo(args.probe), args.probe, args.top)
    quality = quality_of(model, found.face)
    print(face_line(args.probe, found.face.face, found.face.note))
    print_quality("probe", quality)
    print(f"model: {model.name} ({model.source}) | gallery: {len(enrolled.gallery)} people, {enrolled.images} photos")
    print(gate_line(model))
    for rank, (person, score) in enumerate(zip(found.people, found.scores, strict=True), start=1):
        print(f"{rank:>3}. {person}  {score:.4f}")
    if found.decided_by is None:
        print(f"error: {NO_THRESHOLD}", file=sys.stderr)
        return ERROR
    print(f"threshold: {found.describe_threshold(len(enrolled.gallery))}")
    print(f"decision: {found.verdict}{gate_caveat(['the probe'], [quality])}")
    return MATCH if found.accepted else NO_MATCH


def decide_photos(args: argparse.Namespace) -> int:
    """``verify`` or ``identify`` (by ``args.command``): arguments checked first, then the model loaded; errors exit 2."""
    try:
        (check_verify if args.command == "verify" else check_identify)(args)
    except ArgumentError as error:
        print(f"error: {error}", file=sys.stderr)
        return ERROR
    from helpers.core.sources import ResourceUnavailable
    from helpers.tryit.calibration import CalibrationMismatch
    from helpers.tryit.faces import NoFace, UnreadablePhoto
    from helpers.tryit.models import load_model

    try:
        model = load_model(args.model, args.threshold, calibration=args.calibration)
        if args.command == "identify":
            return run_identify(model, args)
        return run_batch(model, args) if args.pairs else run_verify(model, args)
    except (NoFace, UnreadablePhoto, CalibrationMismatch, ResourceUnavailable, OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return ERROR


def run_calibrate(args: argparse.Namespace) -> int:
    """Set a threshold on the user's folder, write it, and print it with the rule-of-30 warning when it applies."""
    try:
        check_calibrate(args)
    except ArgumentError as error:
        print(f"error: {error}", file=sys.stderr)
        return ERROR
    from helpers.core.sources import ResourceUnavailable
    from helpers.tryit.calibration import calibrate, write_calibration
    from helpers.tryit.faces import NoFace
    from helpers.tryit.identify import enrol_folder
    from helpers.tryit.models import load_model

    try:
        model = load_model(args.model)
        enrolled = enrol_folder(model, args.folder)
        for path, reason in enrolled.skipped:
            print(f"skipped {path}: {reason}", file=sys.stderr)
        found = calibrate(enrolled.gallery, args.fmr, args.folder, model.name, model.recogniser.sha256)
    except (NoFace, ResourceUnavailable, OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return ERROR
    target = write_calibration(found, Path(args.out))
    print(f"{found.people} people, {found.images} photos: {found.impostor_pairs:,} different-person and {found.genuine_pairs:,} same-person pairs")
    if found.warning():
        print(f"warning: {found.warning()}", file=sys.stderr)
    if found.threshold is None:
        return ERROR
    fnmr = "" if found.fnmr is None else f"; on these photos FNMR {found.fnmr:.3f} (optimistic: the same photos set it)"
    print(f"threshold: {found.threshold:.4f} at FMR {found.fmr:g}{fnmr}")
    print(f"written to {target}: pass --calibration {target} to verify or identify")
    return MATCH


def serve_app(args: argparse.Namespace) -> int:
    """Serve the try-it web app until interrupted."""
    from helpers.core.sources import RESULTS
    from helpers.tryit.app import build

    build(args.results or RESULTS).launch(server_name=args.host, server_port=args.port, share=args.share)
    return 0
