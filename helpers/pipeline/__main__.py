"""The pipeline's command line.

python -m helpers.pipeline configs/demo.yaml                  # new run, or resume the newest run of this config
python -m helpers.pipeline configs/demo.yaml --new            # always a fresh run folder
python -m helpers.pipeline configs/demo.yaml --run-dir DIR    # use / resume exactly this folder
python -m helpers.pipeline configs/demo.yaml --results DIR    # look for and create run folders under DIR
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from helpers.core.sources import project_path
from helpers.pipeline.config import ConfigError
from helpers.pipeline.folders import RESULTS, RunFolderError
from helpers.pipeline.runner import StepFailed, run_pipeline


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line: CONFIG [--results DIR] [--run-dir DIR | --new]."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers.pipeline", description="Run the numbered notebooks in order from a YAML config, resuming unfinished runs."
    )
    parser.add_argument("config", type=Path, help="pipeline config, e.g. configs/demo.yaml")
    parser.add_argument("--results", type=Path, help=f"folder holding the run folders (default: {project_path(RESULTS)})")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--run-dir", type=Path, help="use or resume exactly this run folder")
    where.add_argument("--new", action="store_true", help="start a fresh run folder even when an earlier run of this config exists")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the exit status (0 done, 1 a step failed, 2 unusable config or folder, 130 interrupted)."""
    args = parse_args(argv)
    try:
        run_pipeline(args.config, args.results, args.run_dir, args.new)
    except (ConfigError, RunFolderError) as exc:
        print(f"[pipeline] error: {exc}", file=sys.stderr, flush=True)
        return 2
    except StepFailed as exc:
        print(f"[pipeline] error: {exc}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("[pipeline] interrupted; re-run the same command to resume", file=sys.stderr, flush=True)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
