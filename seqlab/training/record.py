"""run.json: what a run was (versions, config, data, seed, scores, weights), enough to tell
whether another run reproduced it (``seqlab.training.loop.reproduce``)."""

from __future__ import annotations

import hashlib
import platform
from pathlib import Path

import numpy as np

from seqlab.config import Config
from seqlab.hardware import cpu_bf16
from seqlab.precision import resolve_training


def file_digest(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weights_digest(model) -> str:
    digest = hashlib.sha256()
    for array in model.get_weights():
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def run_record(config: Config, model, metrics: dict, distribution: dict | None = None,
               data_sha256: dict | None = None) -> dict:
    """What run.json holds: enough to tell whether another run reproduced this one.
    ``data_sha256``: the data files' digests taken when the run read them (else now)."""
    import keras
    import tensorflow as tf

    import seqlab

    files = {key: getattr(config.data, key) for key in ("train", "dev", "test")}
    return {
        "versions": {"seqlab": seqlab.__version__, "tensorflow": tf.__version__,
                     "keras": keras.__version__, "python": platform.python_version()},
        "seed": config.seed,
        "config": config.to_dict(),
        "config_sha256": config.sha256(),
        "data_sha256": data_sha256 if data_sha256 is not None else
        {k: file_digest(v) for k, v in files.items() if v},
        "seconds": metrics["seconds"],
        "epochs_run": metrics["epochs_run"],
        "best_epoch": metrics["best_epoch"],
        "metrics": {k: metrics[k] for k in ("dev", "test", "calibration") if k in metrics},
        "weights_sha256": weights_digest(model),
        "distribution": distribution or {"strategy": "none", "replicas": 1, "workers": 1},
        # The dtype policy trained under (training.precision, auto resolved) and the CPU's
        # bfloat16 units, so that every figure says which machine made it.
        "precision": resolve_training(config.training.precision),
        "hardware": cpu_bf16().to_dict(),
    }
