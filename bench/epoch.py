"""Whole training epochs of the NER config over the full CoNLL-2003 train file (issue 16).

A slice of the corpus (``bench/profile.py``) meets a few hundred batch shapes; a whole
epoch meets thousands, and oneDNN, which sets a convolution up once per input shape and
keeps a bounded number of them, then sets the char CNN's convolutions up again at almost
every step. This times ``model.fit`` epochs over the whole file (batches of 32, the
config's until 2026-12-06, in its order, no dev scoring), each way in its own process on one
thread:

* now: each char CNN group's rows rounded up to a few sizes in training (``_bucket``);
* before: each group as many rows as it has words (the char CNN's ``bucket=False``).

Epochs 2 and 3 are timed after a first epoch that traces the step; medians are reported.

    taskset -c 1 python bench/epoch.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common

DATA = common.ROOT.parent / "shared" / "data" / "conll2003" / "train.txt"
CONFIG = common.ROOT / "configs" / "conll2003_ner.yaml"
# The config's batches until 2026-12-06 (it now batches by a token budget), kept so that
# runs compare across commits.
BATCH = 32
WAYS = {"now: char CNN groups bucketed in training": False,
        "before: each group its own size": True}


def child(spec):
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from rich.console import Console

    from seqlab.config import load_config
    from seqlab.training.data import prepare_data
    from seqlab.training.loop import build_compiled, epoch_seed, seed_everything

    config = load_config(CONFIG, ["data.dev=null", "data.test=null", f"data.train={DATA}"])
    prep = prepare_data(config, Console(quiet=True).print)
    if spec["sentences"]:
        prep.encoded = common.first_encoded(prep.encoded, spec["sentences"])
    seed_everything(13)
    model = common.as_before(build_compiled(config, prep), buckets=spec["before"])
    times = []
    for epoch in range(3):
        dataset = prep.dataset(BATCH, epoch_seed(config.seed, epoch))
        started = time.perf_counter()
        model.fit(dataset, verbose=0)
        times.append(time.perf_counter() - started)
    common.emit({"tokens": int(prep.encoded.lengths.sum()), "epochs": times})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the first 2,000 sentences")
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return 0
    machine, vers = common.machine_info(), common.versions()
    common.log(common.describe_environment(machine, vers))
    results, rows = {}, []
    for name, before in WAYS.items():
        common.log(f"epochs: {name}")
        spec = {"before": before, "sentences": 2000 if args.quick else None}
        results[name] = common.check(common.run_child(Path(__file__), spec, timeout_s=1800,
                                                      env={"OMP_NUM_THREADS": "1"}), name)
    now = statistics.median(results[next(iter(WAYS))]["epochs"][1:])
    for name, r in results.items():
        seconds = statistics.median(r["epochs"][1:])
        rows.append([name, f"{r['epochs'][0]:.1f} s", f"{seconds:.2f} s",
                     f"{r['tokens'] / seconds:,.0f}", f"{seconds / now:.2f}x"])
    print(common.describe_environment(machine, vers))
    print("\nNER config, model.fit epochs over CoNLL-2003 train, one thread:\n")
    print(common.markdown_table(["way", "first epoch", "epochs 2-3 (median)",
                                 "tokens/s", "time against now"], rows))
    return common.finish("epoch", {"machine": machine, "versions": vers, "results": results},
                         [], args.quick)


if __name__ == "__main__":
    sys.exit(main())
