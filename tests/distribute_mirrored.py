"""Run by test_distribute.py in a fresh process with 2 logical CPUs (SEQLAB_CPU_DEVICES=2):
a tiny model trained on one device, then mirrored over both, interrupted after epoch 2 (by
train's on_epoch hook, as Ctrl-C would) and resumed from its checkpoint for the last epoch.
Prints each run's history, dev F1, time and (mirrored) the epoch it was interrupted after, as
one JSON line.

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

out, quick, tiny = Path(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
quiet = Console(stderr=True, quiet=True)
result = {}
for strategy in ("none", "mirrored"):
    started = time.perf_counter()
    config = load_config(quick, tiny + ["training.epochs=3", "model.dropout=0",
                                        "model.embedding.dropout=0",
                                        f"distribution.strategy={strategy}"])
    interrupted = None
    if strategy == "mirrored":

        def stop_after_two(epoch):
            if epoch.row["epoch"] == 2:
                raise KeyboardInterrupt

        try:
            training.train(config, out / strategy, console=quiet, on_epoch=stop_after_two)
        except Interrupted as exc:
            interrupted = exc.epoch
    run = training.train(config, out / strategy, resume=strategy == "mirrored", console=quiet)
    result[strategy] = {"history": run.history, "dev": run.metrics["dev"]["f1"],
                        "seconds": time.perf_counter() - started, "interrupted": interrupted}
print(json.dumps(result))
