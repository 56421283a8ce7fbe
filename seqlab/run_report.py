"""``seqlab report RUN_DIR``: one self-contained HTML page of a finished run.

The run: config, versions, data files and their sha256, seed, epochs, seconds, the weights'
sha256; training curves (loss, dev score, tokens/s per epoch) as inline SVG; dev and test
scores per type with the tag confusion matrix; the 20 dev sentences with the most errors,
gold and predicted spans side by side in entity colours; attention heatmaps of a few dev
sentences. Everything comes from the run directory (``dev_predictions.jsonl`` and
``attention.json`` are written at the end of training), so no data file is needed. The page
has its CSS inline, no script and no external resource. A directory of ``--seeds`` runs gets
the table of seeds and the page of its best run.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from seqlab.errors import SeqlabError

ERRORS_SHOWN = 20


def _read_json(path: Path, expected: type = dict):
    from seqlab.paths import read_json

    return read_json(path, expected)


def _svg_chart(history: list[dict], key: str, title: str, colour: str) -> str | None:
    points = [(row["epoch"], row[key]) for row in history if row.get(key) is not None]
    if not points:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 2.6))
    ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", color=colour)
    ax.set(title=title, xlabel="epoch")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # inline: no XML prolog


def _history(path: Path) -> list[dict]:
    """history.csv's rows, every value a number (``epoch`` an int); a damaged file is one
    error naming its line."""
    if not path.is_file():
        return []
    rows = []
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            for row in reader:
                line = reader.line_num
                if None in row or None in row.values():
                    raise SeqlabError(f"{path}:{line}: expected {len(reader.fieldnames)} "
                                      f"fields ({','.join(reader.fieldnames)}); the file is "
                                      "damaged")
                if "epoch" not in row:
                    raise SeqlabError(f"{path}:1: expected an 'epoch' column; the file is "
                                      "damaged")
                parsed = {}
                for key, value in row.items():
                    try:
                        parsed[key] = int(value) if key == "epoch" else \
                            (float(value) if value != "" else None)
                    except ValueError:
                        raise SeqlabError(f"{path}:{line}: {key} {value!r}: expected a number; "
                                          "the file is damaged") from None
                rows.append(parsed)
    except UnicodeDecodeError:
        raise SeqlabError(f"{path}: not UTF-8 text; the file is damaged") from None
    except csv.Error as exc:
        raise SeqlabError(f"{path}:{reader.line_num}: {exc}; the file is damaged") from None
    return rows


def _predictions(path: Path) -> list[dict]:
    """dev_predictions.jsonl: one ``{"tokens", "gold", "pred"}`` a line, the three lists of
    one length; a damaged line (cut off, edited) is one error naming it."""
    from seqlab.paths import parse_json

    if not path.is_file():
        return []
    predictions = []
    try:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                p = parse_json(line, path, number, dict)
                lists = [p.get(k) for k in ("tokens", "gold", "pred")]
                if not all(isinstance(v, list) and all(isinstance(x, str) for x in v)
                           for v in lists) or len({len(v) for v in lists}) != 1:
                    raise SeqlabError(f"{path}:{number}: expected tokens, gold and pred: lists "
                                      "of strings of one length; the file is damaged")
                predictions.append(p)
    except UnicodeDecodeError:
        raise SeqlabError(f"{path}: not UTF-8 text; the file is damaged") from None
    return predictions


def _score_rows(result: dict) -> list[dict]:
    if result.get("task") == "chunk":
        rows = [{"name": k, "precision": v["precision"], "recall": v["recall"], "f1": v["f1"],
                 "support": v["gold"]} for k, v in result["per_type"].items()]
        overall = {"name": "overall", "precision": result["precision"],
                   "recall": result["recall"], "f1": result["f1"],
                   "support": result["gold_chunks"]}
    else:
        rows = [{"name": k, "precision": v["precision"], "recall": v["recall"], "f1": v["f1"],
                 "support": v["support"]} for k, v in result["per_label"].items()]
        overall = {"name": "macro average", "precision": result["precision"],
                   "recall": result["recall"], "f1": result["f1"], "support": result["tokens"]}
    return rows + [overall]


def _errors(predictions: list[dict], chunked: bool) -> list[dict]:
    from seqlab.metrics import sentence_chunk_errors
    from seqlab.pages import segments

    counted = []
    for i, p in enumerate(predictions):
        if chunked:
            missed, spurious = sentence_chunk_errors(p["gold"], p["pred"])
            n = len(missed) + len(spurious)
        else:
            n = sum(g != q for g, q in zip(p["gold"], p["pred"]))
        if n:
            counted.append((n, i))
    counted.sort(key=lambda c: (-c[0], c[1]))
    shown = []
    for n, i in counted[:ERRORS_SHOWN]:
        p = predictions[i]
        shown.append({"sentence": i + 1, "errors": n,
                      "gold": segments(p["tokens"], p["gold"], chunked),
                      "pred": segments(p["tokens"], p["pred"], chunked, gold=p["gold"])})
    return shown


def _heat(weight) -> str:
    if weight is None:
        return "#f4f4f4"
    level = max(0.0, min(1.0, weight))
    return f"rgba(31, 119, 180, {0.08 + 0.92 * level:.3f})"


def build_report(run_dir: str | Path) -> str:
    """The HTML of a run directory's report (or of a ``--seeds`` set's best run)."""
    from seqlab.metrics import confusion_matrix
    from seqlab.pages import render, types_of

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise SeqlabError(f"{run_dir}: run directory not found")
    seeds = None
    if (run_dir / "summary.json").is_file():
        seeds = _read_json(run_dir / "summary.json")
        best = seeds.get("best")
        if not isinstance(best, dict) or not isinstance(best.get("seed"), int):
            raise SeqlabError(f"{run_dir / 'summary.json'}: expected best.seed, the seed of "
                              "the best run; the file is damaged")
        run_dir = run_dir / f"seed-{best['seed']}"
    for name in ("run.json", "metrics.json"):
        if not (run_dir / name).is_file():
            raise SeqlabError(f"{run_dir}: not a finished seqlab run (no {name}); expected a "
                              "directory written by `seqlab train`")
    record = _read_json(run_dir / "run.json")
    metrics = _read_json(run_dir / "metrics.json")
    history = _history(run_dir / "history.csv")
    config_text = (run_dir / "config.yaml").read_text(encoding="utf-8") \
        if (run_dir / "config.yaml").is_file() else ""
    predictions = _predictions(run_dir / "dev_predictions.jsonl")
    attention = _read_json(run_dir / "attention.json", list) \
        if (run_dir / "attention.json").is_file() else []
    first = next((metrics[s] for s in ("dev", "test") if s in metrics), {})
    chunked = first.get("task") == "chunk"
    metric = "f1" if chunked else "accuracy"
    dev_key = f"dev_{metric}"
    charts = [c for c in (
        _svg_chart(history, "loss", "training loss", "tab:blue"),
        _svg_chart(history, dev_key, f"dev {metric}", "tab:green"),
        _svg_chart(history, "tokens_per_second", "training tokens/s", "tab:orange")) if c]
    confusion = None
    if predictions:
        labels, matrix = confusion_matrix([p["gold"] for p in predictions],
                                          [p["pred"] for p in predictions])
        confusion = {"labels": labels, "matrix": matrix}
    heatmaps = [{**example, "colours": [[_heat(w) for w in row] for row in example["weights"]]}
                for example in attention]
    types = types_of({t for p in predictions for t in p["gold"] + p["pred"]}) if chunked else []
    return render(
        "report.html.j2", title=f"seqlab run {run_dir.name}", run_dir=str(run_dir),
        record=record, metrics=metrics, config_text=config_text, history=history,
        charts=charts, scores={split: _score_rows(metrics[split]) for split in ("dev", "test")
                               if split in metrics},
        metric=metric, chunked=chunked, confusion=confusion,
        errors=_errors(predictions, chunked) if predictions else [],
        heatmaps=heatmaps, types=types, seeds=seeds, shown=ERRORS_SHOWN)


def write_report(run_dir: str | Path, output: str | Path | None = None,
                 force: bool = False) -> Path:
    """Write the report (default ``RUN_DIR/report.html``); an existing file needs
    ``force``."""
    from seqlab.paths import check_output_file, writing

    if not Path(run_dir).is_dir():
        raise SeqlabError(f"{run_dir}: run directory not found")
    output = Path(output) if output is not None else Path(run_dir) / "report.html"
    check_output_file(output, force)
    html = build_report(run_dir)
    with writing(output) as f:
        f.write(html)
    return output
