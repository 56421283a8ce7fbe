"""``seqlab report RUN_DIR``: one self-contained HTML page of a finished run.

The run: config, versions, data files and their sha256, seed, epochs, seconds, the weights'
sha256; training curves (loss, dev score, tokens/s per epoch) as inline SVG; dev and test
scores per type with the tag confusion matrix; the reliability diagram of the dev span
scores (before and after the temperature); the 20 dev sentences with the most errors,
gold and predicted spans side by side in entity colours; attention heatmaps of a few dev
sentences. Everything comes from the run directory (``dev_predictions.jsonl`` and
``attention.json`` are written at the end of training), so no data file is needed. The page
has its CSS inline, no script and no external resource. A directory of ``--seeds`` runs gets
the table of seeds and the page of its best run.
"""

from __future__ import annotations

import io
from pathlib import Path

from seqlab.errors import SeqlabError
from seqlab.training.rundir import RunDir, RunSet

ERRORS_SHOWN = 20


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


def _reliability(found: dict | None) -> dict | None:
    """The reliability diagram of the dev span scores (metrics.json's ``calibration``,
    written at the end of training): each score bin's accuracy against its mean score, at
    temperature 1 and at the fitted one, as inline SVG, with the bins' table. None for a run
    without it (plain tags, no dev set, or trained before temperatures)."""
    dev = (found or {}).get("dev") or {}
    if "before" not in dev or "after" not in dev:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    temperature = found.get("fitted", found["temperature"])  # "after" is at the fit
    fig, ax = plt.subplots(figsize=(4.2, 4.0))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="calibrated")
    for key, label, colour, marker in (
            ("before", "T = 1", "tab:red", "o"),
            ("after", f"T = {temperature:g}", "tab:blue", "s")):
        bins = dev[key]["bins"]
        ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], marker=marker,
                color=colour, label=f"{label} (ECE {dev[key]['ece']:.3f})")
    ax.set(title="dev span scores", xlabel="mean span score of the bin",
           ylabel="share of its spans that are right", xlim=(0, 1), ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    plt.close(fig)
    text = buffer.getvalue()
    after = {b["low"]: b for b in dev["after"]["bins"]}
    before = {b["low"]: b for b in dev["before"]["bins"]}
    rows = [{"low": low, "high": (before.get(low) or after.get(low))["high"],
             "before": before.get(low), "after": after.get(low)}
            for low in sorted(set(before) | set(after))]
    return {"svg": text[text.index("<svg"):], "temperature": temperature,
            "before": dev["before"], "after": dev["after"], "rows": rows,
            "test": found.get("test")}


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
    from seqlab.render.pages import segments

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
    from seqlab.metrics import confusion_matrix, headline_metric
    from seqlab.render.pages import render, types_of

    run = RunDir(run_dir)
    if not run.path.is_dir():
        raise SeqlabError(f"{run.path}: run directory not found")
    seeds = None
    runs = RunSet(run.path)
    if runs.is_set():
        seeds = runs.read_summary()
        best = seeds.get("best")
        if not isinstance(best, dict) or not isinstance(best.get("seed"), int):
            raise SeqlabError(f"{runs.summary}: expected best.seed, the seed of the best run; "
                              "the file is damaged")
        run = runs.seed(best["seed"])
    for path in (run.record, run.metrics):
        if not path.is_file():
            raise SeqlabError(f"{run.path}: not a finished seqlab run (no {path.name}); "
                              "expected a directory written by `seqlab train`")
    record = run.read_record()
    metrics = run.read_metrics()
    history = run.read_history()
    config_text = run.read_config_text()
    predictions = run.read_predictions()
    attention = run.read_attention()
    first = next((metrics[s] for s in ("dev", "test") if s in metrics), {})
    chunked = first.get("task") == "chunk"
    metric = headline_metric(chunked)
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
        "report.html.j2", title=f"seqlab run {run.path.name}", run_dir=str(run.path),
        record=record, metrics=metrics, config_text=config_text, history=history,
        charts=charts, scores={split: _score_rows(metrics[split]) for split in ("dev", "test")
                               if split in metrics},
        metric=metric, chunked=chunked, confusion=confusion,
        errors=_errors(predictions, chunked) if predictions else [],
        heatmaps=heatmaps, types=types, seeds=seeds, shown=ERRORS_SHOWN,
        reliability=_reliability(metrics.get("calibration")))


def write_report(run_dir: str | Path, output: str | Path | None = None,
                 force: bool = False) -> Path:
    """Write the report (default ``RUN_DIR/report.html``); an existing file needs
    ``force``."""
    from seqlab.paths import check_output_file, writing

    if not Path(run_dir).is_dir():
        raise SeqlabError(f"{run_dir}: run directory not found")
    output = Path(output) if output is not None else RunDir(run_dir).report
    check_output_file(output, force)
    html = build_report(run_dir)
    with writing(output) as f:
        f.write(html)
    return output
