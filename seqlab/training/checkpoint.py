"""Checkpoints: what a run leaves after each epoch so that ``resume`` replays exactly what an
uninterrupted run would have done."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from seqlab.compat import seed_generator_states
from seqlab.training.rundir import atomic_write, interrupts_deferred, save_model


def save_arrays(path: Path, arrays) -> None:
    tmp = path.with_name(path.stem + ".tmp.npz")
    with open(tmp, "wb") as f:
        np.savez(f, *[np.asarray(a) for a in arrays])
    os.replace(tmp, path)


def load_arrays(path: Path) -> list[np.ndarray]:
    with np.load(path) as saved:
        return [saved[f"arr_{i}"] for i in range(len(saved.files))]


def save_checkpoint(folder: Path, model, state: dict, improved: bool) -> None:
    """Model with optimizer state, best weights, then state.json last: a run killed at any
    moment leaves the previous complete checkpoint or this one."""
    folder.mkdir(parents=True, exist_ok=True)
    with interrupts_deferred():  # Ctrl-C while saving: this checkpoint completes first
        save_model(model, folder / "last.keras")
        # The optimizer's and the dropout generators' states as plain arrays: a CRF model's
        # loss cannot come back from the archive's compile config, and model.save skips the
        # latter.
        save_arrays(folder / "optimizer.npz", model.optimizer.variables)
        save_arrays(folder / "rng.npz", seed_generator_states(model))
        if improved:  # plain arrays: model.save_weights would also carry the optimizer's state
            save_arrays(folder / "best.npz", model.get_weights())
        atomic_write(folder / "state.json", json.dumps(state, indent=1))


def load_state(folder: Path) -> dict:
    return json.loads((folder / "state.json").read_text(encoding="utf-8"))


def restore(folder: Path, model) -> None:
    """Put a checkpoint's optimizer and random-generator states into a loaded model (built
    optimizer)."""
    for variable, value in zip(model.optimizer.variables, load_arrays(folder / "optimizer.npz"),
                               strict=True):
        variable.assign(value)
    for variable, value in zip(seed_generator_states(model), load_arrays(folder / "rng.npz")):
        variable.assign(value)


def best_weights(folder: Path) -> list[np.ndarray]:
    return load_arrays(folder / "best.npz")
