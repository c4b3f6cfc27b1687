"""How long ``lqface`` takes to answer, each call a fresh process as a user's would be: ``--help``, a missing photo (an
argument error, answered before any model library loads), and a cold ``verify`` of two LFW photos with the offline pack
(imports, model and detector load, two detections, two embeddings). Median and range over ``--repeats`` calls, written as JSON.
Run: ``python benchmarks/cli_latency.py --repeats 5 --out results/bench/cli_latency.json`` (on an idle machine).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from helpers.core.files import write_json_atomic
from helpers.core.sources import in_mirror

LQFACE = Path(sys.executable).with_name("lqface")
PHOTOS = ("datasets/lfw/lfw-deepfunneled/Colin_Powell/Colin_Powell_0001.jpg", "datasets/lfw/lfw-deepfunneled/Colin_Powell/Colin_Powell_0002.jpg")


def calls(photo_a: str, photo_b: str) -> dict[str, list[str]]:
    """The command lines timed, by name."""
    return {
        "help": ["--help"],
        "missing photo": ["verify", photo_a, photo_a + ".missing"],
        "cold verify": ["verify", photo_a, photo_b, "--model", "offline"],
    }


def seconds(argv: list[str], expected: int) -> float:
    """Wall time of one ``lqface`` call, checked to exit with ``expected``."""
    started = time.perf_counter()
    run = subprocess.run([str(LQFACE), *argv], capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if run.returncode != expected:
        raise SystemExit(f"lqface {' '.join(argv)} exited {run.returncode}, not {expected}: {run.stderr.strip()[-300:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="calls per command line (default: %(default)s)")
    parser.add_argument("--out", type=Path, help="JSON file for the figures")
    args = parser.parse_args()
    found = [in_mirror(photo) for photo in PHOTOS]
    if None in found:
        raise SystemExit(f"LFW is not in the mirror (LQFACE_MIRROR={os.environ.get('LQFACE_MIRROR')}): {PHOTOS}")
    expected = {"help": 0, "missing photo": 2, "cold verify": 0}
    figures = {}
    for name, argv in calls(*(str(p) for p in found)).items():
        times = [seconds(argv, expected[name]) for _ in range(args.repeats)]
        figures[name] = {"median_s": round(statistics.median(times), 3), "min_s": round(min(times), 3), "max_s": round(max(times), 3)}
        print(f"{name:>14}: median {figures[name]['median_s']:.2f} s (min {figures[name]['min_s']:.2f}, max {figures[name]['max_s']:.2f})")
    record = {"repeats": args.repeats, "cpus": os.cpu_count(), "load_average": os.getloadavg(), "calls": figures}
    if args.out:
        write_json_atomic(args.out, record)
        print(json.dumps(record["load_average"]), "->", args.out)


if __name__ == "__main__":
    main()
