"""Constrained against argmax decoding of softmax models, over seeds (issue 14).

The same trained weights decoded both ways (``model.decoding: constrained`` and ``argmax``),
each on the test file of the run's own config: test F1 (conlleval-exact) and how many
sentences hold an invalid tag sequence in the scheme the model tags in (an ``I-X`` after
``O``, a ``B-X`` without its ``E-X`` in IOBES, ...). Mean and standard
deviation over the seeds; the key column is the constrained F1 minus the argmax F1 of the
same model.

Usage::

    python bench/decoding.py                 # trains configs/quickstart.yaml, 3 seeds
    python bench/decoding.py --quick         # the same, 3 epochs each
    python bench/decoding.py runs/ner_softmax [...]   # the seed-N/ models of `--seeds` sets

A softmax model is required (a CRF always decodes with the scheme's transitions).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common

QUICKSTART = common.ROOT / "configs" / "quickstart.yaml"


def bad_input(message):
    """One line on stderr and exit status 2, as seqlab does for bad input."""
    common.log(message)
    raise SystemExit(2)


def score_model(model_path: Path, config_path: Path) -> dict:
    """Test F1 and invalid sentences of one model, decoded both ways."""
    from seqlab.config import load_config
    from seqlab.decoding import to_tags
    from seqlab.formats import read_corpus
    from seqlab.metrics import evaluate
    from seqlab.schemes import invalid_transitions
    from seqlab.tagger import Tagger, load_model

    model = load_model(model_path)
    # one tagger a decoding: the decoding is read when its forward pass is first traced
    taggers = {decoding: Tagger(model) for decoding in ("argmax", "constrained")}
    first = taggers["argmax"]
    if first.crf:
        bad_input(f"{model_path}: a CRF model; this compares softmax decodings")
    test = read_corpus(load_config(config_path).data.test, first.reading)
    words = [r.tokens for r in test]
    gold = [r.labels for r in test]
    out = {}
    for decoding, tagger in taggers.items():
        tagger.parts.decoding = decoding
        ids, _ = tagger.predict_ids(words, batch_size=128)
        # invalid in the scheme the model tags in (IOBES for the NER config): writing IOBES
        # back as IOB2 would hide a B- without its E-, but not the chunks it breaks
        raw = [[tagger.labels[i] for i in x.tolist()] for x in ids]
        invalid = sum(1 for tags in raw if invalid_transitions(tags, tagger.scheme))
        pred = [to_tags(x, tagger.labels, tagger.scheme, tagger.source_scheme) for x in ids]
        result = evaluate(gold, pred, chunks=True)
        out[decoding] = {"f1": result["f1"], "invalid_sentences": invalid}
    return out


def seed_runs(set_dir: Path) -> list:
    """The run directories (RunDir) of a `--seeds` set that hold a model."""
    from seqlab.training.rundir import RunSet

    found = [run for run in RunSet(set_dir).runs() if run.model.is_file()]
    if not found:
        bad_input(f"{set_dir}: no seed-N/model.keras (train it with --seeds)")
    return found


def mean_sd(values):
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.2f} ± {sd:.2f}"


def span(values):
    return f"{min(values)}–{max(values)}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("sets", nargs="*", type=Path,
                        help="output folders of `seqlab train --seeds` (softmax models)")
    args = parser.parse_args()
    machine, vers = common.machine_info(), common.versions()
    common.log(common.describe_environment(machine, vers))
    with tempfile.TemporaryDirectory() as tmp:
        sets = args.sets
        if not sets:
            sets = [Path(tmp) / "quickstart"]
            cmd = [common.venv_script("seqlab"), "train", str(QUICKSTART), "--seeds", "3",
                   "--output", str(sets[0])]
            if args.quick:
                cmd += ["--set", "training.epochs=3"]
            common.log("training:", " ".join(cmd))
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        rows, results = [], {}
        for set_dir in sets:
            per_seed = []
            for run in seed_runs(set_dir):
                common.log(f"decoding {run.model}")
                per_seed.append(score_model(run.model, run.config))
            results[str(set_dir)] = per_seed
            f1 = {d: [s[d]["f1"] for s in per_seed] for d in ("argmax", "constrained")}
            invalid = {d: [s[d]["invalid_sentences"] for s in per_seed]
                       for d in ("argmax", "constrained")}
            gain = [c - a for a, c in zip(f1["argmax"], f1["constrained"])]
            name = "configs/quickstart.yaml" if not args.sets else str(set_dir)
            rows.append([name, len(per_seed), mean_sd(f1["argmax"]), span(invalid["argmax"]),
                         mean_sd(f1["constrained"]), span(invalid["constrained"]),
                         mean_sd(gain)])
    print(common.describe_environment(machine, vers))
    print("\nTest F1 of the same softmax models decoded two ways (mean ± sd over seeds):\n")
    print(common.markdown_table(
        ["models", "seeds", "argmax F1", "invalid sentences", "constrained F1",
         "invalid sentences", "constrained − argmax"], rows))
    targets = [{"target": "constrained decoding emits no invalid sequence",
                "met": all(s["constrained"]["invalid_sentences"] == 0
                           for per_seed in results.values() for s in per_seed),
                "measured": "; ".join(f"{r[0]}: {r[5]}" for r in rows)}]
    return common.finish("decoding", {"machine": machine, "versions": vers,
                                      "results": results}, targets, args.quick)


if __name__ == "__main__":
    sys.exit(main())
