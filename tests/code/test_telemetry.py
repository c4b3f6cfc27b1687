"""ONNX Runtime sessions made by the workbench leave no telemetry behind (device id, event database)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import onnx
from onnx import TensorProto, helper

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# ONNX Runtime collects nothing when it thinks it runs in CI; these are cleared so the check means something there too.
CI_VARIABLES = ("CI", "TF_BUILD", "GITHUB_ACTIONS", "GITLAB_CI", "CIRCLECI", "TRAVIS", "JENKINS_URL", "CODEBUILD_BUILD_ID", "BUILDKITE")
SESSION = """
import sys
import numpy as np
from helpers.core.devices import inference_session
session = inference_session(sys.argv[1], ["CPUExecutionProvider"])
print(session.run(None, {"x": np.ones(2, dtype=np.float32)})[0])
"""


def identity_model(path: Path) -> Path:
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "identity",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_a_workbench_session_writes_no_telemetry_under_home(tmp_path: Path) -> None:
    """Without helpers' ORT_DISABLE_TELEMETRY=1, onnxruntime-gpu 1.31.1 writes ~/.cache/Microsoft/DeveloperTools/.onnxruntime/."""
    home = tmp_path / "home"
    home.mkdir()
    env = {key: value for key, value in os.environ.items() if key not in (*CI_VARIABLES, "ORT_DISABLE_TELEMETRY")}
    env.update(HOME=str(home), PYTHONPATH=str(PROJECT_ROOT), CUDA_VISIBLE_DEVICES="")
    done = subprocess.run(
        [sys.executable, "-c", SESSION, str(identity_model(tmp_path / "identity.onnx"))], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "[1. 1.]" in done.stdout
    assert not (home / ".cache" / "Microsoft").exists(), sorted(p.relative_to(home).as_posix() for p in home.rglob("*"))


def test_importing_onnxruntime_before_helpers_is_pointed_out(tmp_path: Path) -> None:
    """Then it is too late for ORT_DISABLE_TELEMETRY (a stand-in module plays onnxruntime, so nothing is collected here)."""
    code = "import sys, types; sys.modules['onnxruntime'] = types.ModuleType('onnxruntime'); import helpers"
    env = {key: value for key, value in os.environ.items() if key != "ORT_DISABLE_TELEMETRY"}
    env.update(HOME=str(tmp_path), PYTHONPATH=str(PROJECT_ROOT))
    done = subprocess.run([sys.executable, "-W", "always", "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "imported before helpers" in done.stderr and "ORT_DISABLE_TELEMETRY=1" in done.stderr
    env["ORT_DISABLE_TELEMETRY"] = "1"
    done = subprocess.run([sys.executable, "-W", "always", "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stderr == ""
