"""ONNX Runtime execution providers: CUDA when a GPU is really usable, else CPU."""

from __future__ import annotations

import onnxruntime as ort
import torch

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


def select_providers(prefer_gpu: bool = True) -> list[str]:
    """ONNX Runtime providers: CUDA first when a GPU is present and the build supports it."""
    if prefer_gpu and torch.cuda.is_available() and CUDA in ort.get_available_providers():
        return [CUDA, CPU]
    return [CPU]
