"""Run provenance: which package versions and which machine a run executed on.

``python -m helpers.pipeline.provenance`` prints both as one JSON object. The pipeline
collects them through that command, in a child process, so that asking torch
about GPUs never initialises CUDA (and holds GPU memory) in the process that
supervises the notebooks.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from helpers import __version__
from helpers.core.sources import PROJECT_ROOT


def _git(*args: str) -> str | None:
    """Output of a git command in the project root, or None where git or the repository is missing."""
    try:
        done = subprocess.run(["git", "-C", str(PROJECT_ROOT), *args], capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def package_versions() -> dict[str, Any]:
    """Python, the workbench (version, git commit, uncommitted changes) and every installed distribution."""
    status = _git("status", "--porcelain", "--untracked-files=no")
    packages = {dist.metadata["Name"]: dist.version for dist in metadata.distributions() if dist.metadata["Name"]}
    return {
        "python": sys.version,
        "executable": sys.executable,
        "workbench": {"version": __version__, "git_commit": _git("rev-parse", "HEAD"), "git_dirty": None if status is None else bool(status)},
        "packages": dict(sorted(packages.items(), key=lambda item: item[0].lower())),
    }


def cpu_model() -> str | None:
    """The CPU's marketing name (``/proc/cpuinfo`` on Linux, else what ``platform`` reports)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "Hardware"):
                return value.strip()
    return platform.processor() or None


def ram_bytes() -> int | None:
    """Physical memory in bytes, where the OS reports it."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def usable_cores() -> int | None:
    """Cores this process may run on (CPU affinity, e.g. under a container limit), where the OS tells."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def cuda_devices() -> dict[str, Any]:
    """torch's view of CUDA: build versions and every visible GPU."""
    import torch

    available = torch.cuda.is_available()
    devices = []
    for index in range(torch.cuda.device_count() if available else 0):
        props = torch.cuda.get_device_properties(index)
        devices.append({"index": index, "name": props.name, "memory_bytes": props.total_memory, "capability": f"{props.major}.{props.minor}"})
    return {
        "torch": torch.__version__,
        "cuda_build": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if available else None,
        "available": available,
        "devices": devices,
    }


def onnxruntime_info() -> dict[str, Any]:
    """ONNX Runtime's version, build device and available execution providers."""
    import onnxruntime as ort

    return {"version": ort.__version__, "device": ort.get_device(), "providers": ort.get_available_providers()}


def hardware() -> dict[str, Any]:
    """CPU, RAM, GPUs, ONNX Runtime providers, OS and Python of this machine."""
    return {
        "hostname": platform.node(),
        "os": platform.platform(),
        "machine": platform.machine(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "cpu": {"model": cpu_model(), "logical_cores": os.cpu_count(), "usable_cores": usable_cores()},
        "ram_bytes": ram_bytes(),
        "cuda": cuda_devices(),
        "onnxruntime": onnxruntime_info(),
    }


def collect() -> dict[str, Any]:
    """``{"versions": ..., "hardware": ...}`` of this process's environment."""
    return {"versions": package_versions(), "hardware": hardware()}


def collect_in_child() -> dict[str, Any]:
    """:func:`collect`, run in a fresh Python child process (see the module docstring)."""
    done = subprocess.run([sys.executable, "-m", "helpers.pipeline.provenance"], capture_output=True, text=True, cwd=PROJECT_ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"could not record versions and hardware (python -m helpers.pipeline.provenance failed):\n{done.stderr.strip()}")
    return json.loads(done.stdout)


if __name__ == "__main__":
    print(json.dumps(collect()))
