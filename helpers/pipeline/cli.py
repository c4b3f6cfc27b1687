"""``lqface run CONFIG`` (also ``python -m helpers.pipeline CONFIG``): the numbered notebooks from a config, resumably.

Exit codes: 0 every step completed, 1 a step failed, 2 an unusable config or run folder, 130 interrupted.
The runner is imported when a run starts, so ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DONE, STEP_FAILED, UNUSABLE, INTERRUPTED = 0, 1, 2, 130


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """CONFIG [--results DIR] [--run-dir DIR | --new]."""
    parser.add_argument("config", type=Path, help="pipeline config, e.g. configs/demo.yaml (docs/pipeline.md)")
    parser.add_argument("--results", type=Path, help="folder holding the run folders (default: results/ in the project)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--run-dir", type=Path, help="use or resume exactly this run folder (default: the newest unfinished run of this config)")
    where.add_argument("--new", action="store_true", help="start a fresh run folder even when an earlier run of this config exists")


def run(args: argparse.Namespace) -> int:
    """Run or resume the config; errors go to stderr and the exit code says which kind."""
    from helpers.pipeline.config import ConfigError
    from helpers.pipeline.folders import RunFolderError
    from helpers.pipeline.runner import StepFailed, run_pipeline

    try:
        run_pipeline(args.config, args.results, args.run_dir, args.new)
    except (ConfigError, RunFolderError) as exc:
        print(f"[pipeline] error: {exc}", file=sys.stderr, flush=True)
        return UNUSABLE
    except StepFailed as exc:
        print(f"[pipeline] error: {exc}", file=sys.stderr, flush=True)
        return STEP_FAILED
    except KeyboardInterrupt:
        print("[pipeline] interrupted; re-run the same command to resume", file=sys.stderr, flush=True)
        return INTERRUPTED
    return DONE
