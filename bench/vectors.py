"""What word vectors cost a training epoch (issue 35): GloVe 6B 50d with ``vectors_add_words``
puts 400,000 rows in the embedding table, and an optimizer that updates the whole table each
step (Adam's moments, the weight average) streams all of them.

Three ways, each in its own process on one thread, over CoNLL-2003 train with the GloVe
NER config's network and batches (``configs/conll2003_ner_glove.yaml``):

* no vectors: the same network, ``vocab.vectors`` off (the vocabulary of training only);
* vectors, every row trained: the 400,000-row table trained as one (seqlab before issue 35);
* vectors, unseen rows frozen: rows of words never seen in training kept in a frozen table
  (they never get a gradient, so it is the same model; ``WordEmbedding(trainable_rows=...)``).

Epochs 2 and 3 are timed after a first that traces the step; medians are reported. The vectors
file is ``vectors/glove.6B.50d.txt.gz`` (``make vectors/glove.6B.50d.txt.gz``) or --vectors.

    taskset -c 1 python bench/vectors.py [--quick] [--config configs/ud_pos.yaml]
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

CONLL = common.ROOT.parent / "shared" / "data" / "conll2003"
CONFIG = common.ROOT / "configs" / "conll2003_ner_glove.yaml"
VECTORS = common.ROOT / "vectors" / "glove.6B.50d.txt.gz"
WAYS = {"no vectors": {"vectors": False, "frozen": False},
        "vectors, every row trained": {"vectors": True, "frozen": False},
        "vectors, unseen rows frozen": {"vectors": True, "frozen": True}}
TARGET = 0.9  # tokens/s with vectors against without


def child(spec):
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from rich.console import Console

    from seqlab.config import load_config
    from seqlab.training.data import prepare_data
    from seqlab.training.loop import build_compiled, epoch_seed, seed_everything

    sets = ["data.dev=null", "data.test=null", f"model.embedding.dim={spec['dim']}"]
    if spec["train"]:
        sets.append(f"data.train={spec['train']}")
    if spec["vectors"]:
        sets += [f"vocab.vectors={spec['vectors_file']}", "vocab.vectors_add_words=true"]
    else:
        sets += ["vocab.vectors=null", "vocab.vectors_add_words=false"]
    config = load_config(spec["config"], sets)
    prep = prepare_data(config, Console(quiet=True).print)
    if not spec["frozen"]:
        prep.trainable_words = None  # the whole table trains, as before issue 35
    if spec["sentences"]:
        prep.encoded = common.first_encoded(prep.encoded, spec["sentences"])
    seed_everything(13)
    model = build_compiled(config, prep)
    t = config.training
    times = []
    for epoch in range(3):
        dataset = prep.dataset(t.batch_size, epoch_seed(config.seed, epoch),
                               max_tokens=t.batch_tokens)
        started = time.perf_counter()
        model.fit(dataset, verbose=0)
        times.append(time.perf_counter() - started)
    common.emit({"tokens": int(prep.encoded.lengths.sum()), "epochs": times,
                 "rows": len(prep.vocab), "trainable_rows": prep.trainable_words})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the first 2,000 sentences")
    parser.add_argument("--config", type=Path, default=CONFIG,
                        help="another config's network and batches (its data and vocab)")
    parser.add_argument("--vectors", type=Path, default=VECTORS)
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return 0
    if not common.found(args.vectors, "vectors/glove.6B.50d.txt.gz"):
        return 1
    machine, vers = common.machine_info(), common.versions()
    common.log(common.describe_environment(machine, vers))
    config = args.config.resolve()
    train = str(CONLL / "train.txt") if config == CONFIG else None
    results = {}
    for name, way in WAYS.items():
        common.log(f"epochs: {name}")
        spec = dict(way, config=str(config), train=train, vectors_file=str(args.vectors.resolve()),
                    dim=50, sentences=2000 if args.quick else None)
        results[name] = common.check(common.run_child(Path(__file__), spec, timeout_s=3600,
                                                      env={"OMP_NUM_THREADS": "1"}), name)
    speed = {name: r["tokens"] / statistics.median(r["epochs"][1:]) for name, r in results.items()}
    base = speed["no vectors"]
    rows = [[name, f"{r['rows']:,}", f"{r['trainable_rows'] or r['rows']:,}"
             if WAYS[name]["frozen"] else f"{r['rows']:,}", f"{r['epochs'][0]:.1f} s",
             f"{statistics.median(r['epochs'][1:]):.2f} s", f"{speed[name]:,.0f}",
             f"{speed[name] / base:.2f}x"] for name, r in results.items()]
    print(common.describe_environment(machine, vers))
    print(f"\n{args.config.name} network, model.fit epochs, one thread:\n")
    print(common.markdown_table(["way", "table rows", "trained rows", "first epoch",
                                 "epochs 2-3 (median)", "tokens/s", "against no vectors"], rows))
    ratio = speed["vectors, unseen rows frozen"] / base
    targets = [{"target": f"training with vectors at >= {TARGET}x the speed without them",
                "measured": f"{ratio:.2f}x", "met": ratio >= TARGET}]
    return common.finish("vectors", {"machine": machine, "versions": vers, "results": results},
                         targets, args.quick)


if __name__ == "__main__":
    sys.exit(main())
