"""Scores over seeds: one ordinary run per seed, then their distribution.

A single run is an anecdote (the same NER settings have moved 1.5 F1 with the batch order
alone); Reimers & Gurevych (2017) show why taggers should be compared by the distribution of
their scores over seeds. :func:`train_seeds` trains one run per seed into ``OUTPUT/seed-N/``
(each an ordinary, reproducible run), writes ``OUTPUT/summary.json`` and puts the run with
the best **dev** score (never the test score) at ``OUTPUT/model.keras``.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
from pathlib import Path

from seqlab.config import Config
from seqlab.errors import Interrupted, SeqlabError
from seqlab.training.rundir import LOCK, RunLock, atomic_write, has_checkpoint, is_locked

SUMMARY = "summary.json"


def _metric(result: dict) -> str:
    return "f1" if result.get("task") == "chunk" else "accuracy"


def seed_dir(output: Path, seed: int) -> Path:
    return Path(output) / f"seed-{seed}"


def check_set_output(output: Path, force: bool = False, resume: bool = False) -> None:
    """Refuse a set directory that another run writes, that holds a finished or other set
    (unless ``force``), or foreign files (always)."""
    output = Path(output)
    if output.exists() and not output.is_dir():
        raise SeqlabError(f"{output}: exists and is not a directory")
    pid = is_locked(output)
    if pid is not None:
        raise SeqlabError(f"{output}: another seqlab train{f' (pid {pid})' if pid else ''} is "
                          "writing this directory; wait for it to finish or choose another "
                          "output directory")
    content = [p.name for p in output.iterdir() if p.name != LOCK] if output.is_dir() else []
    foreign = [n for n in content if n not in (SUMMARY, "model.keras") and
               not n.startswith("seed-")]
    if foreign:
        raise SeqlabError(f"{output}: holds files that are not a seqlab run set: "
                          f"{', '.join(sorted(foreign)[:3])}")
    if resume:
        if not content:
            raise SeqlabError(f"{output}: nothing to resume yet (no seed run started)",
                              argument="resume")
        return
    if content and not force:
        raise SeqlabError(f"{output}: output directory already exists and is not empty",
                          argument="force")


def summarize(runs: list[dict]) -> dict:
    """Mean, sample standard deviation (n - 1), min and max of the dev and test scores."""
    out = {}
    for split in ("dev", "test"):
        scores = [r[split] for r in runs if r.get(split) is not None]
        if not scores:
            continue
        out[split] = {"mean": statistics.fmean(scores),
                      "sd": statistics.stdev(scores) if len(scores) > 1 else 0.0,
                      "min": min(scores), "max": max(scores), "n": len(scores)}
    return out


def _row(seed: int, run_dir: Path) -> dict:
    record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    metrics = record["metrics"]
    metric = _metric(next(iter(metrics.values()), {}))
    return {"seed": seed, "dev": metrics.get("dev", {}).get(metric),
            "test": metrics.get("test", {}).get(metric), "metric": metric,
            "best_epoch": record["best_epoch"], "epochs_run": record["epochs_run"],
            "seconds": record["seconds"], "run": run_dir.name}


def train_seeds(config: Config, output: str | Path, seeds: list[int], force: bool = False,
                resume: bool = False, console=None, on_run=None) -> dict:
    """Train one run per seed into ``output/seed-N`` and summarise them.

    With ``resume``, finished runs are kept, an interrupted one continues from its checkpoint
    and the rest start. ``on_run(row)`` hears of each finished run. Returns (and writes to
    ``summary.json``) ``{"metric", "seeds": [per-seed rows], "summary": {dev, test: mean, sd,
    min, max, n}, "best": the row of the best dev score}``.
    """
    from seqlab.training.loop import train

    if not seeds or len(set(seeds)) != len(seeds):
        raise SeqlabError(f"seeds {seeds}: expected different seeds, at least one",
                          argument="seeds")
    output = Path(output)
    check_set_output(output, force, resume)
    rows = []
    with RunLock(output):
        if force and not resume:
            for old in output.iterdir():
                if old.name.startswith("seed-") and old.is_dir():
                    shutil.rmtree(old)
                elif old.name in (SUMMARY, "model.keras"):
                    old.unlink()
        for seed in seeds:
            run_dir = seed_dir(output, seed)
            seeded = config.model_copy(update={"seed": seed})
            if resume and (run_dir / "run.json").is_file():
                row = _row(seed, run_dir)
            else:
                if console is not None:
                    console.print(f"[bold]seed {seed}[/] ({len(rows) + 1} of {len(seeds)})")
                again = resume and has_checkpoint(run_dir)
                try:
                    train(seeded, run_dir, force=not again, resume=again, console=console)
                except Interrupted as exc:
                    raise Interrupted(len(rows), output, f"interrupted in seed {seed} "
                                      f"({exc}); finished seeds: {len(rows)}") from None
                row = _row(seed, run_dir)
            rows.append(row)
            if on_run is not None:
                on_run(row)
        scored = [r for r in rows if r["dev"] is not None]
        best = max(scored, key=lambda r: r["dev"]) if scored else rows[0]
        summary = {"metric": rows[0]["metric"], "seeds": rows, "summary": summarize(rows),
                   "best": best, "chosen_by": "dev" if scored else "first seed (no dev data)"}
        tmp = output / "model.tmp.keras"
        shutil.copyfile(seed_dir(output, best["seed"]) / "model.keras", tmp)
        os.replace(tmp, output / "model.keras")
        atomic_write(output / SUMMARY, json.dumps(summary, indent=2) + "\n")
    return summary
