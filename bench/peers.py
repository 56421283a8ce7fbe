"""seqlab against the tagger most users would pick instead: spaCy 3.8's CNN NER (issue 16).

Both train on the same CoNLL-2003 files, each pinned to one core, side by side, for the same
wall-clock budget (default 20 minutes; ``--quick``: 2 minutes on a slice):

* seqlab: ``seqlab train configs/conll2003_ner.yaml``, or another config named by ``--config``
  (such as ``configs/conll2003_ner_fast.yaml``), stopped at the budget if it has not stopped
  early by itself (its best-dev weights are then taken from its checkpoint);
* spaCy: its default CPU NER pipeline, ``spacy init config -l en -p ner -o efficiency``,
  blank English, no vectors, trained with ``spacy train`` on ``spacy convert -c ner -n 10``
  of the same files.

Reported per system: training tokens/s, dev F1 over time (a row per evaluation), test F1 of
the best-dev model, and prediction tokens/s on the test file (seqlab's ``Tagger.tag`` and
spaCy's ``nlp.pipe``, in process, one core each: the first whole pass after both tagged the
file's first 256 sentences, which the target is judged on, and the median of three passes
more, "warm"). Before the race, the seqlab of a baseline commit (``--baseline``, default:
the commit the issue was filed against) and today's train a few epochs on the same core,
twice each in the order baseline, today, today, baseline, for the speed-up against "today".

spaCy is a benchmark-only dependency: it is installed into its own environment,
``bench/.spacy`` (``--spacy-env``), never into seqlab's. spaCy's tokens/s in training are
counted from its steps and its batch schedule (compounding 100 -> 1000 words, factor 1.001:
the size of each step's batch), checked against its epochs at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common

DATA = common.ROOT.parent / "shared" / "data" / "conll2003"
CONFIG = common.ROOT / "configs" / "conll2003_ner.yaml"
BASELINE = "dd0d65b"  # seqlab when issue 16 was filed
SPACY = "spacy==3.8.*"
SEQLAB_CORE, SPACY_CORE = 0, 1


# ------------------------------------------------------------------ data
def sentences_of(path: Path) -> list[list[str]]:
    """Sentences (lists of lines) of a CoNLL file, without -DOCSTART- lines."""
    blocks, current = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("-DOCSTART-"):
            if current:
                blocks.append(current)
            current = []
        else:
            current.append(line)
    if current:
        blocks.append(current)
    return blocks


def write_slice(src: Path, dst: Path, n: int | None) -> int:
    blocks = sentences_of(src)[:n] if n else sentences_of(src)
    dst.write_text("".join("\n".join(b) + "\n\n" for b in blocks), encoding="utf-8")
    return sum(len(b) for b in blocks)


# ------------------------------------------------------------------ spaCy's environment
def spacy_version(python: Path) -> str:
    return subprocess.run([str(python), "-c", "import spacy; print(spacy.__version__)"],
                          capture_output=True, text=True, check=True).stdout.strip()


def pinned(core: int) -> list[str]:
    return ["taskset", "-c", str(core)]


# TOKENIZERS_PARALLELISM: the `tokenizers` package's Rust WordPiece (seqlab's and flair's
# tokenization) would otherwise spread a batch over every core.
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "TF_CPP_MIN_LOG_LEVEL": "2", "TOKENIZERS_PARALLELISM": "false"}


def spacy_tokens(steps: int, start=100.0, stop=1000.0, compound=1.001) -> float:
    """Words spaCy's default batcher puts in its first ``steps`` batches."""
    total, size = 0.0, start
    for _ in range(steps):
        total += min(stop, size)
        size *= compound
    return total


# ------------------------------------------------------------------ runs
def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Timed:
    """A child process whose stdout lines are read as they come, with their times."""

    def __init__(self, cmd, env, cwd, log_path):
        self.started = time.perf_counter()
        self.lines: list[tuple[float, str]] = []
        self.log = open(log_path, "w", encoding="utf-8")
        # A shell that starts jobs in the background (CI runners, `cmd &`) makes them ignore
        # SIGINT, and children inherit that: give each back the Ctrl-C that ends it at the
        # budget, or it would run on until the SIGKILL two minutes later.
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env=dict(os.environ, **env), cwd=cwd,
                                     start_new_session=True, preexec_fn=_default_sigint)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append((time.perf_counter() - self.started, line.rstrip("\n")))
            self.log.write(line)
            self.log.flush()

    def wait(self, budget_s: float) -> bool:
        """Wait up to the budget; then interrupt. True when it ended by itself."""
        try:
            self.proc.wait(timeout=max(1.0, budget_s - (time.perf_counter() - self.started)))
            ended = True
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGINT)
            ended = False
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.thread.join(timeout=10)
        self.log.close()
        return ended


def seqlab_cmd(output: Path, overrides: list[str], source: Path | None = None,
               config: Path = CONFIG) -> list[str]:
    """`seqlab train` of a config of today's checkout, or of the NER config of a baseline
    checkout at ``source``."""
    sets = [x for o in overrides for x in ("--set", o)]
    path = source / "configs" / CONFIG.name if source else config
    return [*pinned(SEQLAB_CORE), sys.executable, "-m", "seqlab.cli", "train", str(path),
            "--output", str(output), "--force", *sets]


def history_of(run: Path) -> list[dict]:
    """Epoch rows of a run: history.csv when it finished, else its checkpoint's state."""
    from seqlab.training.rundir import RunDir

    files = RunDir(run)
    if files.history.is_file():
        return [{k: v for k, v in row.items() if v is not None} for row in files.read_history()]
    return files.checkpoints.read_state()["history"] if files.has_checkpoint() else []


def elapsed(row: dict) -> float:
    return row.get("elapsed_seconds", row.get("seconds", 0.0))


def epoch_speed(source: Path | None, tmp: Path, name: str, data: dict, epochs: int) -> dict:
    """Train a few epochs and return the rate of epochs 2.. (epoch 1 traces the graphs):
    training tokens/s including dev scoring, from the cumulative seconds of history.csv."""
    run = tmp / name
    overrides = [f"data.train={data['train']}", f"data.dev={data['dev']}", "data.test=null",
                 f"training.epochs={epochs}", "training.patience=null"]
    env = dict(ONE_THREAD)
    if source is not None:
        env["PYTHONPATH"] = str(source)
    result = common.time_command(seqlab_cmd(run, overrides, source), timeout_s=3600, env=env,
                                 cwd=source or common.ROOT)
    rows = history_of(run)
    if result["returncode"] != 0 or len(rows) < 2:
        return {"error": result["tail"]}
    seconds = elapsed(rows[-1]) - elapsed(rows[0])
    tokens = data["train_tokens"] * (len(rows) - 1)
    return {"tokens_per_s": tokens / seconds, "epochs": len(rows), "seconds": seconds,
            "first_epoch_s": elapsed(rows[0])}


def baseline_checkout(rev: str, tmp: Path) -> Path | None:
    target = tmp / f"seqlab-{rev}"
    proc = subprocess.run(["git", "-C", str(common.ROOT), "worktree", "add", "--detach", "-f",
                           str(target), rev], capture_output=True, text=True)
    if proc.returncode != 0:
        common.log(f"no baseline: git worktree {rev} failed: {proc.stderr.strip()}")
        return None
    return target


def drop_checkout(path: Path | None) -> None:
    if path is not None:
        subprocess.run(["git", "-C", str(common.ROOT), "worktree", "remove", "--force",
                        str(path)], capture_output=True)


SEQLAB_TEST = r"""
import json, sys, time
from pathlib import Path
import numpy as np
import keras
from seqlab.formats import read_corpus
from seqlab.metrics import evaluate
from seqlab.tagger import Tagger
from seqlab.training.checkpoint import best_weights
from seqlab.training.rundir import RunDir
run, test = RunDir(sys.argv[1]), sys.argv[2]
precision = sys.argv[3] if len(sys.argv) > 3 else None  # None: as trained (float32)
if run.model.is_file():
    tagger = Tagger.load(run.model, precision=precision)
else:  # stopped at the budget: the last checkpoint with its best-dev weights
    model = keras.models.load_model(run.checkpoints.model, compile=False)
    model.set_weights(best_weights(run.checkpoints))
    tagger = Tagger(model, precision=precision)
sentences = read_corpus(test)
tokens = [s.tokens for s in sentences]
tagger.tag(tokens[:256], 128)
n = sum(map(len, tokens))
t0 = time.perf_counter()
predicted = tagger.tag(tokens, 128)
seconds = time.perf_counter() - t0
scores = evaluate([s.labels for s in sentences], predicted)
warm = []
for _ in range(3):
    t0 = time.perf_counter()
    tagger.tag(tokens, 128)
    warm.append(n / (time.perf_counter() - t0))
print(json.dumps({"test_f1": scores["f1"], "predict_tokens_per_s": n / seconds,
                  "predict_warm_tokens_per_s": sorted(warm)[1], "precision": tagger.precision}))
"""

SPACY_TEST = r"""
import json, sys, time
import spacy
from spacy.tokens import Doc, DocBin
from spacy.training import Example
nlp = spacy.load(sys.argv[1])
docs = list(DocBin().from_disk(sys.argv[2]).get_docs(nlp.vocab))
words = [[t.text for t in d] for d in docs]
list(nlp.pipe([Doc(nlp.vocab, words=w) for w in words[:256]], batch_size=256))
n = sum(map(len, words))
inputs = [Doc(nlp.vocab, words=w) for w in words]
t0 = time.perf_counter()
out = list(nlp.pipe(inputs, batch_size=256))
seconds = time.perf_counter() - t0
examples = [Example(p, g) for p, g in zip(out, docs)]
scores = nlp.get_pipe("ner").score(examples)
warm = []
for _ in range(3):
    inputs = [Doc(nlp.vocab, words=w) for w in words]
    t0 = time.perf_counter()
    list(nlp.pipe(inputs, batch_size=256))
    warm.append(n / (time.perf_counter() - t0))
print(json.dumps({"test_f1": 100 * scores["ents_f"], "predict_tokens_per_s": n / seconds,
                  "predict_warm_tokens_per_s": sorted(warm)[1]}))
"""


def last_json(text: str) -> dict:
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return {"error": text.strip().splitlines()[-3:] if text.strip() else "no output"}


def run_race(tmp: Path, data: dict, spacy: Path, budget_s: float, config: Path) -> dict:
    """seqlab (``config``) and spaCy side by side, one core each, for the same budget."""
    seqlab_run = tmp / "race-seqlab"
    overrides = [f"data.train={data['train']}", f"data.dev={data['dev']}",
                 f"data.test={data['test']}"]
    spacy_dir = tmp / "spacy"
    spacy_cmd = [*pinned(SPACY_CORE), str(spacy), "-m", "spacy", "train",
                 str(spacy_dir / "config.cfg"), "--paths.train", str(spacy_dir / "train.spacy"),
                 "--paths.dev", str(spacy_dir / "dev.spacy"), "--output",
                 str(spacy_dir / "model")]
    common.log(f"race: seqlab on core {SEQLAB_CORE}, spaCy on core {SPACY_CORE}, "
               f"{budget_s / 60:.0f} min each")
    ours = Timed(seqlab_cmd(seqlab_run, overrides, config=config), ONE_THREAD, common.ROOT,
                 tmp / "seqlab.log")
    theirs = Timed(spacy_cmd, ONE_THREAD, spacy_dir, tmp / "spacy.log")
    ours_ended = ours.wait(budget_s)
    theirs_ended = theirs.wait(budget_s)

    rows = history_of(seqlab_run)
    seqlab_curve = [{"seconds": elapsed(r), "epoch": int(r["epoch"]), "dev_f1": r.get("dev_f1")}
                    for r in rows]
    seqlab_seconds = elapsed(rows[-1]) if rows else None
    spacy_curve = []
    for t, line in theirs.lines:
        parts = line.split()
        if len(parts) == 8 and parts[0].isdigit() and parts[1].isdigit():
            spacy_curve.append({"seconds": t, "epoch": int(parts[0]), "step": int(parts[1]),
                                "dev_f1": float(parts[4])})
    spacy_steps = spacy_curve[-1]["step"] if spacy_curve else 0
    spacy_seconds = spacy_curve[-1]["seconds"] if spacy_curve else None

    common.log("scoring the best-dev models on test and timing prediction, one core each")
    mine = last_json(subprocess.run(
        [*pinned(SEQLAB_CORE), sys.executable, "-c", SEQLAB_TEST, str(seqlab_run),
         data["test"]], capture_output=True, text=True, env=dict(os.environ, **ONE_THREAD),
        cwd=common.ROOT).stdout)
    best = spacy_dir / "model" / "model-best"
    other = last_json(subprocess.run(
        [*pinned(SPACY_CORE), str(spacy), "-c", SPACY_TEST, str(best),
         str(spacy_dir / "test.spacy")], capture_output=True, text=True,
        env=dict(os.environ, **ONE_THREAD)).stdout) if best.is_dir() else {"error": "no model"}
    epochs = len(rows)
    return {
        "seqlab": {"ended_by_itself": ours_ended, "curve": seqlab_curve, **mine,
                   "epochs": epochs, "train_tokens_per_s":
                   data["train_tokens"] * epochs / seqlab_seconds if seqlab_seconds else None},
        "spacy": {"ended_by_itself": theirs_ended, "curve": spacy_curve, **other,
                  "steps": spacy_steps, "epochs": spacy_curve[-1]["epoch"] if spacy_curve else 0,
                  "train_tokens_per_s":
                  spacy_tokens(spacy_steps) / spacy_seconds if spacy_seconds else None},
    }


def time_to(curve: list[dict], f1: float) -> float | None:
    return next((p["seconds"] for p in curve if p["dev_f1"] is not None and p["dev_f1"] >= f1),
                None)


# ------------------------------------------------------------------ main
def write_data(tmp: Path, quick: bool, splits) -> dict:
    """The CoNLL-2003 splits named (slices with ``quick``) written into ``tmp``: each split's
    path and its token count (``<split>_tokens``)."""
    files = {"train": ("train.txt", 2000), "dev": ("valid.txt", 500), "test": ("test.txt", 500)}
    data = {}
    for split in splits:
        src, n = files[split]
        path = tmp / f"{split}.iob"
        data[f"{split}_tokens"] = write_slice(DATA / src, path, n if quick else None)
        data[split] = str(path)
    return data


def speed_pair(baseline: str, tmp: Path, data: dict, epochs: int) -> tuple[dict, dict]:
    """A few epochs of the baseline commit's seqlab and of today's on the same core, in the
    order baseline, today, today, baseline: this machine's speed drifts by 10% from minute
    to minute, and the mirrored order cancels a steady drift. Each side's rate is over its
    two runs' timed epochs together."""
    common.log(f"speed: seqlab {baseline} and today's, {epochs} epochs a run, in the order "
               f"{baseline}, today, today, {baseline}, core {SEQLAB_CORE}")
    checkout = baseline_checkout(baseline, tmp)
    if checkout is None:
        return {"error": "no baseline checkout"}, epoch_speed(None, tmp, "speed-now", data,
                                                              epochs)
    try:
        runs = [epoch_speed(source, tmp, f"speed-{name}", data, epochs) for source, name in
                ((checkout, "before-1"), (None, "now-1"), (None, "now-2"),
                 (checkout, "before-2"))]
    finally:
        drop_checkout(checkout)
    return _together(runs[0], runs[3]), _together(runs[1], runs[2])


def _together(a: dict, b: dict) -> dict:
    """Two runs' rates as one: their timed tokens over their timed seconds."""
    if "error" in a or "error" in b:
        return a if "error" in a else b
    tokens = a["tokens_per_s"] * a["seconds"] + b["tokens_per_s"] * b["seconds"]
    seconds = a["seconds"] + b["seconds"]
    return {"tokens_per_s": tokens / seconds, "epochs": a["epochs"],
            "seconds": seconds, "first_epoch_s": (a["first_epoch_s"] + b["first_epoch_s"]) / 2,
            "runs_tokens_per_s": [a["tokens_per_s"], b["tokens_per_s"]]}


def speed_table(baseline: str, before: dict, now: dict) -> str:
    return common.markdown_table(
        ["seqlab", "training tokens/s (dev scoring included)", "each run", "epochs",
         "first epoch"],
        [[name, f"{r['tokens_per_s']:,.0f}" if "tokens_per_s" in r else r.get("error"),
          ", ".join(f"{x:,.0f}" for x in r.get("runs_tokens_per_s", [])) or "-",
          r.get("epochs", "-"), f"{r['first_epoch_s']:.0f} s" if "first_epoch_s" in r else "-"]
         for name, r in ((f"{baseline} (today)", before), ("now", now))])


def speed_only(args, machine: dict, vers: dict, quick: bool, epochs: int) -> int:
    """``--speed-only``: the baseline commit against today's, nothing else."""
    common.log(common.describe_environment(machine, vers))
    common.log(common.load_status())
    with tempfile.TemporaryDirectory(prefix="seqlab-peers-") as tmp:
        tmp = Path(tmp)
        data = write_data(tmp, quick, ("train", "dev"))
        before, now = speed_pair(args.baseline, tmp, data, epochs)
    print(common.describe_environment(machine, vers))
    print(f"\nCoNLL-2003 NER, train {data['train_tokens']:,} tokens, dev {data['dev_tokens']:,};"
          f" {epochs} epochs a run, two runs each (baseline, now, now, baseline) on core "
          f"{SEQLAB_CORE}\n")
    print(speed_table(args.baseline, before, now))
    a, b = now.get("tokens_per_s"), before.get("tokens_per_s")
    speedup = a / b if a and b else None
    targets = [{"target": "seqlab training tokens/s at least 2x today's",
                "met": bool(speedup and speedup >= 2),
                "measured": f"{speedup:.2f}x" if speedup else "-"}]
    return common.finish("peers-speed", {"machine": machine, "versions": vers, "data": data,
                                         "speed": {"before": before, "now": now,
                                                   "baseline": args.baseline}},
                         targets, quick)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 minutes on a slice")
    parser.add_argument("--minutes", type=float, default=None, help="budget each (20)")
    parser.add_argument("--baseline", default=BASELINE, help="seqlab commit of 'today'")
    parser.add_argument("--speed-epochs", type=int, default=None, help="epochs of the speed "
                        "comparison (3; --quick 2)")
    parser.add_argument("--spacy-env", type=Path, default=common.BENCH_DIR / ".spacy")
    parser.add_argument("--config", type=Path, default=CONFIG, help="the seqlab config that "
                        "races spaCy (the speed-up against --baseline always trains the NER "
                        "config)")
    parser.add_argument("--speed-only", action="store_true", help="only the speed-up against "
                        "the baseline commit (no spaCy, no race)")
    args = parser.parse_args()
    quick = args.quick
    budget_s = 60 * (args.minutes or (2 if quick else 20))
    speed_epochs = args.speed_epochs or (2 if quick else 3)
    if not DATA.is_dir():
        raise SystemExit(f"{DATA}: CoNLL-2003 not found (expected ../shared/data/conll2003)")
    if not args.config.is_file():
        raise SystemExit(f"--config {args.config}: no such file (expected a seqlab YAML config)")
    machine, vers = common.machine_info(), common.versions()
    if args.speed_only:
        return speed_only(args, machine, vers, quick, speed_epochs)
    spacy = common.peer_python(args.spacy_env, SPACY)
    vers["spacy"] = spacy_version(spacy)
    common.log(common.describe_environment(machine, vers))
    common.log(common.load_status())

    with tempfile.TemporaryDirectory(prefix="seqlab-peers-") as tmp:
        tmp = Path(tmp)
        data = write_data(tmp, quick, ("train", "dev", "test"))
        spacy_dir = tmp / "spacy"
        spacy_dir.mkdir()
        for split in ("train", "dev", "test"):
            subprocess.run([str(spacy), "-m", "spacy", "convert", data[split], str(spacy_dir),
                            "-c", "ner", "-n", "10"], check=True, capture_output=True)
        subprocess.run([str(spacy), "-m", "spacy", "init", "config", "-l", "en", "-p", "ner",
                        "-o", "efficiency", str(spacy_dir / "config.cfg")], check=True,
                       capture_output=True)

        before, now = speed_pair(args.baseline, tmp, data, speed_epochs)
        race = run_race(tmp, data, spacy, budget_s, args.config.resolve())

    ours, theirs = race["seqlab"], race["spacy"]
    print(common.describe_environment(machine, vers))
    print(f"\nCoNLL-2003 NER, train {data['train_tokens']:,} tokens, dev {data['dev_tokens']:,}, "
          f"test {data['test_tokens']:,}; budget {budget_s / 60:.0f} min each, one core each; "
          f"seqlab races with {args.config.name}\n")
    print(speed_table(args.baseline, before, now))
    print()
    print(common.markdown_table(
        ["system", "training tokens/s", "epochs", "ended by itself", "best dev F1",
         "time to dev F1 88", "test F1 (best dev)", "prediction tokens/s",
         "warm (median of 3 more)"],
        [[name, f"{r['train_tokens_per_s']:,.0f}" if r.get("train_tokens_per_s") else "-",
          r["epochs"], "yes" if r["ended_by_itself"] else "no (budget)",
          f"{max((p['dev_f1'] or 0) for p in r['curve']):.2f}" if r["curve"] else "-",
          f"{time_to(r['curve'], 88.0) / 60:.1f} min" if time_to(r["curve"], 88.0) else "never",
          f"{r['test_f1']:.2f}" if "test_f1" in r else r.get("error", "-"),
          f"{r['predict_tokens_per_s']:,.0f}" if "predict_tokens_per_s" in r else "-",
          f"{r['predict_warm_tokens_per_s']:,.0f}" if "predict_warm_tokens_per_s" in r
          else "-"]
         for name, r in (("seqlab", ours), (f"spaCy {vers['spacy']}", theirs))]))
    print("\nDev F1 over time:\n")
    print(common.markdown_table(
        ["system", "minutes", "epoch", "dev F1"],
        [[name, f"{p['seconds'] / 60:.1f}", p["epoch"], f"{p['dev_f1']:.2f}"]
         for name, r in (("seqlab", ours), ("spaCy", theirs)) for p in r["curve"]
         if p["dev_f1"] is not None]))

    def ratio(a, b):
        return a / b if a and b else None

    speedup = ratio(now.get("tokens_per_s"), before.get("tokens_per_s"))
    versus = ratio(ours.get("train_tokens_per_s"), theirs.get("train_tokens_per_s"))
    t_ours, t_theirs = time_to(ours["curve"], 88.0), time_to(theirs["curve"], 88.0)
    predict = ratio(ours.get("predict_tokens_per_s"), theirs.get("predict_tokens_per_s"))
    warm = ratio(ours.get("predict_warm_tokens_per_s"), theirs.get("predict_warm_tokens_per_s"))
    targets = [
        {"target": "seqlab training tokens/s at least 2x today's", "met": bool(speedup and
         speedup >= 2), "measured": f"{speedup:.2f}x" if speedup else "-"},
        {"target": "seqlab training tokens/s at least 2x spaCy's", "met": bool(versus and
         versus >= 2), "measured": f"{versus:.2f}x" if versus else "-"},
        {"target": "time to dev F1 88 at most 1/2 of spaCy's", "met": bool(
            t_ours and (t_theirs is None or t_ours <= t_theirs / 2)),
         "measured": " vs ".join(f"{t / 60:.1f} min" if t else "never"
                                 for t in (t_ours, t_theirs))},
        {"target": "prediction tokens/s at least 5x spaCy's nlp.pipe", "met": bool(
            predict and predict >= 5), "measured": (f"{predict:.2f}x" if predict else "-") + (
            f" (warm passes {warm:.2f}x)" if warm else "")},
    ]
    payload = {"machine": machine, "versions": vers, "budget_s": budget_s, "data": data,
               "config": args.config.name,
               "speed": {"before": before, "now": now, "baseline": args.baseline},
               "race": race}
    return common.finish("peers", payload, targets, quick)


if __name__ == "__main__":
    sys.exit(main())
