"""Where a training step of the NER config spends its time, op by op (issue 16).

TensorFlow's profiler traces one pass of whole training steps over a slice of CoNLL-2003
train (the first 1,500 sentences; ``--quick``: 300; in batches of 32 sentences, the config's
batching until 2026-12-06, so that runs compare across commits) after two warm-up passes, on
whatever core the process is pinned to; the time of each op the executor ran is summed by the part
of the network its name belongs to (the BiLSTM's forward kernels and gradient, the char
CNN, attention, the CRF, dropout, the optimizer), per step. ``--before`` traces the step as
before issue 16's own BiLSTM gradient and fused Adam (``_common.as_before``).

    taskset -c 1 python bench/ops.py [--before] [--quick]

The parts add up to less than a step: the executor's own work between ops (a few
microseconds an op, about 1,600 ops a step) and Python are not any op's.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common

DATA = common.ROOT.parent / "shared" / "data" / "conll2003" / "train.txt"
CONFIG = common.ROOT / "configs" / "conll2003_ner.yaml"
# An op belongs to the first part whose key its name holds (names carry the layer's scope).
PARTS = [("BiLSTM gradient, seqlab's (`_lstm_pair`)", "bilstm_gradient"),
         ("BiLSTM gradient, TensorFlow's kernel (before)", "BlockLSTMGrad"),
         ("BiLSTM forward kernels", "BlockLSTM"),
         ("BiLSTM reversal, transposes", "bilstm"),
         ("char CNN (forward and gradient)", "char_encoder"),
         ("attention", "attention"),
         ("CRF loss and gradient", "crf_loss"),
         ("dropout", "dropout"),
         ("optimizer (clipping, Adam, averages)", "adam"),
         ("tag projection", "tags")]
# Events that are not an op's own work: the executor's markers, and ops that hold others
# (loops, conditionals, function calls), whose inner ops are counted themselves.
NOT_OPS = {"StartRegion", "StopRegion", "Record", "MemoryAllocation", "MemoryDeallocation",
           "While", "StatelessWhile", "If", "StatelessIf", "PartitionedCall",
           "StatefulPartitionedCall"}
REST = "the rest (embeddings, concatenations, the loss' mean)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--before", action="store_true",
                        help="TensorFlow's BiLSTM gradient and Keras' Adam, as before")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf
    from rich.console import Console
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    from seqlab.config import load_config
    from seqlab.training.data import prepare_data
    from seqlab.training.loop import build_compiled, seed_everything

    config = load_config(CONFIG, ["data.dev=null", "data.test=null", f"data.train={DATA}"])
    prep = prepare_data(config, Console(quiet=True).print)
    n = 300 if args.quick else 1500
    prep.encoded = common.first_encoded(prep.encoded, n)
    tokens = int(prep.encoded.lengths.sum())
    seed_everything(13)
    model = common.as_before(build_compiled(config, prep), gradients=args.before)
    batches = list(prep.dataset(32, seed=1))
    step = common.train_step(model)
    for _ in range(2):
        for batch in batches:
            step(*batch)
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        started = time.perf_counter()
        for batch in batches:
            step(*batch)
        seconds = time.perf_counter() - started
        tf.profiler.experimental.stop()
        trace = next(Path(logdir).rglob("*.xplane.pb")).read_bytes()
    space = xplane_pb2.XSpace()
    space.ParseFromString(trace)
    times, counts = collections.Counter(), collections.Counter()
    for plane in space.planes:
        names = {k: m.name for k, m in plane.event_metadata.items()}
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                name = names.get(event.metadata_id, "")
                if ":" not in name or name.startswith("Executor") or \
                        name.rsplit(":", 1)[1] in NOT_OPS:
                    continue
                part = next((label for label, key in PARTS if key in name), REST)
                times[part] += event.duration_ps / 1e9
                counts[part] += 1
    steps = len(batches)
    rows = [[part, f"{times[part] / steps:.2f} ms", f"{counts[part] / steps:.0f}"]
            for part in [label for label, _ in PARTS] + [REST] if counts[part]]
    rows.append(["all ops", f"{sum(times.values()) / steps:.2f} ms",
                 f"{sum(counts.values()) / steps:.0f}"])
    rows.append(["whole step (wall clock, traced)", f"{seconds / steps * 1000:.2f} ms", ""])
    print(common.describe_environment(common.machine_info(), common.versions()))
    print(f"\nNER config, {n} sentences of CoNLL-2003 train ({tokens:,} tokens, {steps} "
          f"batches of 32), {'as before (BlockLSTMGrad, Keras Adam)' if args.before else 'now'}, "
          "per step:\n")
    print(common.markdown_table(["part", "op time a step", "ops a step"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
