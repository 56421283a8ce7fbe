"""Benchmark of SeqSelfAttention against the naive (T x T) reference (issue 3, item 10).

Forward + backward time and peak memory (peak RSS of the process, TensorFlow runtime
included) for batch 8, d = 128, units 32, T in {128, 512, 2048, 8192}, width in
{none, 15}, additive and multiplicative attention; each configuration in its own
process, ours and ``bench/_naive_attention.NaiveSeqSelfAttention`` (which
materialises the full (T x T) tensors, as keras-self-attention does; checked against it
before timing) in the same run.
The naive reference is skipped, with the reason printed, where its estimated memory
exceeds what the machine has available.

    python bench/layer.py            # full run (make bench)
    python bench/layer.py --quick    # additive, width 15, T = 512 only (a smoke test)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common

BATCH, FEATURES, UNITS, WIDTH = 8, 128, 32, 15
# Estimated naive peak: this many live (batch, T, T[, units]) float32 tensors + runtime.
NAIVE_LIVE_TENSORS = {"additive": 3.5, "multiplicative": 8.5}
RUNTIME_MB = 1000.0


def naive_estimate_mb(kind, t):
    per = BATCH * t * t * (UNITS if kind == "additive" else 1) * 4 / 2**20
    return NAIVE_LIVE_TENSORS[kind] * per + RUNTIME_MB


# ------------------------------------------------------------------ child
def child(spec):
    import numpy as np
    import tensorflow as tf
    from _naive_attention import NaiveSeqSelfAttention

    from seqlab.layers import SeqSelfAttention

    cls = SeqSelfAttention if spec["impl"] == "seqlab" else NaiveSeqSelfAttention
    layer = cls(units=UNITS, attention_width=spec["width"], attention_type=spec["kind"])
    layer.build((None, None, FEATURES))
    rs = np.random.RandomState(0)
    x = tf.constant(rs.normal(size=(BATCH, spec["T"], FEATURES)).astype("float32"))

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(tf.square(y))
        return tape.gradient(loss, [x] + layer.trainable_weights)

    def run():
        for g in step(x):
            g.numpy()  # wait for the result

    rss_before = common.peak_rss_mb()
    t0 = time.perf_counter()
    run()  # warm-up: tracing, allocator pools
    warmup = time.perf_counter() - t0
    times = common.time_repeats(run, spec["repeats"], budget_s=spec["budget_s"])
    common.emit(
        {
            **spec,
            "time": common.summarize(times),
            "warmup_s": warmup,
            "peak_rss_mb": common.peak_rss_mb(),
            "rss_before_mb": rss_before,
        }
    )


# ------------------------------------------------------------------ parent
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="additive, width 15, T = 512 only; 3 repeats (a smoke test)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--lengths", type=int, nargs="*", help="override the T values")
    args = parser.parse_args(argv)
    if args.child:
        child(json.loads(args.child))
        return 0

    lengths = args.lengths or ([512] if args.quick else [128, 512, 2048, 8192])
    widths = (WIDTH,) if args.quick else (None, WIDTH)
    kinds = ("additive",) if args.quick else ("additive", "multiplicative")
    repeats, budget = (3, 10.0) if args.quick else (5, 60.0)
    machine, vers = common.machine_info(), common.versions()
    common.log(common.describe_environment(machine, vers))
    from _naive_attention import check_against_original

    check_against_original()  # the baseline is the original's algorithm
    common.log("naive baseline: equal to keras-self-attention's outputs and weights")

    results = []
    for kind in kinds:
        for width in widths:
            for t in lengths:
                row = {"kind": kind, "width": width, "T": t}
                for impl in ("seqlab", "naive"):
                    spec = {"impl": impl, "kind": kind, "width": width, "T": t,
                            "repeats": repeats, "budget_s": budget}
                    label = f"{impl:6s} {kind:14s} width={width} T={t}"
                    if impl == "naive":
                        need = naive_estimate_mb(kind, t)
                        avail = common.mem_available_mb()
                        if avail is not None and need > 0.85 * avail:
                            row[impl] = {"skipped": (
                                f"needs about {need / 1024:.0f} GB "
                                f"(batch*T^2{'*units' if kind == 'additive' else ''} floats), "
                                f"{avail / 1024:.0f} GB available")}
                            common.log(f"{label}: skipped, {row[impl]['skipped']}")
                            continue
                    common.log(f"{label}: running ...")
                    res = common.run_child(Path(__file__).resolve(), spec)
                    row[impl] = res
                    if "error" in res:
                        common.log(f"{label}: FAILED {res['error']}")
                    else:
                        common.log(f"{label}: {common.fmt_time(res['time'])}, "
                                   f"peak {common.fmt_mb(res['peak_rss_mb'])}")
                results.append(row)

    table = render_table(results)
    targets = check_targets(results)
    print(common.describe_environment(machine, vers))
    print(f"\nbatch {BATCH}, d = {FEATURES}, units {UNITS}; forward + backward under "
          "tf.function; time: median (min–max); memory: peak RSS of the process "
          "(TensorFlow runtime included); growth: peak RSS minus the RSS before the "
          "first step\n")
    print(table)
    return common.finish("layer", {
        "benchmark": "SeqSelfAttention layer", "machine": machine,
        "versions": vers, "batch": BATCH, "features": FEATURES, "units": UNITS,
        "results": results,
    }, targets, args.quick)


def _ok(res):
    return isinstance(res, dict) and "time" in res


def _growth(res):
    """Peak RSS above the process's RSS before the first step (MB): the layer's own share."""
    return res["peak_rss_mb"] - res["rss_before_mb"]


def render_table(results):
    headers = ["attention", "width", "T", "seqlab time", "naive time", "speed-up (naive ÷ seqlab)",
               "seqlab peak", "naive peak", "memory (seqlab ÷ naive)",
               "growth (seqlab ÷ naive)"]
    rows = []
    for r in results:
        ours, naive = r.get("seqlab"), r.get("naive")
        speed = mem = growth = "–"
        if _ok(ours) and _ok(naive):
            speed = f"**{naive['time']['median'] / ours['time']['median']:.1f}×**"
            mem = f"**{ours['peak_rss_mb'] / naive['peak_rss_mb']:.2f}**"
            growth = f"{_growth(ours) / max(_growth(naive), 1.0):.2f}"
        naive_time = common.fmt_time(naive["time"]) if _ok(naive) else (
            "skipped: " + naive["skipped"] if naive and "skipped" in naive
            else "failed: " + naive.get("error", "?") if naive else "–")
        rows.append([
            r["kind"], r["width"] or "none", r["T"],
            common.fmt_time(ours["time"]) if _ok(ours) else "failed: " + ours.get("error", "?"),
            naive_time, speed,
            common.fmt_mb(ours["peak_rss_mb"]) if _ok(ours) else "–",
            common.fmt_mb(naive["peak_rss_mb"]) if _ok(naive) else "–", mem, growth,
        ])
    return common.markdown_table(headers, rows)


def check_targets(results):
    """Issue 3's targets, for the configurations that were run."""
    found = {(r["kind"], r["width"], r["T"]): r for r in results}
    out = []
    for kind in ("additive", "multiplicative"):
        r = found.get((kind, WIDTH, 2048))
        if r and _ok(r.get("seqlab")) and _ok(r.get("naive")):
            speed = r["naive"]["time"]["median"] / r["seqlab"]["time"]["median"]
            mem = r["seqlab"]["peak_rss_mb"] / r["naive"]["peak_rss_mb"]
            out.append({"target": f"{kind}, width 15, T=2048: >= 20x faster than naive",
                        "met": speed >= 20, "measured": f"{speed:.1f}x"})
            growth = _growth(r["seqlab"]) / max(_growth(r["naive"]), 1.0)
            out.append({"target": f"{kind}, width 15, T=2048: <= 1/10 of naive peak memory",
                        "met": mem <= 0.1,
                        "measured": f"{mem:.3f} (growth above the runtime: {growth:.3f})"})
        r = found.get((kind, WIDTH, 8192))
        if r and _ok(r.get("seqlab")):
            peak = r["seqlab"]["peak_rss_mb"]
            out.append({"target": f"{kind}, width 15, T=8192: peak under 2 GB",
                        "met": peak < 2048, "measured": common.fmt_mb(peak)})
    r = found.get(("additive", None, 2048))
    if r and _ok(r.get("seqlab")) and _ok(r.get("naive")):
        speed = r["seqlab"]["time"]["median"] / r["naive"]["time"]["median"]
        mem = r["seqlab"]["peak_rss_mb"] / r["naive"]["peak_rss_mb"]
        out.append({"target": "additive, global, T=2048: <= 1/3 of naive peak memory",
                    "met": mem <= 1 / 3, "measured": f"{mem:.3f}"})
        out.append({"target": "additive, global, T=2048: time <= 1.5x naive",
                    "met": speed <= 1.5, "measured": f"{speed:.2f}x"})
    return out


if __name__ == "__main__":
    sys.exit(main())
