"""Shared helpers of seqlab's benchmarks (``bench/*.py``, run by ``make bench``).

A benchmark script is both the parent and the child: the parent lists configurations
and runs each in a fresh Python process (``run_child``), so that timings and peak
memory of one configuration do not leak into the next; the child measures
(``time_repeats``, ``peak_rss_mb``) and prints one JSON line (``emit``). The parent then
prints the machine, the versions and a Markdown table (``markdown_table``) and writes
everything to ``bench/results/<name>-<timestamp>.json`` (``write_results``).
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
RESULT_PREFIX = "BENCH_RESULT "


def log(*parts):
    """Progress for humans: stderr, flushed."""
    print(*parts, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ machine, versions
def _meminfo_mb(key):
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def mem_available_mb():
    """Memory the kernel says is available now (MB), or None where unknown."""
    return _meminfo_mb("MemAvailable")


def cpu_model():
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info():
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count()
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "memory_total_mb": round(_meminfo_mb("MemTotal") or 0),
        "memory_available_mb": round(mem_available_mb() or 0),
        "platform": platform.platform(),
        **_bf16(),
    }


def _bf16():
    """The CPU's bfloat16 units and what oneDNN uses (seqlab.hardware; no TensorFlow): as
    run.json records them, and the line every table's header prints."""
    try:
        from seqlab.hardware import cpu_bf16
    except ImportError:  # a peer's environment without seqlab
        return {}
    found = cpu_bf16()
    return {"bf16": found.to_dict(), "bf16_line": found.describe()}


def versions(packages=("tensorflow", "keras", "numpy", "seqlab")):
    """Installed versions, read from package metadata (nothing is imported)."""
    out = {"python": platform.python_version()}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def describe_environment(machine, vers):
    """Two Markdown-ish lines: machine and versions."""
    m = machine
    machine_line = (
        f"Machine: {m['cpu']}, {m['usable_cores']} usable cores ({m['cores']} total), "
        f"{m['memory_total_mb'] / 1024:.1f} GB memory "
        f"({m['memory_available_mb'] / 1024:.1f} GB available at start), {m['platform']}"
    )
    versions_line = "Versions: " + ", ".join(f"{k} {v}" for k, v in vers.items())
    if m.get("bf16_line"):  # every table says which CPU's bfloat16 it was measured on
        machine_line += "\nbfloat16: " + m["bf16_line"]
    return machine_line + "\n" + versions_line


# ------------------------------------------------------------------ child side
def peak_rss_mb():
    """Peak resident set size of this process so far (MB; Linux reports KiB)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024.0 if sys.platform != "darwin" else rss / (1024.0 * 1024.0)


def time_repeats(fn, repeats, budget_s=None, min_repeats=2):
    """Call ``fn`` ``repeats`` times (fewer once ``budget_s`` is spent, but at least
    ``min_repeats``) and return the wall times in seconds. ``fn`` must block until done."""
    times = []
    start = time.perf_counter()
    for i in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        spent = time.perf_counter() - start
        if budget_s is not None and i + 1 >= min_repeats and spent > budget_s:
            break
    return times


def summarize(values):
    """Median, min and max of a list of numbers."""
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def emit(result):
    """Child: print the result as the one JSON line the parent looks for."""
    print(RESULT_PREFIX + json.dumps(result), flush=True)


# ------------------------------------------------------------------ parent side
def run_child(script, spec, timeout_s=1800, env=None):
    """Run ``script --child '<json spec>'`` in a fresh process and return its result dict.

    On a crash or timeout returns ``{"error": ...}`` instead of raising, so one failing
    configuration does not lose the others.
    """
    cmd = [sys.executable, str(script), "--child", json.dumps(spec)]
    child_env = dict(os.environ, **(env or {}))
    child_env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout_s, env=child_env, cwd=ROOT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout_s} s"}
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX):])
    tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-5:]
    reason = f"exit status {proc.returncode}"
    if proc.returncode in (-9, 137):
        reason += " (killed, probably out of memory)"
    return {"error": reason + ": " + " | ".join(tail)}


def check(result, what):
    """Parent: a child's result, or stop the benchmark saying which configuration failed."""
    if "error" in result:
        raise SystemExit(f"{what} failed: {result['error']}")
    return result


def exit_status(targets, quick):
    """Parent: 0 when every target is met; targets are set for the full sizes, so a --quick
    run reports them without failing."""
    if quick:
        print("\n(--quick: reduced sizes; the targets are judged on the full run only)")
        return 0
    return 0 if all(t["met"] for t in targets) else 1


def finish(name, payload, targets, quick):
    """Parent: print the targets as a checklist, write ``payload`` (with the targets) to
    bench/results/, and return the exit status (see :func:`exit_status`)."""
    if targets:
        print()
    for t in targets:
        print(f"- [{'x' if t['met'] else ' '}] {t['target']}: {t['measured']}")
    path = write_results(name, dict(payload, quick=quick, targets=targets))
    log(f"results written to {path}")
    return exit_status(targets, quick)


def fmt_time(stats):
    """'1.23 s (1.20–1.31)' from a summarize() dict, or '–'."""
    if not stats:
        return "–"
    return f"{_fmt_s(stats['median'])} ({_fmt_s(stats['min'])}–{_fmt_s(stats['max'])})"


def _fmt_s(seconds):
    if seconds < 1.0:
        return f"{seconds * 1000:.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"
    return f"{seconds:.2f} s"


def fmt_mb(mb):
    if mb is None:
        return "–"
    return f"{mb / 1024:.2f} GB" if mb >= 1024 else f"{mb:.0f} MB"


def markdown_table(headers, rows):
    """A GitHub Markdown table from a header list and rows of cells."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), sep] + [line(r) for r in cells[1:]])


def write_results(name, payload):
    """Write ``payload`` to bench/results/<name>-<UTC timestamp>.json; return the path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = RESULTS_DIR / f"{name}-{stamp}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def found(path, make_target):
    """Parent: True when the input file or folder ``path`` is there; else say on stderr how
    to make it (``make <make_target>``, offline, from the package registry) and False."""
    if Path(path).exists():
        return True
    print(f"{path}: not found; make it with `make {make_target}`", file=sys.stderr)
    return False


# ------------------------------------------------------------------ commands, corpora
def peer_python(env_dir, requirement):
    """The python of a peer's own virtual environment (spaCy's, flair's), made with
    ``requirement`` installed when it is not there yet; never seqlab's environment."""
    env_dir = Path(env_dir)
    python = env_dir / "bin" / "python"
    if not python.exists():
        log(f"creating {env_dir} with {requirement} (benchmark only)")
        subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", requirement],
                       check=True)
    return python


def venv_script(name):
    """Path of a console script installed beside this interpreter (e.g. ``seqlab``)."""
    return str(Path(sys.executable).with_name(name))


def time_command(cmd, timeout_s=1800, env=None, cwd=None):
    """Run a command in a fresh process and return ``{"wall_s", "returncode", "tail"}``:
    its wall time (start of the process to its exit) and the last lines of its stderr."""
    child_env = dict(os.environ, **(env or {}))
    child_env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True,
                              timeout=timeout_s, env=child_env, cwd=cwd or ROOT, check=False)
    except subprocess.TimeoutExpired:
        return {"wall_s": None, "returncode": None, "tail": f"timed out after {timeout_s} s"}
    wall = time.perf_counter() - t0
    tail = " | ".join((proc.stderr or proc.stdout or "").strip().splitlines()[-5:])
    return {"wall_s": wall, "returncode": proc.returncode, "tail": tail}


def first_sentences(src, n, dst):
    """Write the first ``n`` blank-line-separated sentences of a CoNLL file to ``dst``."""
    text = Path(src).read_text(encoding="utf-8")
    blocks = [b for b in text.split("\n\n") if b.strip()][:n]
    Path(dst).write_text("\n\n".join(b.strip("\n") for b in blocks) + "\n", encoding="utf-8")
    return Path(dst)


def load_status():
    """One line on what else is running: load averages and the busiest other processes."""
    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    busy = []
    try:
        out = subprocess.run(["ps", "-eo", "pid,pcpu,etime,args", "--sort=-pcpu"],
                             capture_output=True, text=True, timeout=10, check=False).stdout
        me = os.getpid()
        for line in out.splitlines()[1:]:
            parts = line.split(None, 3)
            if len(parts) < 4 or int(parts[0]) == me or float(parts[1]) < 20.0:
                continue
            busy.append(f"{parts[3][:70]} ({parts[1]}% CPU)")
    except (OSError, ValueError, subprocess.SubprocessError):
        pass
    return f"load average {load}" + (
        "; other busy processes: " + "; ".join(busy[:4]) if busy else "; no other busy process")


def as_before(model, band=False, gradients=False, buckets=False):
    """``model`` (built, not yet run) switched to a way before issue 16, through its layers'
    and optimizer's own switches (constructor arguments that pick the computation, not the
    numbers), on the layers ``ModelParts`` names:

    * ``band``: SeqSelfAttention's local attention on the band at every length, as before the
      dense path for short sequences (``dense_max_length=0``);
    * ``gradients``: each BiLSTM direction differentiated by TensorFlow's ``BlockLSTMGrad``
      (``implementation="block"``) and Keras' own Adam (``FusedAdam(fused=False)``: its
      update op by op, its clipping and averages), as before seqlab's own;
    * ``buckets``: each char CNN group as many rows as it has words (``bucket=False``).

    Returns the model. The layers read their switches when a step is traced, so the model
    must not have run yet."""
    from seqlab.layers.chars import CharCNN
    from seqlab.model import ModelParts
    from seqlab.training.optimizers import FusedAdam

    parts = ModelParts(model)
    if band:
        for head in parts.attention_heads:
            head.dense_max_length = 0
    if gradients:
        for layer in parts.bilstm:
            layer.implementation = "block"
        if not isinstance(model.optimizer, FusedAdam):
            raise ValueError(f"expected a model compiled with FusedAdam, not {model.optimizer}")
        model.optimizer.fused = False
    if buckets:
        if not isinstance(parts.char_encoder, CharCNN):
            raise ValueError("expected a model with a char CNN")
        parts.char_encoder.bucket = False
    return model


def first_encoded(encoded, n):
    """The first ``n`` sentences of an encoded corpus (seqlab.vocab.Encoded)."""
    from seqlab.vocab import Encoded

    tokens = int(encoded.lengths[:n].sum())
    chars = encoded.chars[:tokens] if encoded.chars is not None else None
    return Encoded(encoded.words[:tokens], encoded.lengths[:n], encoded.labels[:tokens], chars)


def train_step(model):
    """A traced training step of a compiled model: loss, gradients, the optimizer's update."""
    import tensorflow as tf

    loss_fn, optimizer, variables = model.loss, model.optimizer, model.trainable_variables

    @tf.function(reduce_retracing=True)
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        optimizer.apply(tape.gradient(loss, variables), variables)
        return loss

    return step


def prediction_parser(description, repeats_help):
    """The arguments every prediction benchmark takes: --quick, --model, --batch-size,
    --repeats (``repeats_help`` says what is repeated)."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true",
                        help="train on 500 sentences, tag the first 300 test sentences; "
                             "2 repeats")
    parser.add_argument("--model", type=Path, help="a trained model.keras (skips training)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, help=repeats_help)
    return parser
