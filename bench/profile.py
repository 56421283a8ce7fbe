"""Where one training step of the NER config spends its time (issue 16).

On a slice of CoNLL-2003 train (3,000 sentences; ``--quick``: 600), one core, the NER config
(``configs/conll2003_ner.yaml``) in batches of 32 sentences (its batching until 2026-12-06,
kept so that profiles compare across commits; the config's token budget is one of the other
batchings at the end), each measured over the same batches after a warm-up pass that traces
every batch shape, interleaved repeats, median:

* the tf.data pipeline alone (planning and gathering an epoch's batches), with tf.data's
  autotuner on (as before issue 16) and off (as now);
* the network forward pass, forward + backward, and a whole step (the optimizer too), and
  the whole step with local attention on the band at every length, as before the dense
  path for short batches (issue 16), and with TensorFlow's own BiLSTM gradient
  (``BlockLSTMGrad``) and Keras' Adam update op by op, as before seqlab's own (issue 16);
* ``model.fit`` over the epoch, with either pipeline;
* each part's share, as the step time a model without it saves (the char CNN, the attention
  band, the CRF against softmax, dropout and word dropout, the word embedding's gradient,
  the weight averages of ``training.ema``);
* the CRF's forward algorithm (loss) and Viterbi decoding alone on emissions of the same
  shapes, and the BiLSTM alone (forward, forward + backward) on inputs of the same shapes;
* the whole step over the same sentences batched other ways (64 sentences a batch, or a
  token budget per batch), with the same model in the same process: what bigger batches buy.

Each configuration runs in its own process (``--child``).
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
# Each part's share: what a whole step saves without it (the variant, by its overrides).
VARIANTS = {
    "full": [],
    "the char CNN": ["model.chars.encoder=none"],
    "the attention band": ["model.attention.enabled=false"],
    "the CRF (against softmax)": ["model.output=softmax"],
    "dropout and word dropout": ["model.embedding.dropout=0", "model.dropout=0",
                                 "model.embedding.word_dropout=0"],
    "the word embedding's gradient": ["model.embedding.trainable=false"],
    "the weight averages (training.ema)": ["training.ema=null"],
}


def child(spec):
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf
    from rich.console import Console

    import seqlab.batching as batching
    from seqlab.config import load_config
    from seqlab.training.data import prepare_data
    from seqlab.training.loop import build_compiled, seed_everything

    config = load_config(CONFIG, ["data.dev=null", "data.test=null", f"data.train={DATA}",
                                  *spec["overrides"]])
    prep = prepare_data(config, Console(quiet=True).print)
    prep.encoded = common.first_encoded(prep.encoded, spec["sentences"])
    tot = int(prep.encoded.lengths.sum())
    seed_everything(13)
    model = build_compiled(config, prep)
    batches = list(prep.dataset(32, seed=1))
    loss_fn, variables = model.loss, model.trainable_variables

    @tf.function(reduce_retracing=True)
    def forward(x, y):
        return loss_fn(y, model(x, training=True))

    @tf.function(reduce_retracing=True)
    def forward_backward(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        return tape.gradient(loss, variables)

    step = common.train_step(model)

    def over(fn, these):
        return lambda: [fn(*b) for b in these]

    def over_batches(fn):
        return over(fn, batches)

    counts = {}

    def old_pipeline():  # tf.data's autotuner on, as before issue 16
        ds = batching.make_dataset(prep.encoded, 32, shuffle=True, seed=2)
        return ds.with_options(_autotune_on(tf))

    measures = {
        "forward": over_batches(forward),
        "forward + backward": over_batches(forward_backward),
        "whole step": over_batches(step),
    }
    if spec["full"]:
        measures.update({
            "pipeline alone, autotuner on": lambda: sum(1 for _ in old_pipeline()),
            "pipeline alone, autotuner off": lambda: sum(
                1 for _ in batching.make_dataset(prep.encoded, 32, shuffle=True, seed=2)),
            "fit, autotuner on": lambda: model.fit(old_pipeline(), verbose=0),
            "fit, autotuner off": lambda: model.fit(
                batching.make_dataset(prep.encoded, 32, shuffle=True, seed=2), verbose=0),
        })
    from seqlab.model import ModelParts

    crf = ModelParts(model).crf
    if spec["full"] and crf is not None:
        emissions = [tf.random.stateless_normal(tf.shape(b[1]).numpy().tolist() +
                                                [crf.num_tags], seed=[1, i])
                     for i, b in enumerate(batches)]
        masks = [tf.not_equal(b[0]["words"] if isinstance(b[0], dict) else b[0], 0)
                 for b in batches]

        @tf.function(reduce_retracing=True)
        def crf_loss_and_gradient(e, y, m):
            with tf.GradientTape() as tape:
                tape.watch(e)
                loss = tf.reduce_sum(crf.nll(y, e, m))
            return tape.gradient(loss, [e] + crf.trainable_variables)

        measures["CRF forward algorithm + gradient"] = lambda: [
            crf_loss_and_gradient(e, b[1], m) for e, b, m in zip(emissions, batches, masks)]
        measures["CRF Viterbi decoding"] = lambda: [crf.decode(e, m)
                                                    for e, m in zip(emissions, masks)]
    if spec["full"]:
        # The ways before issue 16: the same model (same seed, same weights) built again and
        # switched before it runs.
        for label, way in (("the band at every length", {"band": True}),
                           ("BlockLSTMGrad and Keras' Adam", {"gradients": True})):
            seed_everything(13)
            before = common.as_before(build_compiled(config, prep), **way)
            measures[f"whole step, {label} (before)"] = over_batches(common.train_step(before))
        _lstm_measures(tf, model, batches, measures)
        for label, size, budget in BATCHINGS:
            other = list(batching.make_dataset(prep.encoded, size, shuffle=True, seed=1,
                                               max_tokens=budget))
            measures[f"epoch slice, {label}"] = over(step, other)
            counts[f"epoch slice, {label}"] = len(other)
    for fn in measures.values():  # warm-up: trace every batch shape
        fn()
    times = {name: [] for name in measures}
    for _ in range(spec["repeats"]):
        for name, fn in measures.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    common.emit({"batches": len(batches), "tokens": tot, "counts": counts,
                 "times": {k: statistics.median(v) for k, v in times.items()}})


# Other ways to batch the same sentences: (label, sentences a batch at most, token budget).
BATCHINGS = [
    ("32 sentences a batch (the config until 2026-12-06)", 32, None),
    ("64 sentences a batch", 64, None),
    ("at most 1,000 padded tokens, 128 sentences (the config)", 128, 1000),
]


def _lstm_measures(tf, model, batches, measures):
    """The model's BiLSTM layers alone, forward and forward + backward, on random inputs of
    each batch's shape, masked where the batch is padding."""
    from seqlab.model import ModelParts

    layers = ModelParts(model).bilstm
    inputs = []
    for i, (x, _) in enumerate(batches):
        words = x["words"] if isinstance(x, dict) else x
        shape = tf.shape(words).numpy().tolist() + [layers[0].forward_layer.cell.kernel.shape[0]]
        inputs.append((tf.random.stateless_normal(shape, seed=[2, i]), tf.not_equal(words, 0)))
    variables = [v for layer in layers for v in layer.trainable_variables]

    def run(x, m):
        for layer in layers:
            x = layer(x, mask=m, training=True)
        return x

    @tf.function(reduce_retracing=True)
    def lstm_forward(x, m):
        return run(x, m)

    @tf.function(reduce_retracing=True)
    def lstm_forward_backward(x, m):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(tf.square(run(x, m)))
        return tape.gradient(loss, [x] + variables)

    measures["BiLSTM forward alone"] = lambda: [lstm_forward(*a) for a in inputs]
    measures["BiLSTM forward + backward alone"] = lambda: [lstm_forward_backward(*a)
                                                           for a in inputs]


def _autotune_on(tf):
    options = tf.data.Options()
    options.autotune.enabled = True
    return options


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child")
    parser.add_argument("--full-only", action="store_true",
                        help="the whole model's measures only, not each part's share")
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return 0
    sentences, repeats = (600, 2) if args.quick else (3000, 3)
    machine, vers = common.machine_info(), common.versions()
    common.log(common.describe_environment(machine, vers))
    common.log(common.load_status())
    results = {}
    for name, overrides in VARIANTS.items():
        if args.full_only and name != "full":
            continue
        common.log(f"profile: {name}")
        spec = {"overrides": overrides, "sentences": sentences, "repeats": repeats,
                "full": name == "full"}
        results[name] = common.check(
            common.run_child(Path(__file__), spec, timeout_s=3600,
                             env={"OMP_NUM_THREADS": "1"}), name)
    full = results["full"]
    steps = full["batches"]
    t = full["times"]
    print(common.describe_environment(machine, vers))
    print(f"\nNER config, {sentences} sentences of CoNLL-2003 train ({full['tokens']:,} tokens, "
          f"{steps} batches of 32), median of {repeats} interleaved repeats, per step:\n")
    rows = [[name, f"{seconds / steps * 1000:.1f} ms",
             f"{100 * seconds / t['whole step']:.0f}%"] for name, seconds in t.items()
            if not name.startswith("epoch slice")]
    for name, r in results.items():
        if name == "full":
            continue
        saved = t["whole step"] - r["times"]["whole step"]
        rows.append([f"share of {name}", f"{saved / steps * 1000:.1f} ms",
                     f"{100 * saved / t['whole step']:.0f}%"])
    print(common.markdown_table(["part", "time per step", "of a whole step"], rows))
    base = t["epoch slice, " + BATCHINGS[0][0]]
    rows = [[label, f"{full['counts']['epoch slice, ' + label]:,}",
             f"{t['epoch slice, ' + label]:.2f} s",
             f"{full['tokens'] / t['epoch slice, ' + label]:,.0f}",
             f"{base / t['epoch slice, ' + label]:.2f}x"] for label, _, _ in BATCHINGS]
    print(f"\nThe same {sentences} sentences batched other ways (whole steps, same model):\n")
    print(common.markdown_table(["batches", "steps", "time", "tokens/s", "speed-up"], rows))
    targets = []
    return common.finish("profile", {"machine": machine, "versions": vers,
                                     "results": results}, targets, args.quick)


if __name__ == "__main__":
    sys.exit(main())
