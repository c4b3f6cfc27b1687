"""Command line for :func:`helpers.training.train`, for one process or many under ``torchrun``.

    python -m helpers.training config.json
    torchrun --nproc_per_node 2 -m helpers.training config.json

``config.json`` holds :class:`helpers.training.TrainConfig` fields (notebook 03
writes one into its run folder). Rank 0 writes the run summary beside the
checkpoints.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from helpers.core.files import write_json_atomic
from helpers.core.sources import project_path
from helpers.training.config import TrainConfig
from helpers.training.loop import SUMMARY, train


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", type=Path, help="JSON file of TrainConfig fields")
    args = parser.parse_args(argv)
    config = TrainConfig.from_dict(json.loads(args.config.read_text(encoding="utf-8")))
    summary = train(config)
    if "history" in summary:
        write_json_atomic(project_path(config.run_dir) / SUMMARY, summary)


if __name__ == "__main__":
    main()
