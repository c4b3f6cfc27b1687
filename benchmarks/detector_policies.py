"""Failure to acquire per level under each end-to-end detector policy, on a processed folder notebook 01 wrote.

Re-runs notebook 01's end-to-end step (``acquire_levels``: degrade the photo, detect on it alone, align
whatever face is picked) on the same val and test images and levels, once per policy (``native``: the
degraded photo as it is, padded; ``fit:<size>``: resized into the detector's square, InsightFace's
``det_size``), into a throwaway folder, and prints per level the failure-to-acquire rate and the share
of acquired faces that are not the HQ one (``wrong_face``) under each.
Run: ``python benchmarks/detector_policies.py --processed processed_dataset/lfw --policies native fit:640``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pandas as pd

from helpers.core.files import write_json_atomic
from helpers.data.acquire import acquire_levels, failure_counts, parse_policy
from helpers.data.detectors import open_detector
from helpers.data.levels import load_levels
from helpers.data.manifest import load_manifest, load_source
from helpers.models.packs import resolve_detector


def policy_table(processed: Path, policies: list[str], detector: str, threshold: float) -> pd.DataFrame:
    """Per level (rows): images, then each policy's failure-to-acquire rate and wrong-face share of the acquired."""
    manifest, levels, source = load_manifest(processed), load_levels(processed), load_source(processed)
    model, _ = resolve_detector(detector)
    columns = {}
    for policy in policies:
        with tempfile.TemporaryDirectory() as scratch:
            table = acquire_levels(manifest, Path(source.root), Path(scratch), levels, open_detector(model, threshold, parse_policy(policy)))
        counts = failure_counts(table)
        columns["images"] = counts["images"]
        columns[f"{policy} FTA"] = counts["fta_rate"]
        columns[f"{policy} wrong face"] = counts["wrong_face_rate"]
    return pd.DataFrame(columns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processed", type=Path, required=True, help="a processed folder of notebook 01 (manifest.csv, levels.json, source.json)")
    parser.add_argument("--policies", nargs="+", default=["native", "fit:640"])
    parser.add_argument("--detector", default="offline", help="detector or pack, as notebook 01's `detector`")
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--out", type=Path, help="JSON file for the table")
    args = parser.parse_args()
    table = policy_table(args.processed, args.policies, args.detector, args.threshold)
    print(table.round(3).to_string())
    if args.out:
        write_json_atomic(args.out, {"processed": str(args.processed), "detector": args.detector, "table": table.reset_index().to_dict("records")})


if __name__ == "__main__":
    main()
