"""Training checkpoints without pickle: tensors in safetensors, everything else in JSON.

One checkpoint is ``epoch-NNN.safetensors`` (model, optimiser tensors, RNG
states) plus ``state.json`` (epoch, optimiser hyper-parameters, scheduler,
gradient scaler, history, config, and the sha256 of the tensor file). The
tensor file is written first and ``state.json`` last, both atomically, so a
run killed at any moment leaves the previous complete checkpoint in place.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from helpers.core.files import atomic_path, sha256_file, write_json_atomic

STATE = "state.json"
BEST = "best.safetensors"


def _flatten_optimiser(state: dict) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Optimiser tensors under ``optimiser/<param>/<name>`` and the JSON-ready rest."""
    tensors, scalars = {}, {}
    for param, entries in state["state"].items():
        for name, value in entries.items():
            if torch.is_tensor(value):
                tensors[f"optimiser/{param}/{name}"] = value
            else:
                scalars.setdefault(str(param), {})[name] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _unflatten_optimiser(tensors: dict[str, torch.Tensor], saved: dict[str, Any]) -> dict:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optimiser/"):
            _, param, name = key.split("/", 2)
            state.setdefault(int(param), {})[name] = value
    for param, entries in saved["scalars"].items():
        state.setdefault(int(param), {}).update(entries)
    return {"state": state, "param_groups": saved["param_groups"]}


def rng_tensors() -> dict[str, torch.Tensor]:
    """The torch CPU and CUDA random generator states."""
    states = {"rng/cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        states.update({f"rng/cuda/{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())})
    return states


def _restore_rng(tensors: dict[str, torch.Tensor]) -> None:
    torch.set_rng_state(tensors["rng/cpu"])
    cuda = [tensors[k] for k in sorted(k for k in tensors if k.startswith("rng/cuda/"))]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)


def _model_tensors(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {f"model/{k}": v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}


def save_checkpoint(
    folder: Path,
    epoch: int,
    model: torch.nn.Module,
    optimiser: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler,
    extra: dict[str, Any],
) -> Path:
    """Write the checkpoint after ``epoch`` (1-based) and point ``state.json`` at it; returns the tensor file."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    opt_tensors, opt_rest = _flatten_optimiser(optimiser.state_dict())
    tensors = {**_model_tensors(model), **{k: v.detach().cpu().contiguous() for k, v in opt_tensors.items()}, **rng_tensors()}
    target = folder / f"epoch-{epoch:03d}.safetensors"
    with atomic_path(target) as tmp:
        save_file(tensors, str(tmp))
    state = {
        "epoch": epoch,
        "weights": target.name,
        "sha256": sha256_file(target),
        "optimiser": opt_rest,
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict(),
        **extra,
    }
    write_json_atomic(folder / STATE, state)
    for old in folder.glob("epoch-*.safetensors"):
        if old != target:
            old.unlink()
    return target


def read_state(folder: Path) -> dict[str, Any] | None:
    """The last complete checkpoint's ``state.json``, or None when there is none."""
    path = Path(folder) / STATE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def load_checkpoint(
    folder: Path,
    model: torch.nn.Module,
    optimiser: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler,
) -> dict[str, Any]:
    """Restore model, optimiser, scheduler, scaler and RNG from ``folder``; returns ``state.json``."""
    state = read_state(folder)
    if state is None:
        raise FileNotFoundError(f"no checkpoint in {folder}")
    weights = Path(folder) / state["weights"]
    if sha256_file(weights) != state["sha256"]:
        raise ValueError(f"{weights} does not match the sha256 in {Path(folder) / STATE}: delete the folder to start over")
    tensors = load_file(str(weights))
    model.load_state_dict({k[len("model/") :]: v for k, v in tensors.items() if k.startswith("model/")})
    optimiser.load_state_dict(_unflatten_optimiser(tensors, state["optimiser"]))
    scheduler.load_state_dict(state["scheduler"])
    scaler.load_state_dict(state["scaler"])
    _restore_rng(tensors)
    return state


def save_weights(model: torch.nn.Module, target: Path, metadata: dict[str, str] | None = None) -> Path:
    """The model's weights alone (e.g. the best epoch's), as safetensors, atomically."""
    with atomic_path(Path(target)) as tmp:
        save_file(_model_tensors(model), str(tmp), metadata=metadata)
    return Path(target)


def load_weights(model: torch.nn.Module, source: Path) -> None:
    """Load weights written by :func:`save_weights` (strictly)."""
    tensors = load_file(str(source))
    model.load_state_dict({k[len("model/") :]: v for k, v in tensors.items()})
