"""``python -m helpers.pipeline CONFIG [--results DIR] [--run-dir DIR | --new]``: the same as ``lqface run`` (:mod:`helpers.pipeline.cli`)."""

import argparse
import sys

from helpers.pipeline.cli import add_arguments, run

parser = argparse.ArgumentParser(
    prog="python -m helpers.pipeline",
    description="Run the numbered notebooks in order from a YAML config, resuming unfinished runs (the same as `lqface run`).",
)
add_arguments(parser)
sys.exit(run(parser.parse_args()))
