"""lqface: every job of the workbench from one command (python -m helpers is the same).

    lqface run CONFIG                     the numbered notebooks from a config, resumably (docs/pipeline.md)
    lqface verify A B                     are two photos the same person? (docs/tryit.md)
    lqface verify --pairs PAIRS.csv       many pairs, one model load: a CSV of scores and decisions out
    lqface identify PROBE --gallery DIR   who in a folder of people is this?
    lqface calibrate FOLDER               a threshold at a target FMR on your own folder-per-person photos
    lqface app                            the try-it web app on http://127.0.0.1:7860

Each subcommand's module is imported, and its models loaded, only when it runs: --help answers at once.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from helpers import __version__
from helpers.pipeline import cli as pipeline_cli
from helpers.tryit import cli as tryit_cli

Command = tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]
COMMANDS: dict[str, Command] = {
    "run": ("run the numbered notebooks from a YAML config, resuming an unfinished run", pipeline_cli.add_arguments, pipeline_cli.run),
    "verify": ("are two photos the same person? (exit 0 match, 1 no match, 2 error)", tryit_cli.add_verify_arguments, tryit_cli.decide_photos),
    "identify": ("who in a gallery folder is this? (exit 0 named, 1 unknown, 2 error)", tryit_cli.add_identify_arguments, tryit_cli.decide_photos),
    "calibrate": ("a threshold at a target FMR on your photos (exit 0 set, 2 error)", tryit_cli.add_calibrate_arguments, tryit_cli.run_calibrate),
    "app": ("the try-it web app: verify, degrade and identify in a browser", tryit_cli.add_app_arguments, tryit_cli.serve_app),
}


def parser() -> argparse.ArgumentParser:
    """``lqface`` and its subcommands, each ``--help`` listing its options with their defaults."""
    main = argparse.ArgumentParser(prog="lqface", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    main.add_argument("--version", action="version", version=f"lqface {__version__}")
    commands = main.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (summary, add_arguments, _) in COMMANDS.items():
        add_arguments(commands.add_parser(name, help=summary, description=summary))
    return main


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; returns its exit code."""
    args = parser().parse_args(argv)
    return COMMANDS[args.command][2](args)
