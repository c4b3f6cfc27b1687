"""Where this process sits in a ``torchrun`` job, and the device it trains on."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class Distributed:
    """This process's place in a ``torchrun`` job (rank 0 of 1 without one)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


@contextmanager
def distributed(device_type: str) -> Iterator[Distributed]:
    """Join the ``torchrun`` process group when launched by it (NCCL on CUDA, gloo on CPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        yield Distributed()
        return
    dist.init_process_group("nccl" if device_type == "cuda" else "gloo")
    try:
        yield Distributed(dist.get_rank(), world, int(os.environ.get("LOCAL_RANK", "0")))
    finally:
        dist.destroy_process_group()


def training_device(place: Distributed) -> torch.device:
    """CUDA (this rank's GPU) when available, else CPU."""
    if torch.cuda.is_available():
        torch.cuda.set_device(place.local_rank)
        return torch.device("cuda", place.local_rank)
    return torch.device("cpu")


def agreed(place: Distributed, decision: bool) -> bool:
    """Rank 0's decision, shared with every rank."""
    if place.world_size == 1:
        return decision
    shared = [decision]
    dist.broadcast_object_list(shared, src=0)
    return bool(shared[0])


def barrier(place: Distributed) -> None:
    """Wait for every rank (nothing to wait for in a single process)."""
    if place.world_size > 1:
        dist.barrier()
