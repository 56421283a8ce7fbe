"""What to annotate next, measured (issue 36): does `seqlab select` choose sentences that
teach the model more than sentences chosen at random?

A model of `configs/conll2003_ner_fast.yaml` (`--config`) is trained on the first 1,000
sentences of CoNLL-2003 train (seed 13). `seqlab select` ranks the rest of the training set
(13,040 sentences, their gold labels set aside) and chooses 1,000; 1,000 others are chosen at
random. Each set is added, with its gold labels (a perfect annotator), to the first 1,000, and
the config is trained on the 2,000 with seeds 13, 14, 15. The table gives the dev and test F1
of both arms (mean ± sd over the seeds) and the tokens each added, since uncertain sentences
are longer.
Target: selection's mean dev F1 above random's.

    python bench/selection.py            # about 15 minutes on 2 cores
    python bench/selection.py --quick    # the plumbing: 200 + 200 of a 2,000-sentence pool
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
from pathlib import Path

import _common as common

CONFIG = common.ROOT / "configs" / "conll2003_ner_fast.yaml"
TRAIN = common.ROOT.parent / "shared" / "data" / "conll2003" / "train.txt"
SEEDS = "13,14,15"


def sentences(path: Path) -> list[str]:
    """The sentence blocks of a CoNLL file, -DOCSTART- blocks left out."""
    blocks = [b.strip("\n") for b in path.read_text(encoding="utf-8").split("\n\n")]
    return [b for b in blocks if b.strip() and not b.startswith("-DOCSTART-")]


def write(blocks: list[str], path: Path) -> Path:
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    return path


def tokens(blocks: list[str]) -> int:
    return sum(len(b.splitlines()) for b in blocks)


def train(config: Path, train_file: Path, output: Path, seeds: str | None, extra: list[str]
          ) -> dict:
    cmd = [common.venv_script("seqlab"), "train", config, "--output", output, "--force",
           "--set", f"data.train={train_file}", *extra]
    if seeds:
        cmd += ["--seeds", seeds]
    common.log("$", " ".join(str(c) for c in cmd[1:]))
    run = common.time_command(cmd, timeout_s=4 * 3600)
    if run["returncode"] != 0:
        raise SystemExit(f"training failed: {run['tail']}")
    return run


def scores(output: Path) -> dict:
    """dev and test F1 of each seed of a --seeds run."""
    summary = json.loads((output / "summary.json").read_text(encoding="utf-8"))
    rows = summary["seeds"]
    return {split: [r[split] for r in rows] for split in ("dev", "test")}


def mean_sd(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.2f} ± {sd:.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 + 200 of 2,000, 3 epochs")
    parser.add_argument("--first", type=int, default=1000, help="sentences of the first model")
    parser.add_argument("--n", type=int, default=1000, help="sentences chosen by each arm")
    parser.add_argument("--strategy", default="expected_errors")
    parser.add_argument("--config", type=Path, default=CONFIG)
    args = parser.parse_args()
    machine, vers = common.machine_info(), common.versions()
    print(common.describe_environment(machine, vers))
    first, n, pool_size, extra, seeds = args.first, args.n, None, [], SEEDS
    if args.quick:
        first, n, pool_size, seeds = 200, 200, 2000, "13"
        extra = ["--set", "training.epochs=3"]
    blocks = sentences(TRAIN)
    seed_set, pool = blocks[:first], blocks[first:]
    if pool_size:
        pool = pool[:pool_size]
    with tempfile.TemporaryDirectory(prefix="seqlab-select-") as tmp:
        tmp = Path(tmp)
        initial = tmp / "initial"
        train(args.config, write(seed_set, tmp / "first.txt"), initial, None, extra)
        pool_file = write(pool, tmp / "pool.txt")
        chosen_file = tmp / "chosen.conll"
        cmd = [common.venv_script("seqlab"), "select", initial / "model.keras", pool_file,
               "-i", "conll", "--n", n, "--strategy", args.strategy, "-o", chosen_file]
        run = common.time_command(cmd)
        if run["returncode"] != 0:
            raise SystemExit(f"select failed: {run['tail']}")
        picked = json.loads((tmp / "chosen.scores.json").read_text(encoding="utf-8"))
        arms = {"selected": [pool[c["index"]] for c in picked["chosen"]],
                "random": random.Random(0).sample(pool, n)}
        results = {}
        for name, added in arms.items():
            out = tmp / name
            train(args.config, write(seed_set + added, tmp / f"{name}.txt"), out, seeds, extra)
            results[name] = dict(scores(out), tokens=tokens(added), sentences=len(added))
    rows = [[name, r["sentences"], f"{r['tokens']:,}", mean_sd(r["dev"]), mean_sd(r["test"]),
             ", ".join(f"{x:.2f}" for x in r["dev"])] for name, r in results.items()]
    print(f"\n{args.config.name}; first model: {first:,} sentences; pool {len(pool):,}; "
          f"{args.strategy} against random, seeds {seeds}; select took {run['wall_s']:.1f} s\n")
    print(common.markdown_table(["added", "sentences", "tokens", "dev F1", "test F1",
                                 "dev per seed"], rows))
    gain = statistics.fmean(results["selected"]["dev"]) - statistics.fmean(results["random"]["dev"])
    targets = [{"target": "selection's mean dev F1 above random's",
                "measured": f"{gain:+.2f} F1", "met": gain > 0}]
    return common.finish("selection", {"machine": machine, "versions": vers,
                                       "results": results, "strategy": args.strategy},
                         targets, args.quick)


if __name__ == "__main__":
    sys.exit(main())
