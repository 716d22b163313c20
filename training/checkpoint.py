"""Checkpoints that let a run continue exactly: model, optimiser, scheduler, RNG states and the
data position (epoch, next batch), written atomically (temporary folder, then rename).

Layout: OUT/checkpoints/step_00000100/{state.pt, rng_rank0.pt, ...} and OUT/checkpoints/latest
naming the newest complete one. A run killed while writing leaves a *.tmp folder that is ignored.
Files are read back with torch.load(weights_only=True): only tensors and plain containers.
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path
from typing import Any

import torch

from robustclap.contracts.errors import RobustclapError
from robustclap.training.dist import Dist, barrier

LATEST = "latest"


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(_as_tuple(state["python"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _as_tuple(x: Any) -> Any:
    return tuple(_as_tuple(v) for v in x) if isinstance(x, list | tuple) else x


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def save(folder: Path, step: int, state: dict[str, Any], dist_info: Dist, keep: int) -> Path:
    """Every rank writes its RNG state, rank 0 the rest; then rank 0 publishes the folder."""
    final = folder / f"step_{step:08d}"
    tmp = folder / f"step_{step:08d}.tmp"
    if dist_info.is_main:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    barrier()
    torch.save(rng_state(), tmp / f"rng_rank{dist_info.rank}.pt")
    if dist_info.is_main:
        torch.save(state, tmp / "state.pt")
    barrier()
    if dist_info.is_main:
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        _write_atomic(folder / LATEST, final.name)
        done = sorted(p for p in folder.glob("step_*") if p.is_dir() and p.suffix != ".tmp")
        for old in done[:-keep]:
            shutil.rmtree(old)
    barrier()
    return final


def latest(folder: Path) -> Path | None:
    """The newest complete checkpoint folder, or None."""
    pointer = folder / LATEST
    if pointer.is_file():
        path = folder / pointer.read_text().strip()
        if (path / "state.pt").is_file():
            return path
    done = sorted(p for p in folder.glob("step_*") if (p / "state.pt").is_file()
                  and p.suffix != ".tmp")
    return done[-1] if done else None


def load(path: Path, dist_info: Dist) -> tuple[dict[str, Any], dict[str, Any]]:
    """(state, this rank's RNG state) of a checkpoint folder."""
    rng_file = path / f"rng_rank{dist_info.rank}.pt"
    if not rng_file.is_file():
        raise RobustclapError(
            f"{path} has no RNG state for rank {dist_info.rank}: it was written by a run "
            "with fewer processes; resume with the same number of processes"
        )
    try:
        state = torch.load(path / "state.pt", map_location="cpu", weights_only=True)
        rng = torch.load(rng_file, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError) as exc:
        raise RobustclapError(f"cannot read checkpoint {path}: {exc}") from exc
    return state, rng
