"""Data-parallel runs: which process am I, and wait for the others.

``accelerate launch --num_processes K`` and ``torchrun --nproc_per_node K`` both
start K copies of the command with ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR`` and ``MASTER_PORT`` set. With ``WORLD_SIZE`` > 1 a process group
is created (gloo on CPU, nccl on GPUs) only for barriers: no tensor is
exchanged, every process writes its own cases to files.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from paperlib.core.errors import ParameterError


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.size > 1:
            import torch.distributed as dist

            dist.barrier()


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ParameterError(f"environment variable {name}={value!r} is not an integer") from None


def current_world() -> World:
    """The launcher's process layout from the environment (one process without one)."""
    size = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    if size < 1 or not 0 <= rank < size:
        raise ParameterError(f"RANK={rank} / WORLD_SIZE={size} are inconsistent")
    return World(rank, size, _env_int("LOCAL_RANK", rank))


def init(world: World, device: str) -> None:
    """Create the process group (a no-op for one process)."""
    if world.size == 1:
        return
    import datetime

    import torch.distributed as dist

    if not dist.is_initialized():
        backend = "nccl" if device.startswith("cuda") else "gloo"
        dist.init_process_group(backend, rank=world.rank, world_size=world.size,
                                timeout=datetime.timedelta(hours=12))


def finish(world: World) -> None:
    if world.size > 1:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def process_device(world: World, device: str) -> str:
    """``cuda`` -> ``cuda:<local rank>`` in a data-parallel run; others unchanged."""
    if device == "cuda" and world.size > 1:
        return f"cuda:{world.local_rank}"
    return device


def process_max_memory(world: World, max_memory: dict | None, device_map) -> dict | None:
    """With a ``device_map`` in a data-parallel run, each process gets its own
    slice of the visible GPUs (process r of K: GPUs r*G/K .. (r+1)*G/K - 1), so
    K processes of a model split over G/K GPUs each do not collide."""
    if device_map is None or world.size == 1:
        return max_memory
    import torch

    n_gpu = torch.cuda.device_count()
    if n_gpu == 0:
        return max_memory
    if n_gpu % world.size:
        raise ParameterError(f"{n_gpu} GPUs cannot be split evenly over {world.size} processes")
    per = n_gpu // world.size
    mine = range(world.rank * per, (world.rank + 1) * per)
    base = dict(max_memory or {})
    out = {g: base.get(g, f"{torch.cuda.get_device_properties(g).total_memory // 2**30}GiB")
           for g in mine}
    out.update({k: v for k, v in base.items() if not isinstance(k, int)})
    return out
