"""kill -9 in the middle of a run leaves no partial case; the same command then
finishes only the missing cases, and the case set equals an uninterrupted run."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from cli_support import REPO, env

pytestmark = pytest.mark.slow  # three runs of the organism model: ~30 s on 2 cores


def _args(out):
    from paperlib.models.loading import resolve_alias

    pt = resolve_alias("organism", "pt")
    return ["explain", "--model", f"pt={pt}", "--prompts", "paper", "--limit", "6",
            "--max-new-tokens", "40", "--batch-size", "1", "--threads", "1", "--no-progress",
            "--out", str(out)]


def _kill_after_first_case(tmp_path, out) -> int:
    """Start the run, SIGKILL it once its first case is on disk; returns that count."""
    proc = subprocess.Popen([sys.executable, "-m", "paperlib", *_args(out)], env=env(tmp_path),
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parts = out / "parts" / "pt"
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if parts.is_dir() and any(parts.glob("*.npz")):
                os.kill(proc.pid, signal.SIGKILL)  # mid-case: the next case is under way
                break
            time.sleep(0.02)
    finally:
        if proc.poll() is None and time.monotonic() >= deadline:
            proc.kill()
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    return len(list(parts.glob("*.npz")))


def test_kill_9_then_resume(tmp_path):
    from paperlib.cli.batch import read_part

    out = tmp_path / "killed"
    done = _kill_after_first_case(tmp_path, out)
    assert 1 <= done < 6
    print(f"killed with {done} of 6 cases on disk")
    assert not (out / "cases_pt.npz").exists()  # no case set from a partial run
    for part in (out / "parts" / "pt").glob("*.npz"):  # every case on disk is whole
        value = read_part(part)
        assert value is not None and len(value["meta"]["key"]) == 64
        assert value["S"].shape == (len(value["meta"]["prompt_tokens"]),
                                    len(value["meta"]["response_tokens"]))
    again = subprocess.run([sys.executable, "-m", "paperlib", *_args(out)], env=env(tmp_path),
                           cwd=REPO, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    timing = json.loads((out / "timings-rank0.json").read_text())["pt"]
    assert timing["skipped"] == done and timing["computed"] == 6 - done
    assert not list((out / "parts").rglob(".*.tmp"))
    whole = subprocess.run([sys.executable, "-m", "paperlib", *_args(tmp_path / "whole")],
                           env=env(tmp_path), cwd=REPO, capture_output=True, text=True,
                           timeout=600)
    assert whole.returncode == 0, whole.stderr
    assert (out / "cases_pt.npz").read_bytes() == (tmp_path / "whole" / "cases_pt.npz").read_bytes()
