"""ONNX Runtime execution providers (CUDA when a GPU is really usable, else CPU) and sessions without telemetry."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort
import torch

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


def select_providers(prefer_gpu: bool = True) -> list[str]:
    """ONNX Runtime providers: CUDA first when a GPU is present and the build supports it."""
    if prefer_gpu and torch.cuda.is_available() and CUDA in ort.get_available_providers():
        return [CUDA, CPU]
    return [CPU]


def inference_session(path: str | Path, providers: list[str], options: ort.SessionOptions | None = None) -> ort.InferenceSession:
    """An ONNX Runtime session for the model at ``path``, with ONNX Runtime's telemetry events off.

    Recent official ONNX Runtime builds, on Linux too, collect usage telemetry for Microsoft. Importing
    ``helpers`` sets ``ORT_DISABLE_TELEMETRY=1`` before ONNX Runtime starts, which turns it off entirely
    (no device id, event database under ``~/.cache/Microsoft`` or upload); disabling telemetry events here
    as well covers a process that imported ``onnxruntime`` before ``helpers``.
    """
    ort.disable_telemetry_events()
    return ort.InferenceSession(str(path), sess_options=options, providers=providers)
