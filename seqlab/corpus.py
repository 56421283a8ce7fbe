"""Corpus statistics and file conversion: the library side of ``seqlab data stats`` and
``seqlab data convert``."""

from __future__ import annotations

import gzip
import os
from collections import Counter
from collections.abc import Sequence

from seqlab.errors import SeqlabError
from seqlab.formats import (
    Reading,
    check_encoding,
    guess_corpus_format,
    read_corpus,
    read_records,
)
from seqlab.formats.columns import resolve_column, write_columns
from seqlab.paths import check_output_file, writing
from seqlab.schemes import convert as convert_tags
from seqlab.schemes import (
    detect_scheme,
    expected_tags,
    get_chunks,
    invalid_transitions,
    normalize_scheme,
    scheme_evidence,
    tag_fits,
)

#: How many line numbers a report lists for each kind of problem.
MAX_LINES = 5
PERCENTILES = (50, 90, 95, 99)


def corpus_reading(path, format=None, token_column=0, label_column=-1,
                   label_field="upos", encoding="utf-8") -> Reading:
    """The :class:`Reading` of a corpus file; ``label_column`` may be a number or, for CoNLL-U,
    a field name (``xpos``), as ``data stats`` takes it."""
    check_encoding(encoding, os.fspath(path))
    fmt = format or guess_corpus_format(path)
    if isinstance(label_column, str):
        text = label_column.strip()
        if text.lstrip("-").isdigit():
            label_column = int(text)
        elif fmt == "conllu":
            label_column, label_field = -1, text
        else:
            raise SeqlabError(f"label column {label_column!r} must be a number for column "
                              "files (names like upos or xpos are for CoNLL-U)",
                              argument="label_column")
    return Reading(fmt, token_column, label_column, label_field, encoding)


def _percentile(sorted_values: list[int], q: float) -> int:
    """Nearest-rank percentile of sorted values."""
    if not sorted_values:
        return 0
    rank = max(1, -(-len(sorted_values) * q // 100))
    return sorted_values[int(rank) - 1]


def file_stats(path, reading: Reading) -> dict:
    """Statistics of one labelled corpus file (see :func:`corpus_stats`), plus its vocabulary
    under the private key ``_vocab`` (a Counter of tokens)."""
    p = os.fspath(path)
    fmt = reading.format or guess_corpus_format(p)
    sentences = read_corpus(p, reading.updated(format=fmt))
    labels = [s.labels or [] for s in sentences]
    lengths = sorted(len(s) for s in sentences)
    vocab: Counter = Counter()
    label_counts: Counter = Counter()
    for s in sentences:
        vocab.update(s.tokens)
        label_counts.update(s.labels or ())
    scheme = detect_scheme(labels)
    longest = max(sentences, key=len)
    stats: dict = {
        "path": p,
        "format": fmt,
        "sentences": len(sentences),
        "tokens": sum(lengths),
        "documents": len({s.document for s in sentences}),
        "types": len(vocab),
        "labels": dict(sorted(label_counts.items(), key=lambda kv: (-kv[1], kv[0]))),
        "scheme": scheme,
        "length": {
            "min": lengths[0],
            "mean": round(sum(lengths) / len(lengths), 2),
            **{f"p{q}": _percentile(lengths, q) for q in PERCENTILES},
            "max": lengths[-1],
        },
        "longest": {"tokens": len(longest), "line": longest.line},
    }
    if scheme != "plain":
        evidence = scheme_evidence(labels)
        entities: Counter = Counter()
        bad_lines: list[int] = []
        bad_count = 0
        mixed_lines: list[int] = []
        mixed_count = 0
        for s in sentences:
            tags = s.labels or []
            entities.update(kind for kind, _, _ in get_chunks(tags))
            bad = invalid_transitions(tags, scheme)
            bad_count += len(bad)
            for i in bad[: MAX_LINES - len(bad_lines)]:
                bad_lines.append(s.line_of(i))
            for i, tag in enumerate(tags):
                if not tag_fits(tag, scheme):
                    mixed_count += 1
                    if len(mixed_lines) < MAX_LINES:
                        mixed_lines.append(s.line_of(i))
        stats["entities"] = dict(sorted(entities.items()))
        stats["invalid_transitions"] = {"count": bad_count, "lines": bad_lines}
        # Labels of another scheme than the one detected (S- in BILOU, E- in IOB2, no prefix).
        stats["mixed_schemes"] = {
            "count": mixed_count,
            "lines": mixed_lines,
            "evidence": {k: v for k, v in evidence.items() if k != "chunk" and v},
        }
    stats["_vocab"] = vocab
    return stats


def corpus_stats(
    paths: Sequence[str], format=None, token_column=0, label_column=-1, label_field="upos",
    encoding="utf-8",
) -> dict:
    """Statistics of one or more labelled corpus files (``seqlab data stats``).

    Returns a JSON-serialisable dict ``{"files": [...], "total": {"sentences", "tokens"}}``; each
    file's entry holds: ``path``, ``format``, ``sentences``, ``tokens``, ``documents``,
    ``types`` (distinct tokens), ``labels`` (label -> count), ``scheme`` (detected),
    ``length`` (min, mean, p50, p90, p95, p99, max tokens per sentence), ``longest`` (tokens and
    line of the longest sentence); for chunk schemes ``entities`` (type -> count),
    ``invalid_transitions`` and ``mixed_schemes`` (``count`` and the first few ``lines``;
    ``evidence`` counts tags speaking for each scheme); for every file after the first ``oov``
    against the first (shares of ``tokens`` and ``types`` not seen there, also ignoring case) and
    ``unseen_labels`` (labels absent from the first file).
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    if not paths:
        raise SeqlabError("expected at least one corpus file")
    files = [file_stats(p, corpus_reading(p, format, token_column, label_column, label_field,
                                          encoding)) for p in paths]
    first = files[0]
    first_vocab = first["_vocab"]
    first_lower = {w.lower() for w in first_vocab}
    for stats in files[1:]:
        vocab = stats["_vocab"]
        oov = {w: c for w, c in vocab.items() if w not in first_vocab}
        oov_lower = sum(c for w, c in vocab.items() if w.lower() not in first_lower)
        stats["oov"] = {
            "against": first["path"],
            "tokens": round(sum(oov.values()) / stats["tokens"], 4) if stats["tokens"] else 0.0,
            "types": round(len(oov) / len(vocab), 4) if vocab else 0.0,
            "tokens_lower": round(oov_lower / stats["tokens"], 4) if stats["tokens"] else 0.0,
        }
        stats["unseen_labels"] = sorted(set(stats["labels"]) - set(first["labels"]))
    for stats in files:
        del stats["_vocab"]
    return {
        "files": files,
        "total": {
            "sentences": sum(f["sentences"] for f in files),
            "tokens": sum(f["tokens"] for f in files),
        },
    }


def _lines_text(entry: dict) -> str:
    if not entry["count"]:
        return "none"
    more = " ..." if entry["count"] > len(entry["lines"]) else ""
    word = "line" if len(entry["lines"]) == 1 else "lines"
    return f"{entry['count']:,} ({word} {', '.join(map(str, entry['lines']))}{more})"


def render_stats(stats: dict):
    """A Rich renderable (tables) of :func:`corpus_stats`'s result, for the console."""
    from rich.console import Group
    from rich.table import Table

    files = stats["files"]
    names = [os.path.basename(f["path"]) for f in files]
    overview = Table(title="Corpus", title_justify="left")
    overview.add_column("")
    for name in names:
        overview.add_column(name, justify="right")

    def row(label, fn):
        overview.add_row(label, *[fn(f) for f in files])

    row("format", lambda f: f["format"])
    row("sentences", lambda f: f"{f['sentences']:,}")
    row("tokens", lambda f: f"{f['tokens']:,}")
    row("documents", lambda f: f"{f['documents']:,}")
    row("distinct tokens", lambda f: f"{f['types']:,}")
    row("labels", lambda f: f"{len(f['labels']):,}")
    row("scheme", lambda f: f["scheme"])
    row("length mean", lambda f: f"{f['length']['mean']:.1f}")
    for q in PERCENTILES:
        row(f"length p{q}", lambda f, q=q: str(f["length"][f"p{q}"]))
    row("longest", lambda f: f"{f['longest']['tokens']} (line {f['longest']['line']})")
    if len(files) > 1:
        row("OOV tokens", lambda f: f"{f['oov']['tokens']:.2%}" if "oov" in f else "-")
        row("OOV types", lambda f: f"{f['oov']['types']:.2%}" if "oov" in f else "-")
        row("OOV ignoring case", lambda f: f"{f['oov']['tokens_lower']:.2%}" if "oov" in f else "-")
        row(
            "unseen labels",
            lambda f: ", ".join(f["unseen_labels"]) or "none" if "oov" in f else "-",
        )
    parts = [overview]

    chunked = [f for f in files if "entities" in f]
    if chunked:
        types = sorted({t for f in chunked for t in f["entities"]})
        entities = Table(title="Entities", title_justify="left")
        entities.add_column("type")
        for name in names:
            entities.add_column(name, justify="right")
        for t in types:
            entities.add_row(t, *[f"{f.get('entities', {}).get(t, 0):,}" for f in files])
        parts.append(entities)
        problems = Table(title="Problems", title_justify="left")
        problems.add_column("file")
        problems.add_column("invalid transitions")
        problems.add_column("labels of another scheme")
        for name, f in zip(names, files):
            if "entities" in f:
                problems.add_row(
                    name,
                    _lines_text(f["invalid_transitions"]),
                    _lines_text(f["mixed_schemes"]),
                )
        parts.append(problems)
    else:
        labels = Table(title="Labels", title_justify="left")
        labels.add_column("label")
        for name in names:
            labels.add_column(name, justify="right")
        for label in sorted({lab for f in files for lab in f["labels"]}):
            labels.add_row(label, *[f"{f['labels'].get(label, 0):,}" for f in files])
        parts.append(labels)
    return Group(*parts)


# --------------------------------------------------------------------------------------------
# Conversion
# --------------------------------------------------------------------------------------------


def _same_file(a: str, b: str) -> bool:
    if os.path.exists(b):
        try:
            return os.path.samefile(a, b)
        except OSError:
            return False
    return os.path.abspath(a) == os.path.abspath(b)


def convert_file(
    src,
    dst,
    target: str,
    source: str | None = None,
    token_column=0,
    label_column=-1,
    *,
    encoding: str = "utf-8",
    force: bool = False,
) -> int:
    """Rewrite a column file's labels in another tag scheme (``seqlab data convert``).

    Only the label field changes: other columns, the separators between them, blank lines,
    -DOCSTART- lines and line endings are kept (the file is written in UTF-8). Invalid
    sequences are repaired by the conlleval rule. ``source`` None detects the file's scheme.
    ``dst`` ending in .gz is gzipped.

    Returns the number of sentences written. SeqlabError when ``dst`` is ``src``, when ``dst``
    exists and ``force`` is False, for CoNLL-U input, for plain labels, or for a label that does
    not fit the source scheme (with its line).
    """
    src, dst = os.fspath(src), os.fspath(dst)
    try:
        target = normalize_scheme(target)
        source = normalize_scheme(source) if source is not None else None
    except ValueError as exc:
        raise SeqlabError(str(exc), argument="scheme") from None
    if target == "plain":
        raise SeqlabError("cannot convert to plain: expected iob1, iob2, iobes or bilou",
                          argument="scheme")
    if not os.path.exists(src):
        raise SeqlabError(f"{src}: no such file")
    if _same_file(src, dst):
        raise SeqlabError(f"{dst}: is the input file; expected another output file")
    check_output_file(dst, force)
    if guess_corpus_format(src) == "conllu":
        raise SeqlabError(f"{src}: conversion works on column files, not CoNLL-U")

    reading = Reading("conll", token_column, label_column, encoding=encoding)
    records = list(read_records(src, reading))
    sentences = [r for r in records if r.kind == "sentence"]
    if not sentences:
        raise SeqlabError(f"{src}: empty file: expected sentences of 'token ... label' lines")
    if source is None:
        source = detect_scheme(s.labels for s in sentences)
    if source == "plain":
        raise SeqlabError(f"{src}: the labels have no B-/I-/E-/S- prefixes (plain token "
                          "classes); nothing to convert")
    for s in sentences:
        for i, tag in enumerate(s.labels):
            if not tag_fits(tag, source):
                raise SeqlabError(f"{src}:{s.line_of(i)}: label {tag!r} does not fit the "
                                  f"{source} scheme; expected {expected_tags(source)}")
        s.tags = convert_tags(s.labels, target, source)
    index = resolve_column(src, sentences[0].line, label_column, len(sentences[0].rows[0]),
                           "label")
    opener = gzip.open if dst.endswith(".gz") else open
    with writing(dst, "wt", opener=opener, newline="") as out:
        for record in records:
            write_columns(out, record, replace=index)
    return len(sentences)
