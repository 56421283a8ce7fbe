"""Checkpoints: what a run leaves after each epoch so that ``resume`` replays exactly what an
uninterrupted run would have done. Where each file goes is :class:`~seqlab.training.rundir.
Checkpoints`'s; what goes into them is here."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from seqlab.compat import seed_generator_states
from seqlab.training.rundir import Checkpoints, interrupts_deferred, save_model


def save_arrays(path: Path, arrays) -> None:
    tmp = path.with_name(path.stem + ".tmp.npz")
    with open(tmp, "wb") as f:
        np.savez(f, *[np.asarray(a) for a in arrays])
    os.replace(tmp, path)


def load_arrays(path: Path) -> list[np.ndarray]:
    with np.load(path) as saved:
        return [saved[f"arr_{i}"] for i in range(len(saved.files))]


def save_checkpoint(files: Checkpoints, model, state: dict, best: list | None) -> None:
    """Model with optimizer state, the best weights (``best``, when this epoch is the best so
    far: the weights it was scored with), then the state last: a run killed at any moment
    leaves the previous complete checkpoint or this one."""
    files.folder.mkdir(parents=True, exist_ok=True)
    with interrupts_deferred():  # Ctrl-C while saving: this checkpoint completes first
        save_model(model, files.model)
        # The optimizer's and the dropout generators' states as plain arrays: a CRF model's
        # loss cannot come back from the archive's compile config, and model.save skips the
        # latter.
        save_arrays(files.optimizer, model.optimizer.variables)
        save_arrays(files.rng, seed_generator_states(model))
        if best is not None:  # plain arrays: save_weights would also carry the optimizer's state
            save_arrays(files.best, best)
        files.write_state(state)


def restore(files: Checkpoints, model) -> None:
    """Put a checkpoint's optimizer and random-generator states into a loaded model (built
    optimizer)."""
    for variable, value in zip(model.optimizer.variables, load_arrays(files.optimizer),
                               strict=True):
        variable.assign(value)
    for variable, value in zip(seed_generator_states(model), load_arrays(files.rng)):
        variable.assign(value)


def best_weights(files: Checkpoints) -> list[np.ndarray]:
    return load_arrays(files.best)
