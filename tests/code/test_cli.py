"""The ``lqface`` entry point: subcommands, their options with defaults, and help that loads no model."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.cli import COMMANDS, main, parser

ROOT = Path(__file__).resolve().parents[2]
LQFACE = Path(sys.executable).with_name("lqface")  # the console script pyproject.toml installs beside the interpreter
HEAVY = ("torch", "onnxruntime", "papermill", "gradio", "cv2", "insightface", "sklearn")


def test_the_console_script_lists_every_subcommand() -> None:
    run = subprocess.run([str(LQFACE), "--help"], capture_output=True, text=True, check=True)
    for name in ("run", "verify", "identify", "calibrate", "app"):
        assert re.search(rf"\n    {name}\s", run.stdout), name
    assert run.stdout == subprocess.run([sys.executable, "-m", "helpers", "--help"], cwd=ROOT, capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        ("run", ["config", "--results", "--run-dir", "--new"]),
        ("verify", ["photo_a", "photo_b", "--pairs", "--out", "--degrade", "(default: 0)", "(default: auto)", "--threshold", "--calibration"]),
        ("calibrate", ["folder", "--fmr", "(default: 0.01)", "--out", "(default: auto)"]),
        ("identify", ["probe", "--gallery", "--top", "(default: 5)", "(default: auto)"]),
        ("app", ["--host", "(default: 127.0.0.1", "(default: 7860)", "--share", "--results"]),
    ],
)
def test_each_subcommand_lists_its_options_with_defaults(command: str, shown: list[str], capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    text = capsys.readouterr().out
    assert done.value.code == 0 and all(item in text for item in shown), text
    assert "(default: None)" not in text


def test_help_imports_no_model_library() -> None:
    """``--help`` of every subcommand builds without torch, ONNX Runtime, papermill or gradio: it answers at once."""
    code = "import sys; from helpers.cli import parser; parser().format_help(); print(' '.join(m for m in sys.argv[1:] if m in sys.modules))"
    run = subprocess.run([sys.executable, "-c", code, *HEAVY], cwd=ROOT, capture_output=True, text=True, check=True)
    assert run.stdout.strip() == ""


def test_a_wrong_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as done:
        main(["prepare"])
    assert done.value.code == 2 and "invalid choice: 'prepare'" in capsys.readouterr().err
    assert set(COMMANDS) == {"run", "verify", "identify", "calibrate", "app"} and parser().prog == "lqface"


def test_run_names_a_missing_config_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["run", str(tmp_path / "nope.yaml"), "--results", str(tmp_path)]) == 2
    assert "nope.yaml: no such config file (shipped: " in capsys.readouterr().err
