"""Helpers of the command-line tests (tests/test_cli*.py): a tiny saved model pair,
prompt files, and running ``python -m paperlib`` in a subprocess."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TINY_PROMPTS = ["the long day of people", "what is water ?", "write about the first day",
                "how do you make the number", "you and your long water", "the people of the day",
                "look at the side of the water", "call the people who come"]


def save_tiny_pair(root: Path) -> dict[str, Path]:
    """Two tiny random LLaMA models (seeds 0, 1) with the tiny tokenizer, saved."""
    from paperlib.models.tiny import tiny_model, tiny_tokenizer

    out = {}
    for name, seed in (("pt", 0), ("ft", 1)):
        path = root / name
        tiny_model("llama", seed=seed).save_pretrained(path)
        tiny_tokenizer().save_pretrained(path)
        out[name] = path
    return out


def write_prompts(path: Path, n: int = len(TINY_PROMPTS)) -> Path:
    """A JSONL prompt file of ``n`` tiny-vocabulary prompts (ids lima_author_<i>)."""
    lines = [json.dumps({"id": f"lima_author_{i}", "prompt": p, "reference": f"ref {i}"})
             for i, p in enumerate(TINY_PROMPTS[:n])]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def env(tmp: Path) -> dict:
    """The environment of a CLI subprocess: this checkout importable, own cache."""
    out = dict(os.environ)
    out["PYTHONPATH"] = str(REPO) + os.pathsep + out.get("PYTHONPATH", "")
    out["PAPERLIB_CACHE"] = str(tmp / "cache")
    out["HF_HUB_OFFLINE"] = "1"
    out.pop("WORLD_SIZE", None)
    out.pop("RANK", None)
    return out


def cli(tmp: Path, *args, timeout: float = 600) -> subprocess.CompletedProcess:
    """``python -m paperlib ARGS`` in a subprocess (text output captured)."""
    return subprocess.run([sys.executable, "-m", "paperlib", *map(str, args)], env=env(tmp),
                          capture_output=True, text=True, timeout=timeout, cwd=tmp)


def torchrun(tmp: Path, nproc: int, *args, timeout: float = 600) -> subprocess.CompletedProcess:
    """``torchrun --nproc_per_node N -m paperlib ARGS`` (CPU processes, gloo)."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc),
           "--master_addr", "127.0.0.1", "--master_port", str(free_port()),
           "-m", "paperlib", *map(str, args)]
    return subprocess.run(cmd, env=env(tmp), capture_output=True, text=True, timeout=timeout,
                          cwd=tmp)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
