"""Benchmark of bfloat16 against float32 (issue 39): prediction tokens/s and tag agreement,
and optionally a training epoch, each ratio measured in the same process on the same CPU.

* matrix product: ``tf.matmul`` of two 1024x1024 matrices on one core, float32 and bfloat16
  (what the CPU's bfloat16 units give at best);
* prediction: ``Tagger.tag`` of CoNLL-2003 test in float32 and in bfloat16, the same model,
  interleaved repeats; the share of tokens whose tags agree;
* ``--train``: three epochs of the same small config in float32 and in ``mixed_bfloat16``
  (the best epoch after the first's tracing, tokens/s as the training loop reports it).

The header says the CPU's bfloat16 units and what oneDNN uses (``seqlab.hardware``), and
what ``auto`` picks on it.

Targets (issue 39, on a CPU with AMX): bfloat16 prediction at least 2x float32's tokens/s with
tags identical on at least 99.9% of the test tokens; mixed_bfloat16 training at least 1.5x.
On other CPUs the ratios are reported and no speed target applies.

    python bench/precision.py --quick          # train on 500 sentences, tag 300; 2 repeats
    python bench/precision.py                  # tag all 3,453 test sentences; 5 repeats
    python bench/precision.py --model runs/conll2003_ner/model.keras --train
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common
from predict import DATA, SMALL

SPEED_TARGET, AGREEMENT_TARGET, TRAIN_TARGET = 2.0, 99.9, 1.5


def matmul_rates(repeats: int = 20) -> dict:
    """GFLOP/s of a 1024x1024 product, float32 and bfloat16, on TensorFlow's threads (all
    usable cores unless set)."""
    import tensorflow as tf

    rates = {}
    for dtype in (tf.float32, tf.bfloat16):
        a = tf.cast(tf.random.stateless_normal([1024, 1024], seed=[1, 2]), dtype)
        product = tf.function(lambda x: tf.matmul(x, x))
        product(a).numpy()
        t0 = time.perf_counter()
        for _ in range(repeats):
            out = product(a)
        out.numpy()
        rates[dtype.name] = 2 * 1024 ** 3 * repeats / (time.perf_counter() - t0) / 1e9
    return rates


def train_run(workdir: Path, train_path: Path, precision: str, epochs: int, ner: bool):
    """A run of the small config (``ner``: the NER config's own network, CRF included) on
    ``train_path`` in ``precision``."""
    from rich.console import Console

    from seqlab.config import load_config
    from seqlab.training import train

    sizes = [o for o in SMALL if not o.startswith("model.")] if ner else SMALL
    overrides = sizes + [f"data.train={train_path}", "data.dev=null", "data.test=null",
                         f"training.precision={precision}", f"training.epochs={epochs}"]
    config = load_config(common.ROOT / "configs" / "conll2003_ner.yaml", overrides)
    out = workdir / f"run-{precision}-{epochs}"
    return train(config, out, console=Console(stderr=True, quiet=True)), out / "model.keras"


def train_epoch(workdir: Path, train_path: Path, precision: str, ner: bool) -> float:
    """Training tokens/s in ``precision``: the best of epochs 2 and 3 (the first traces)."""
    run, _ = train_run(workdir, train_path, precision, 3, ner)
    return max(row["tokens_per_second"] for row in run.history[1:])


def main(argv=None):
    parser = common.prediction_parser(__doc__.splitlines()[0], "timed runs of each precision")
    parser.add_argument("--ner", action="store_true",
                        help="the NER config's network (CRF, 128 units, 100 char filters) "
                             "instead of bench/predict.py's small one")
    parser.add_argument("--train", action="store_true",
                        help="also time a training epoch in float32 and mixed_bfloat16")
    args = parser.parse_args(argv)
    repeats = args.repeats or (2 if args.quick else 5)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    machine, vers = common.machine_info(), common.versions()
    common.log(common.describe_environment(machine, vers))
    import seqlab  # noqa: F401  (registers the layers)
    from seqlab.formats import Reading, read_corpus
    from seqlab.precision import resolve, resolve_training
    from seqlab.tagger import Tagger

    rates = matmul_rates()
    test_path = DATA / "test.txt"
    train_rates = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.quick:
            test_path = common.first_sentences(test_path, 300, tmp / "test-300.txt")
        train_path = DATA / "train.txt"
        if args.quick:
            train_path = common.first_sentences(train_path, 500, tmp / "train-500.txt")
        if args.model is None:
            model_path = train_run(tmp, train_path, "float32", 1, args.ner)[1]
        else:
            model_path = args.model
        sentences = [s.tokens for s in read_corpus(test_path, Reading(format="conll"),
                                                      labelled=False)]
        n_sent, n_tok = len(sentences), sum(map(len, sentences))
        taggers = {p: Tagger.load(model_path, precision=p) for p in ("float32", "bfloat16")}
        tags = {}
        for p, tagger in taggers.items():  # warm-up: trace every batch shape once
            t0 = time.perf_counter()
            tags[p] = tagger.tag(sentences, args.batch_size)
            common.log(f"warm-up {p}: {time.perf_counter() - t0:.2f} s")
        same = sum(a == b for s, t in zip(tags["float32"], tags["bfloat16"])
                   for a, b in zip(s, t))
        agreement = 100.0 * same / n_tok
        times = {p: [] for p in taggers}
        for i in range(repeats):  # interleaved, so drift in machine load hits both
            for p, tagger in taggers.items():
                t0 = time.perf_counter()
                tagger.tag(sentences, args.batch_size)
                times[p].append(time.perf_counter() - t0)
            common.log(f"repeat {i + 1}/{repeats}: " + ", ".join(
                f"{p} {times[p][-1]:.2f} s" for p in taggers))
        if args.train:
            for p in ("float32", "mixed_bfloat16"):
                train_rates[p] = train_epoch(tmp, train_path, p, args.ner)
                common.log(f"training {p}: {train_rates[p]:,.0f} tokens/s")

    stats = {p: common.summarize(t) for p, t in times.items()}
    model_kind = "the NER config's network" if args.ner else "small"
    speed = stats["float32"]["median"] / stats["bfloat16"]["median"]
    rows = [[p, common.fmt_time(s), f"{n_tok / s['median']:,.0f}",
             f"{stats['float32']['median'] / s['median']:.2f}×"] for p, s in stats.items()]
    print(common.describe_environment(machine, vers))
    print(f"auto picks: prediction {resolve('auto')}, training {resolve_training('auto')}")
    print(f"\ntf.matmul 1024x1024: float32 {rates['float32']:.0f} GFLOP/s, bfloat16 "
          f"{rates['bfloat16']:.0f} GFLOP/s ({rates['bfloat16'] / rates['float32']:.2f}×)")
    print(f"\nCoNLL-2003 test: {n_sent:,} sentences, {n_tok:,} tokens; batch size "
          f"{args.batch_size}; model "
          f"{'loaded from ' + str(args.model) if args.model else model_kind + ', 1 epoch'}"
          f"; {repeats} repeats\n")
    print(common.markdown_table(["Tagger.tag", "time: median (min–max)", "tokens/s",
                                 "speed ÷ float32"], rows))
    print(f"\ntags identical on {agreement:.3f}% of tokens ({n_tok - same} differ)")
    if train_rates:
        print(f"training tokens/s: float32 {train_rates['float32']:,.0f}, mixed_bfloat16 "
              f"{train_rates['mixed_bfloat16']:,.0f} "
              f"({train_rates['mixed_bfloat16'] / train_rates['float32']:.2f}×)")
    amx = (machine.get("bf16") or {}).get("bf16_units") == "amx"
    targets = [{"target": f"tags identical on at least {AGREEMENT_TARGET}% of tokens",
                "met": agreement >= AGREEMENT_TARGET, "measured": f"{agreement:.3f}%"}]
    if amx:  # the speed targets are AMX's; elsewhere the ratios are only reported
        targets.append({"target": f"bfloat16 prediction at least {SPEED_TARGET}× float32",
                        "met": speed >= SPEED_TARGET, "measured": f"{speed:.2f}×"})
        if train_rates:
            ratio = train_rates["mixed_bfloat16"] / train_rates["float32"]
            targets.append({"target": f"mixed_bfloat16 training at least {TRAIN_TARGET}×",
                            "met": ratio >= TRAIN_TARGET, "measured": f"{ratio:.2f}×"})
    return common.finish("precision", {
        "benchmark": "bfloat16 against float32: prediction and training",
        "machine": machine, "versions": vers, "sentences": n_sent, "tokens": n_tok,
        "matmul_gflops": rates, "times": stats, "speed_bfloat16_over_float32": speed,
        "agreement_percent": agreement, "training_tokens_per_second": train_rates,
        "model": str(args.model) if args.model else f"trained: {model_kind}, 1 epoch",
    }, targets, args.quick)


if __name__ == "__main__":
    sys.exit(main())
