"""The frozen transformer pass (issue 35): its speed, and the memory of a run's features.

With ``trainable: false`` every sentence's word features are computed once a run
(``Encoder.word_features``), and again for every file ``seqlab predict`` reads: this pass is
what prediction with a transformer costs. Two measurements, with the MiniLM config
(``configs/conll2003_ner_minilm.yaml``, MiniLM-L6 all 7 states, ``pooling: mean``):

* speed: words/s of the pass over CoNLL-2003 test, one thread, pooling a word's subwords by
  one gather over the batch (shipped) against the ``take_along_axis`` pooling used before
  (baseline, kept here), interleaved in one process, three passes each after a warm-up;
  the features must agree;
* memory: a child prepares the MiniLM config's data as ``seqlab train`` does (the features
  of train, dev and test, then the training tensors) and reports its peak resident memory
  against the size of the features.

    python bench/features.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common

CONLL = common.ROOT.parent / "shared" / "data" / "conll2003"
CONFIG = common.ROOT / "configs" / "conll2003_ner_minilm.yaml"
CHECKPOINT = common.ROOT / "vectors" / "all-MiniLM-L6-v2"


def pool_as_before(hidden, index, count, pooling):
    """``seqlab.transformer.pool_subwords`` until 2026-12-07 (``mean``, the one measured
    here): ``take_along_axis`` over the states, whose index TensorFlow broadcasts to every
    value."""
    from keras import ops

    if pooling != "mean":
        raise ValueError("the baseline is kept for mean pooling only")
    real = ops.cast(ops.greater(count, 0), hidden.dtype)[:, :, None, None]
    shape = ops.shape(index)
    batch, words, k = shape[0], shape[1], shape[2]
    flat = ops.reshape(index, (batch, words * k))
    picked = ops.take_along_axis(hidden, flat[:, :, None, None], axis=1)
    picked = ops.reshape(picked, (batch, words, k, ops.shape(hidden)[2], ops.shape(hidden)[3]))
    valid = ops.cast(ops.arange(k)[None, None, :] < count[:, :, None], hidden.dtype)
    total = ops.sum(picked * valid[:, :, :, None, None], axis=2)
    divisor = ops.cast(ops.maximum(count, 1), hidden.dtype)[:, :, None, None]
    return total / divisor * real


def speed_child(spec):
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import seqlab.transformer as transformer
    from seqlab.formats import read_corpus

    sentences = [s.tokens for s in read_corpus(spec["test"])][:spec["sentences"]]
    words = sum(map(len, sentences))
    checkpoint = transformer.load_checkpoint(spec["checkpoint"])
    encoders = {}
    for name, pool in (("before", pool_as_before), ("shipped", transformer.pool_subwords)):
        encoder = transformer.Encoder(checkpoint.backbone, checkpoint.tokenizer, layers="all",
                                      pooling=spec["pooling"])
        encoders[name] = (encoder, pool)
    shipped = transformer.pool_subwords
    seconds = {name: [] for name in encoders}
    features = {}
    try:
        for repeat in range(4):  # the first a warm-up (tracing)
            for name, (encoder, pool) in encoders.items():
                transformer.pool_subwords = pool
                started = time.perf_counter()
                features[name] = encoder.word_features(sentences, flat=True)
                if repeat:
                    seconds[name].append(time.perf_counter() - started)
    finally:
        transformer.pool_subwords = shipped
    diff = float(np.abs(features["before"] - features["shipped"]).max())
    common.emit({"words": words, "sentences": len(sentences), "seconds": seconds,
                 "max_difference": diff})


def memory_child(spec):
    import resource

    from seqlab.batching import corpus_tensors
    from seqlab.config import load_config
    from seqlab.training.data import prepare_data

    config = load_config(spec["config"], spec["sets"])
    started = time.perf_counter()
    prep = prepare_data(config, say=lambda *a: None)
    tensors = corpus_tensors(prep.encoded)
    seconds = time.perf_counter() - started
    train = prep.encoded.transformer.nbytes
    other = sum(f.nbytes for f in prep.features.values())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    del tensors
    common.emit({"train_bytes": train, "dev_test_bytes": other, "peak_bytes": peak,
                 "seconds": seconds, "tokens": int(prep.encoded.lengths.sum())})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="300 test sentences; memory on the first 1,000 train sentences")
    parser.add_argument("--checkpoint", type=Path, default=CHECKPOINT)
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        spec = json.loads(args.child)
        (speed_child if spec["what"] == "speed" else memory_child)(spec)
        return 0
    if not common.found(args.checkpoint, "vectors/all-MiniLM-L6-v2"):
        return 1
    machine, vers = common.machine_info(), common.versions()
    common.log(common.describe_environment(machine, vers))
    one_thread = {"OMP_NUM_THREADS": "1"}
    common.log("speed: the frozen pass over CoNLL-2003 test, before and shipped")
    speed = common.check(common.run_child(Path(__file__), {
        "what": "speed", "test": str(CONLL / "test.txt"), "checkpoint": str(args.checkpoint),
        "pooling": "mean", "sentences": 300 if args.quick else None}, timeout_s=3600,
        env=one_thread), "speed")
    sets = [f"model.transformer.path={args.checkpoint.resolve()}"]
    work = None
    if args.quick:
        import tempfile

        work = tempfile.TemporaryDirectory()
        small = Path(work.name) / "train.txt"
        common.first_sentences(CONLL / "train.txt", 1000, small)
        sets.append(f"data.train={small}")
    common.log("memory: the MiniLM config's data prepared as seqlab train does")
    memory = common.check(common.run_child(Path(__file__), {
        "what": "memory", "config": str(CONFIG), "sets": sets}, timeout_s=3600,
        env=one_thread), "memory")
    if work is not None:
        work.cleanup()

    import statistics

    rate = {name: speed["words"] / statistics.median(s) for name, s in speed["seconds"].items()}
    print(common.describe_environment(machine, vers))
    print(f"\nThe frozen MiniLM pass (all 7 states, mean pooling) over {speed['sentences']:,} "
          f"CoNLL-2003 test sentences ({speed['words']:,} words), one thread, median of 3:\n")
    print(common.markdown_table(
        ["pooling", "words/s", "against before"],
        [[name, f"{rate[name]:,.0f}", f"{rate[name] / rate['before']:.2f}x"] for name in rate]))
    print(f"\nlargest difference between their features: {speed['max_difference']:.2e}")
    gb = 1024 ** 3
    features = memory["train_bytes"] + memory["dev_test_bytes"]
    print(f"\nPreparing the MiniLM config's data ({memory['tokens']:,} training tokens, "
          f"{memory['seconds']:.0f} s): features {memory['train_bytes'] / gb:.2f} GB (train) + "
          f"{memory['dev_test_bytes'] / gb:.2f} GB (dev, test); peak resident "
          f"{memory['peak_bytes'] / gb:.2f} GB, {memory['peak_bytes'] / features:.2f}x the "
          f"features")
    return common.finish("features", {"machine": machine, "versions": vers, "speed": speed,
                                      "memory": memory}, [], args.quick)


if __name__ == "__main__":
    sys.exit(main())
