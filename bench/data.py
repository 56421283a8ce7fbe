"""Speed of seqlab's data path on CoNLL-2003 train (issue 4, item 8).

1. Reading, building the vocabularies and encoding CoNLL-2003 train (203,621 tokens), as
   ``seqlab train`` does it (``seqlab.train.prepare_data`` with dev and test left out), against
   the floor of reading the file's text and splitting its lines into columns in plain Python,
   measured in the same process. Target: at most 2 s.
2. One epoch of training batches from ``seqlab.vocab.make_dataset`` (shuffled, bucketed by
   length, padded per batch: what ``model.fit`` iterates), against the time the model takes
   to train on one epoch of those batches. The model's time is measured with
   ``train_on_batch`` on an evenly spaced sample of the epoch's batches already in memory
   (after an untimed pass over the same sample traces the step for every shape) and scaled
   to the whole epoch. Target: batches produced at least 20x faster than they are consumed.

For the project's CoNLL-2003 config (``configs/conll2003_ner.yaml``: char CNN, CRF) and the
README model of ``bench/bench_readme_model.yaml`` (words only, softmax). Each measurement
runs in its own process after a warm-up run; median, min and max of the repeats.

    python bench/data.py            # 5 repeats; 64 sampled batches per model
    python bench/data.py --quick    # README model only; 2 repeats; 8 sampled batches
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common

CONFIGS = {"conll2003_ner (char CNN, CRF)": "configs/conll2003_ner.yaml",
           "bench_readme_model (words, softmax)": "bench/bench_readme_model.yaml"}
TARGET_PREPARE_S = 2.0
TARGET_RATIO = 20.0
TRAIN = common.ROOT.parent / "shared" / "data" / "conll2003" / "train.txt"


def _config(name):
    from seqlab.config import load_config

    return load_config(common.ROOT / name,
                       [f"data.train={TRAIN}", "data.dev=null", "data.test=null"])


def _prepare(config):
    from rich.console import Console

    from seqlab.training.data import prepare_data

    return prepare_data(config, Console(stderr=True, quiet=True).print)


# ------------------------------------------------------------------ children
def child_prepare(spec):
    config = _config(spec["config"])

    def floor():
        with open(config.data.train, encoding="utf-8") as f:
            rows = [line.split() for line in f.read().splitlines()]
        assert rows

    out = {}

    def prepare():
        out["prep"] = _prepare(config)

    floor()
    prepare()  # warm-up: page cache, lazy imports
    times = {"prepare": [], "floor": []}
    for _ in range(spec["repeats"]):
        for key, fn in (("prepare", prepare), ("floor", floor)):
            t0 = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - t0)
    prep = out["prep"]
    common.emit({"prepare": common.summarize(times["prepare"]),
                 "floor": common.summarize(times["floor"]),
                 "sentences": len(prep.encoded), "tokens": int(len(prep.encoded.words)),
                 "words": len(prep.vocab), "labels": len(prep.labels),
                 "chars": len(prep.chars) if prep.chars is not None else None,
                 "peak_rss_mb": common.peak_rss_mb()})


def child_produce(spec):
    from seqlab.batching import make_dataset
    from seqlab.training.loop import epoch_seed

    config = _config(spec["config"])
    prep = _prepare(config)
    batch = config.training.batch_size
    counts = []

    def epoch(seed):
        n = 0
        for _inputs, _labels in make_dataset(prep.encoded, batch, shuffle=True, seed=seed,
                                             max_tokens=config.training.batch_tokens):
            n += 1
        counts.append(n)

    t0 = time.perf_counter()
    epoch(epoch_seed(config.seed, 0))
    warmup_s = time.perf_counter() - t0
    times = []
    for i in range(spec["repeats"]):
        t0 = time.perf_counter()
        epoch(epoch_seed(config.seed, i + 1))
        times.append(time.perf_counter() - t0)
    common.emit({"time": common.summarize(times), "warmup_s": warmup_s,
                 "batches": counts[-1], "tokens": int(len(prep.encoded.words)),
                 "peak_rss_mb": common.peak_rss_mb()})


def child_consume(spec):
    import numpy as np

    from seqlab.batching import make_dataset
    from seqlab.training.loop import build_compiled, epoch_seed, seed_everything

    config = _config(spec["config"])
    prep = _prepare(config)
    seed_everything(config.seed)
    model = build_compiled(config, prep)
    batches = list(make_dataset(prep.encoded, config.training.batch_size, shuffle=True,
                                seed=epoch_seed(config.seed, 0),
                                max_tokens=config.training.batch_tokens))
    picks = np.linspace(0, len(batches) - 1, min(spec["sample"], len(batches))).astype(int)
    sample = [batches[i] for i in picks]
    sample_tokens = sum(int(np.count_nonzero(np.asarray(
        x["words"] if isinstance(x, dict) else x))) for x, _ in sample)

    def run():
        for x, y in sample:
            model.train_on_batch(x, y)

    t0 = time.perf_counter()
    run()
    warmup_s = time.perf_counter() - t0
    times = common.time_repeats(run, spec["repeats"], budget_s=spec["budget_s"])
    scale = len(prep.encoded.words) / sample_tokens  # by tokens: long batches cost more
    common.emit({"sample_time": common.summarize(times), "warmup_s": warmup_s,
                 "sampled_batches": len(sample), "sample_tokens": sample_tokens,
                 "batches": len(batches), "scale": scale,
                 "epoch_estimate": common.summarize([t * scale for t in times]),
                 "peak_rss_mb": common.peak_rss_mb()})


CHILDREN = {"prepare": child_prepare, "produce": child_produce, "consume": child_consume}


# ------------------------------------------------------------------ parent
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="the README model only, 2 repeats, 8 sampled batches")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        spec = json.loads(args.child)
        CHILDREN[spec["role"]](spec)
        return 0
    repeats, sample, budget = (2, 8, 20.0) if args.quick else (5, 64, 120.0)
    machine, vers = common.machine_info(), common.versions()
    common.log(common.describe_environment(machine, vers))
    load_before = common.load_status()
    common.log(load_before)
    script = Path(__file__).resolve()

    configs = dict(list(CONFIGS.items())[-1:]) if args.quick else CONFIGS
    results = {}
    for label, name in configs.items():
        row = {}
        for role in ("prepare", "produce", "consume"):
            common.log(f"{label}: {role} ...")
            row[role] = common.check(common.run_child(script, {
                "role": role, "config": name, "repeats": repeats, "sample": sample,
                "budget_s": budget}), f"{label} {role}")
        results[label] = row
    load_after = common.load_status()

    prep_rows, batch_rows, targets = [], [], []
    for label, row in results.items():
        p = row["prepare"]
        ratio = p["prepare"]["median"] / p["floor"]["median"]
        prep_rows.append([label, f"{p['sentences']:,}", f"{p['tokens']:,}",
                          common.fmt_time(p["prepare"]), common.fmt_time(p["floor"]),
                          f"**{ratio:.1f}×**"])
        targets.append({"target": f"{label}: read + vocabularies + encode at most "
                                  f"{TARGET_PREPARE_S:g} s",
                        "met": p["prepare"]["median"] <= TARGET_PREPARE_S,
                        "measured": f"{p['prepare']['median']:.2f} s"})
        produce, consume = row["produce"], row["consume"]
        speed = consume["epoch_estimate"]["median"] / produce["time"]["median"]
        batch_rows.append([label, f"{produce['batches']:,}", common.fmt_time(produce["time"]),
                           f"{produce['tokens'] / produce['time']['median']:,.0f}",
                           common.fmt_time(consume["epoch_estimate"]),
                           f"{consume['sampled_batches']} of {consume['batches']}",
                           f"**{speed:.0f}×**"])
        targets.append({"target": f"{label}: one epoch of batches produced at least "
                                  f"{TARGET_RATIO:g}x faster than the model consumes them",
                        "met": speed >= TARGET_RATIO, "measured": f"{speed:.0f}x"})
    prep_table = common.markdown_table(
        ["config", "sentences", "tokens", "read + vocabularies + encode: median (min–max)",
         "floor: read + split lines (plain Python)", "time ÷ floor"], prep_rows)
    batch_table = common.markdown_table(
        ["config", "batches", "one epoch of batches: median (min–max)", "tokens/s",
         "model, one epoch (estimated)", "sampled batches", "consume ÷ produce"],
        batch_rows)
    print(common.describe_environment(machine, vers))
    print(f"Load: before {load_before}; after {load_after}")
    print(f"\nCoNLL-2003 train; {repeats} repeats after a warm-up run, each measurement in "
          "its own process.\n")
    print(prep_table)
    print("\nBatches: make_dataset(shuffle=True), batched as the config says (batch_size, "
          "batch_tokens), iterated as model.fit does; the "
          "model's epoch is train_on_batch over an evenly spaced sample of the epoch's "
          "batches (after an untimed pass), scaled by tokens to the whole epoch.\n")
    print(batch_table)
    return common.finish("data", {
        "benchmark": "reading, vocabularies, encoding and batching CoNLL-2003 train",
        "machine": machine, "versions": vers,
        "load_before": load_before, "load_after": load_after, "repeats": repeats,
        "sampled_batches": sample, "results": results,
    }, targets, args.quick)


if __name__ == "__main__":
    sys.exit(main())
