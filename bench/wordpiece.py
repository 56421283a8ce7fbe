"""WordPiece ids of words: keras-hub's tokenizer against seqlab's (issue 35).

A frozen transformer's prediction tokenizes each distinct word of a file once; with keras-hub's
``BertTokenizer`` (TensorFlow Text) that was about 3% of tagging CoNLL-2003 test with the
MiniLM model. ``seqlab.wordpiece.WordPieces`` gives the printable-ASCII words to the
`tokenizers` package's Rust WordPiece and the rest to keras-hub. Measured here, with the
MiniLM checkpoint's vocabulary, over the distinct words of CoNLL-2003 (train, valid, test)
and UD English LinES (train, dev, test), one thread (``TOKENIZERS_PARALLELISM=false``), in
chunks of 8,192 words as ``Encoder.subwords`` asks: words/s of each (median of 3, after a
warm-up), their ratio, and how many words' ids differ (the target: none).

    python bench/wordpiece.py [--quick]
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common

SHARED = common.ROOT.parent / "shared" / "data"
CHECKPOINT = common.ROOT / "vectors" / "all-MiniLM-L6-v2"
CHUNK = 8192


def corpus_words() -> list[str]:
    words = set()
    for name in ("train", "valid", "test"):
        for line in (SHARED / "conll2003" / f"{name}.txt").open(encoding="utf-8"):
            parts = line.split()
            if parts and parts[0] != "-DOCSTART-":
                words.add(parts[0])
    for name in ("train", "dev", "test"):
        path = SHARED / "ud_english_lines" / f"en_lines-ud-{name}.conllu.gz"
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) > 2 and parts[0].isdigit():
                    words.add(parts[1])
    return sorted(words)


def in_chunks(tokenize, words):
    out = []
    for i in range(0, len(words), CHUNK):
        out.extend(tokenize(words[i:i + CHUNK]))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the first 5,000 words")
    args = parser.parse_args()
    if not common.found(CHECKPOINT, "minilm"):
        return 2
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from seqlab.transformer import load_checkpoint
    from seqlab.wordpiece import WordPieces, fast_word

    machine, vers = common.machine_info(), common.versions()
    tokenizer = load_checkpoint(CHECKPOINT).tokenizer
    words = corpus_words()
    if args.quick:
        words = words[:5000]

    def keras_hub_ids(batch):
        ids = tokenizer(batch)
        ids = ids.to_list() if hasattr(ids, "to_list") else ids
        return [[int(i) for i in row] for row in ids]

    ours = WordPieces(tokenizer)
    if ours.rust() is None:
        raise SystemExit("the `tokenizers` package is missing: pip install -e '.[pretrained]'")
    runs = {"keras-hub": keras_hub_ids, "seqlab WordPieces": ours}
    ids, seconds = {}, {}
    for name, tokenize in runs.items():
        ids[name] = in_chunks(tokenize, words[:CHUNK])  # warm-up: tables built, graph traced
    for name, tokenize in runs.items():
        seconds[name] = common.time_repeats(
            lambda tokenize=tokenize, name=name: ids.__setitem__(name, in_chunks(tokenize, words)),
            3)
    differ = [w for w, a, b in zip(words, ids["keras-hub"], ids["seqlab WordPieces"]) if a != b]
    fast = sum(map(fast_word, words))
    import statistics

    rate = {name: len(words) / statistics.median(s) for name, s in seconds.items()}
    print(common.describe_environment(machine, vers))
    print(f"\n{len(words):,} distinct words of CoNLL-2003 and UD LinES ({fast:,} through the "
          f"Rust path), MiniLM's vocabulary, one thread, median of 3:\n")
    print(common.markdown_table(
        ["tokenizer", "words/s", "against keras-hub"],
        [[name, f"{rate[name]:,.0f}", f"{rate[name] / rate['keras-hub']:.2f}x"]
         for name in rate]))
    print(f"\nwords whose ids differ: {len(differ)}" + (f" (first: {differ[:5]})" if differ
                                                       else ""))
    targets = [{"target": "every word's ids as keras-hub's", "met": not differ,
                "measured": f"{len(differ)} of {len(words):,} differ"}]
    return common.finish("wordpiece", {"machine": machine, "versions": vers,
                                       "words": len(words), "fast_words": fast,
                                       "seconds": seconds, "differ": differ[:100]},
                         targets, args.quick)


if __name__ == "__main__":
    sys.exit(main())
