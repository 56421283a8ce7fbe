"""Training on a corpus streamed from disk: throughput and peak memory as the corpus grows.

Generates synthetic CoNLL corpora (Zipf-distributed words, entity-like spans) of 1 and 5 million
tokens (quick: 20,000 and 100,000), trains one epoch of a small model on each with
`data.stream: true` (vocabularies in one pass, batches encoded on the fly), each in its own
process, and reports tokens per second and peak RSS. The ratio column compares each size with
the smallest one: flat memory means the corpus never has to fit in memory.

    python bench/scale.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import _common as common

TYPES = ("PER", "LOC", "ORG", "MISC")


def generate(path: Path, tokens: int, seed: int = 7) -> int:
    """Write a synthetic IOB2 corpus of about `tokens` tokens; returns the sentence count."""
    import numpy as np

    rng = np.random.default_rng(seed)
    vocab = [f"w{i}" for i in range(50_000)]
    names = [f"N{i}" for i in range(20_000)]
    written = sentences = 0
    with open(path, "w", encoding="utf-8") as out:
        while written < tokens:
            length = int(rng.integers(5, 40))
            words = rng.zipf(1.3, size=length) % len(vocab)
            tags = ["O"] * length
            for start in rng.integers(0, length, size=max(1, length // 10)):
                span = int(rng.integers(1, 4))
                kind = TYPES[int(rng.integers(0, 4))]
                for j in range(start, min(length, start + span)):
                    tags[j] = ("B-" if j == start else "I-") + kind
            lines = [f"{names[int(rng.integers(0, len(names)))] if t != 'O' else vocab[w]} {t}"
                     for w, t in zip(words, tags)]
            out.write("\n".join(lines) + "\n\n")
            written += length
            sentences += 1
    return sentences


def child(spec: dict) -> None:
    from rich.console import Console

    from seqlab.config import validate
    from seqlab.training import train

    config = validate({
        "seed": 13,
        "data": {"train": spec["path"], "format": "conll", "stream": True},
        "vocab": {"min_count": 2},
        "model": {"embedding": {"dim": 32}, "lstm": {"units": 32},
                  "attention": {"units": 16, "width": 5}},
        "training": {"epochs": 1, "batch_size": 64},
        "logging": {"plot": False},
    })
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        train(config, Path(tmp) / "run", console=Console(stderr=True, quiet=True))
    seconds = time.perf_counter() - started
    common.emit({"seconds": seconds, "tokens": spec["tokens"],
                 "tokens_per_s": spec["tokens"] / seconds, "peak_rss_mb": common.peak_rss_mb()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    sizes = [20_000, 100_000] if args.quick else [1_000_000, 5_000_000]
    machine, vers = common.machine_info(), common.versions()
    print(common.describe_environment(machine, vers))
    rows, results = [], []
    with tempfile.TemporaryDirectory(prefix="seqlab-scale-") as tmp:
        for size in sizes:
            path = Path(tmp) / f"synthetic-{size}.txt"
            sentences = generate(path, size)
            common.log(f"{size:,} tokens, {sentences:,} sentences, "
                       f"{path.stat().st_size / 1e6:.0f} MB: training one epoch")
            result = common.run_child(__file__, {"path": str(path), "tokens": size},
                                      timeout_s=3600)
            result.update(sentences=sentences, file_mb=path.stat().st_size / 1e6)
            results.append(result)
    base = results[0]
    for r in results:
        rows.append([f"{r['tokens']:,}", f"{r['file_mb']:.0f} MB", f"{r['seconds']:.0f} s",
                     f"{r['tokens_per_s']:,.0f}", common.fmt_mb(r["peak_rss_mb"]),
                     f"**{r['peak_rss_mb'] / base['peak_rss_mb']:.2f}**"])
    print(common.markdown_table(["tokens", "file", "one epoch", "tokens/s", "peak RSS",
                                 f"peak RSS ÷ {base['tokens']:,}-token run"], rows))
    common.write_results("scale", {"machine": machine, "versions": vers, "results": results})


if __name__ == "__main__":
    sys.exit(main())
