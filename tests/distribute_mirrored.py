"""Run by test_distribute.py in a fresh process with 2 logical CPUs (SEQLAB_CPU_DEVICES=2):
a tiny model trained on one device, then mirrored over both, interrupted after epoch 2 and
resumed from its checkpoint for the last epoch. Prints each run's history, dev F1 and time
as one JSON line.

Usage: python distribute_mirrored.py OUT CONFIG OVERRIDES_JSON
"""

import json
import sys
import time
from pathlib import Path

from rich.console import Console

import seqlab.training.loop as training
from seqlab.config import load_config
from seqlab.errors import Interrupted
from seqlab.training import checkpoint

out, quick, tiny = Path(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
quiet = Console(stderr=True, quiet=True)
result = {}
for strategy in ("none", "mirrored"):
    started = time.perf_counter()
    config = load_config(quick, tiny + ["training.epochs=3", "model.dropout=0",
                                        "model.embedding.dropout=0",
                                        f"distribution.strategy={strategy}"])
    if strategy == "mirrored":
        real_save = checkpoint.save_checkpoint

        def save_then_stop(folder, model, state, improved, real_save=real_save):
            real_save(folder, model, state, improved)
            if state["epoch"] == 2:
                raise KeyboardInterrupt

        checkpoint.save_checkpoint = save_then_stop
        try:
            training.train(config, out / strategy, console=quiet)
        except Interrupted:
            pass
        checkpoint.save_checkpoint = real_save
    run = training.train(config, out / strategy, resume=strategy == "mirrored", console=quiet)
    result[strategy] = {"history": run.history, "dev": run.metrics["dev"]["f1"],
                        "seconds": time.perf_counter() - started}
print(json.dumps(result))
