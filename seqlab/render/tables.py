"""Human-readable evaluation output: Rich tables for results and confusion matrices, error files.

Nothing here prints: the functions return Rich renderables (the CLI sends them to its stderr
console) or write the file they are given.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from seqlab.errors import SeqlabError
from seqlab.metrics import sentence_chunk_errors
from seqlab.paths import writing
from seqlab.schemes import Span, is_chunk_task, span, spans

__all__ = ["render_comparison", "render_confusion", "render_result", "render_seeds",
           "write_errors"]


def _pct(x: float) -> str:
    return f"{x:.2f}"


def render_result(result: dict, title: str = ""):
    """A Rich table of an :func:`seqlab.metrics.evaluate` result.

    Chunk results: one row per type (precision, recall, F1, gold, predicted, correct) and an
    overall row; the caption gives token accuracy and the counts. Plain-tag results: one row
    per label (precision, recall, F1, support) and a macro-average row.
    """
    chunk = result.get("task") == "chunk"
    table = Table(title=title or None, box=box.SIMPLE_HEAVY, show_footer=False)
    table.add_column("type" if chunk else "label", style="bold")
    for name in ("precision", "recall", "F1"):
        table.add_column(name, justify="right")
    if chunk:
        for name in ("gold", "predicted", "correct"):
            table.add_column(name, justify="right")
        for kind, s in result["per_type"].items():
            table.add_row(kind, _pct(s["precision"]), _pct(s["recall"]), _pct(s["f1"]),
                          str(s["gold"]), str(s["predicted"]), str(s["correct"]))
        table.add_section()
        table.add_row(Text("overall", style="bold cyan"), _pct(result["precision"]),
                      _pct(result["recall"]), Text(_pct(result["f1"]), style="bold cyan"),
                      str(result["gold_chunks"]), str(result["predicted_chunks"]),
                      str(result["correct_chunks"]))
    else:
        table.add_column("support", justify="right")
        for label, s in result["per_label"].items():
            table.add_row(label, _pct(s["precision"]), _pct(s["recall"]), _pct(s["f1"]),
                          str(s["support"]))
        table.add_section()
        table.add_row(Text("macro avg", style="bold cyan"), _pct(result["precision"]),
                      _pct(result["recall"]), _pct(result["f1"]), str(result["tokens"]))
    n = result["sentences"]
    table.caption = (f"accuracy {_pct(result['accuracy'])}% on {result['tokens']} tokens, "
                     f"{n} sentence{'' if n == 1 else 's'}")
    return table


def render_confusion(labels: Sequence[str], matrix: Sequence[Sequence[int]], title: str = ""):
    """A Rich table of a token-label confusion matrix: rows gold, columns predicted.

    The diagonal is green, non-zero cells off the diagonal red, zeros dimmed.
    """
    table = Table(title=title or "confusion (rows gold, columns predicted)",
                  box=box.SIMPLE, pad_edge=False)
    table.add_column("gold \\ pred", style="bold")
    for label in labels:
        table.add_column(label, justify="right")
    for i, (label, row) in enumerate(zip(labels, matrix)):
        cells = []
        for j, n in enumerate(row):
            style = "green" if i == j else ("red" if n else "dim")
            cells.append(Text(str(n), style=style))
        table.add_row(label, *cells)
    return table


def render_comparison(comparison: dict, names: tuple[str, str] = ("A", "B")):
    """Rich output of :func:`seqlab.metrics.compare`: both systems side by side and the test."""
    a, b = comparison["a"], comparison["b"]
    table = Table(title="comparison", box=box.SIMPLE_HEAVY)
    table.add_column("system", style="bold")
    for name in ("accuracy", "precision", "recall", "F1"):
        table.add_column(name, justify="right")
    for name, r in zip(names, (a, b)):
        table.add_row(name, _pct(r["accuracy"]), _pct(r["precision"]), _pct(r["recall"]),
                      _pct(r["f1"]))
    p = comparison["p_value"]
    verdict = "significant at 0.05" if p < 0.05 else "not significant at 0.05"
    line = Text(
        f"{comparison['metric']} difference {names[0]} - {names[1]} = "
        f"{comparison['difference']:+.2f}; approximate randomisation p = {p:.4f} "
        f"({comparison['rounds']} rounds, seed {comparison['seed']}): {verdict}",
        style="green" if p < 0.05 else "yellow",
    )
    return Group(table, line)


def render_seeds(summary: dict):
    """A Rich table of :func:`seqlab.training.seeds.train_seeds`' summary: a row per seed,
    then mean, standard deviation, min and max."""
    metric = summary["metric"]
    table = Table(title=f"{len(summary['seeds'])} seeds ({metric})", title_justify="left",
                  box=box.SIMPLE_HEAVY)
    for name in ("seed", f"dev {metric}", f"test {metric}", "best epoch", "epochs",
                 "seconds"):
        table.add_column(name, justify="right")

    def cell(value):
        return "-" if value is None else _pct(value)

    best = summary["best"]["seed"]
    for row in summary["seeds"]:
        mark = " *" if row["seed"] == best else ""
        table.add_row(f"{row['seed']}{mark}", cell(row["dev"]), cell(row["test"]),
                      str(row["best_epoch"]), str(row["epochs_run"]), f"{row['seconds']:.0f}")
    table.add_section()
    stats = summary["summary"]
    for name in ("mean", "sd", "min", "max"):
        table.add_row(Text(name, style="bold cyan"),
                      *[cell(stats[s][name]) if s in stats else "-" for s in ("dev", "test")],
                      "", "", "")
    table.caption = (f"* the run kept as model.keras (best {summary['chosen_by']}); sd is the "
                     "sample standard deviation")
    return table


def _span_text(s: Span) -> str:
    return f"[{s.type} {s.text}]"


def write_errors(
    path: str | os.PathLike,
    tokens: Sequence[Sequence[str]],
    gold: Sequence[Sequence[str]],
    pred: Sequence[Sequence[str]],
    *,
    chunks: bool | None = None,
) -> int:
    """Write every sentence that has a wrong span, for error analysis.

    A wrong span is a gold chunk that was not predicted exactly (missed) or a predicted chunk
    that is not a gold chunk (spurious); for plain-tag tasks every mistagged token is one.
    Paths ending in ``.jsonl`` get one JSON object per sentence (``sentence`` index from 1,
    ``tokens``, ``gold``/``pred`` tags, ``gold_spans``, ``pred_spans``, ``missed``, ``spurious``,
    spans as ``[type, start, end_exclusive, text]``; for tag tasks ``errors`` as
    ``[index, token, gold, pred]``); any other path gets readable text. The file is
    overwritten.

    Returns:
        The number of wrong spans (wrong tokens for tag tasks) written.
    """
    if len(tokens) != len(gold) or len(gold) != len(pred):
        raise SeqlabError(f"{path}: tokens, gold and predicted tags need the same sentences")
    if chunks is None:
        chunks = is_chunk_task(gold, pred)
    as_json = str(path).endswith(".jsonl")
    wrong = 0
    with writing(path) as f:
        for i, (t, g, p) in enumerate(zip(tokens, gold, pred), start=1):
            if not (len(t) == len(g) == len(p)):
                raise SeqlabError(
                    f"sentence {i}: {len(t)} tokens, {len(g)} gold tags, {len(p)} predicted"
                )
            if chunks:
                wrong += _write_chunk_errors(f, as_json, i, t, g, p)
            else:
                wrong += _write_tag_errors(f, as_json, i, t, g, p)
    return wrong


def _write_chunk_errors(f, as_json: bool, i: int, t, g, p) -> int:
    missed, spurious = sentence_chunk_errors(g, p)
    n = len(missed) + len(spurious)
    if not n:
        return 0
    gold_spans, pred_spans = spans(t, g), spans(t, p)
    missed, spurious = [span(t, c) for c in missed], [span(t, c) for c in spurious]
    if as_json:
        def rows(ss):
            return [s.as_row() for s in ss]
        f.write(json.dumps({
            "sentence": i, "tokens": list(t), "gold": list(g), "pred": list(p),
            "gold_spans": rows(gold_spans), "pred_spans": rows(pred_spans),
            "missed": rows(missed), "spurious": rows(spurious),
        }, ensure_ascii=False) + "\n")
        return n
    f.write(f"# sentence {i}: {n} wrong span{'s' if n != 1 else ''}\n")
    f.write(" ".join(t) + "\n")
    f.write("gold: " + (" ".join(_span_text(s) for s in gold_spans) or "-") + "\n")
    f.write("pred: " + (" ".join(_span_text(s) for s in pred_spans) or "-") + "\n")
    for s in missed:
        f.write(f"  missed   {_span_text(s)} tokens {s.start}-{s.end - 1}\n")
    for s in spurious:
        f.write(f"  spurious {_span_text(s)} tokens {s.start}-{s.end - 1}\n")
    f.write("\n")
    return n


def _write_tag_errors(f, as_json: bool, i: int, t, g, p) -> int:
    errors = [(j, t[j], g[j], p[j]) for j in range(len(t)) if g[j] != p[j]]
    if not errors:
        return 0
    if as_json:
        f.write(json.dumps({
            "sentence": i, "tokens": list(t), "gold": list(g), "pred": list(p),
            "errors": [list(e) for e in errors],
        }, ensure_ascii=False) + "\n")
        return len(errors)
    n = len(errors)
    f.write(f"# sentence {i}: {n} wrong tag{'s' if n != 1 else ''}\n")
    f.write(" ".join(t) + "\n")
    for j, tok, gt, pt in errors:
        f.write(f"  {j}: {tok}  gold {gt}  pred {pt}\n")
    f.write("\n")
    return n
