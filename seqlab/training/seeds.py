"""Scores over seeds: one ordinary run per seed, then their distribution.

A single run is an anecdote (the same NER settings have moved 1.5 F1 with the batch order
alone); Reimers & Gurevych (2017) show why taggers should be compared by the distribution of
their scores over seeds. :func:`train_seeds` trains one run per seed into ``OUTPUT/seed-N/``
(each an ordinary, reproducible run), writes ``OUTPUT/summary.json`` and puts the run with
the best **dev** score (never the test score) at ``OUTPUT/model.keras``.
"""

from __future__ import annotations

import shutil
import statistics
from pathlib import Path

from seqlab.config import Config
from seqlab.errors import Interrupted, SeqlabError
from seqlab.metrics import headline_metric
from seqlab.training.rundir import (
    LOCK,
    RunDir,
    RunLock,
    RunSet,
    check_staged,
    has_content,
    is_locked,
    remove_staged,
    replace_run,
    staged,
)


def check_set_output(output: Path, force: bool = False, resume: bool = False) -> None:
    """Refuse a set directory that another run writes, that holds a finished or other set
    (unless ``force``), or foreign files (always)."""
    output = Path(output)
    if output.exists() and not output.is_dir():
        raise SeqlabError(f"{output}: exists and is not a directory")
    from seqlab.paths import check_output_dir

    check_output_dir(output)  # /proc/run, a read-only disk: one line before the slow work
    pid = is_locked(output)
    if pid is not None:
        raise SeqlabError(f"{output}: another seqlab train{f' (pid {pid})' if pid else ''} is "
                          "writing this directory; wait for it to finish or choose another "
                          "output directory")
    content = [p.name for p in output.iterdir() if p.name != LOCK] if output.is_dir() else []
    foreign = [n for n in content if not RunSet.owns(n)]
    if foreign:
        raise SeqlabError(f"{output}: holds files that are not a seqlab run set: "
                          f"{', '.join(sorted(foreign)[:3])}")
    check_staged(output, force, resume, RunSet.owns)
    if resume:
        if not content and not has_content(staged(output)):
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


def _row(seed: int, run: RunDir) -> dict:
    record = run.read_record()
    metrics = record["metrics"]
    metric = headline_metric(next(iter(metrics.values()), {}).get("task"))
    return {"seed": seed, "dev": metrics.get("dev", {}).get(metric),
            "test": metrics.get("test", {}).get(metric), "metric": metric,
            "best_epoch": record["best_epoch"], "epochs_run": record["epochs_run"],
            "seconds": record["seconds"], "run": run.path.name,
            "temperature": metrics.get("calibration", {}).get("temperature")}


def train_seeds(config: Config, output: str | Path, seeds: list[int], force: bool = False,
                resume: bool = False, console=None, on_run=None) -> dict:
    """Train one run per seed into ``output/seed-N`` and summarise them.

    With ``resume``, finished runs are kept, an interrupted one continues from its checkpoint
    and the rest start. ``on_run(row)`` hears of each finished run. Returns (and writes to
    ``summary.json``) ``{"metric", "seeds": [per-seed rows], "summary": {dev, test: mean, sd,
    min, max, n}, "best": the row of the best dev score}``.
    """
    if not seeds or len(set(seeds)) != len(seeds):
        raise SeqlabError(f"seeds {seeds}: expected different seeds, at least one",
                          argument="seeds")
    output = Path(output)
    check_set_output(output, force, resume)
    with RunLock(output):
        if not resume:  # an abandoned forced set beside it (check_set_output checked it)
            remove_staged(output)
        if resume and has_content(staged(output)) or not resume and force and \
                has_content(output):
            # A forced set over an old one trains beside it (OUTPUT.seqlab-new) and replaces
            # it only when every seed has finished: until then the old set stays whole.
            new = staged(output)
            try:
                with RunLock(new):
                    summary = _train_set(config, new, seeds, resume, console, on_run)
                    replace_run(output, new, RunSet.owns)
            except Interrupted as exc:
                stopped = Interrupted(exc.epoch, output, f"{exc} ({output} keeps the previous "
                                      f"set until this one finishes; its runs are in {new})")
                stopped.terminated = getattr(exc, "terminated", False)
                raise stopped from None
            except SeqlabError as exc:
                raise SeqlabError(f"{exc} ({output} keeps the previous set)",
                                  exc.argument) from None
            finally:
                if not any(run.has_checkpoint() for run in RunSet(new).runs()):
                    shutil.rmtree(new, ignore_errors=True)
            return summary
        return _train_set(config, output, seeds, resume, console, on_run)


def _train_set(config: Config, output: Path, seeds: list[int], resume: bool, console,
               on_run) -> dict:
    """The seeds' runs in ``output`` (locked by the caller), then the summary."""
    from seqlab.training.loop import train

    runs = RunSet(output)
    rows = []
    for seed in seeds:
        run = runs.seed(seed)
        seeded = config.model_copy(update={"seed": seed})
        if resume and run.record.is_file():
            row = _row(seed, run)
        else:
            if console is not None:
                console.print(f"[bold]seed {seed}[/] ({len(rows) + 1} of {len(seeds)})")
            again = resume and run.has_checkpoint()
            try:
                train(seeded, run.path, force=not again, resume=again, console=console)
            except Interrupted as exc:
                how = "terminated" if getattr(exc, "terminated", False) else "interrupted"
                stopped = Interrupted(len(rows), output, f"{how} in seed {seed} ({exc}); "
                                      f"finished seeds: {len(rows)}")
                stopped.terminated = how == "terminated"
                raise stopped from None
            row = _row(seed, run)
        rows.append(row)
        if on_run is not None:
            on_run(row)
    scored = [r for r in rows if r["dev"] is not None]
    best = max(scored, key=lambda r: r["dev"]) if scored else rows[0]
    summary = {"metric": rows[0]["metric"], "seeds": rows, "summary": summarize(rows),
               "best": best, "chosen_by": "dev" if scored else "first seed (no dev data)"}
    runs.write(summary, best=runs.seed(best["seed"]))
    return summary
