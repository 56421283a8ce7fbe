"""Start-up time of the `seqlab` command against importing TensorFlow (issue 8, item 5).

Wall time, from process start to exit, of ``seqlab --help``, ``seqlab predict --help`` and
``seqlab train`` with a missing config (an argument error: it must fail before any slow
import), against ``python -c "import tensorflow"`` in the same run. Every run is a fresh
process started from the venv's ``seqlab`` script (so Python start-up is included on both
sides); each command runs once untimed first (disk cache, .pyc files), then the commands take
turns, so drift in the machine's load hits all of them alike. Median, min and max quoted.

Target: ``--help`` at most 0.2x the TensorFlow import.

    python bench/startup.py            # 10 repeats
    python bench/startup.py --quick    # 2 repeats, no untimed round
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common

TARGET = 0.2


def commands():
    seqlab = common.venv_script("seqlab")
    return [
        ('python -c "import tensorflow" (baseline)', [sys.executable, "-c", "import tensorflow"],
         0),
        ("seqlab --help", [seqlab, "--help"], 0),
        ("seqlab predict --help", [seqlab, "predict", "--help"], 0),
        ("seqlab train missing.yaml (argument error)", [seqlab, "train", "missing.yaml"], 2),
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 repeats, no untimed round")
    parser.add_argument("--repeats", type=int)
    args = parser.parse_args(argv)
    repeats = args.repeats or (2 if args.quick else 10)
    machine, vers = common.machine_info(), common.versions()
    common.log(common.describe_environment(machine, vers))
    load_before = common.load_status()
    common.log(load_before)

    cmds = commands()
    times = {label: [] for label, _, _ in cmds}
    warm_up = 0 if args.quick else 1
    for rep in range(1 - warm_up, repeats + 1):  # round 0 is the warm-up
        for label, cmd, expected in cmds:
            res = common.time_command(cmd, timeout_s=300)
            if res["returncode"] != expected:
                raise SystemExit(f"{label}: exit status {res['returncode']}, expected "
                                 f"{expected}: {res['tail']}")
            if rep:
                times[label].append(res["wall_s"])
        if rep:
            common.log(f"repeat {rep}/{repeats}: " + ", ".join(
                f"{times[label][-1]:.2f} s" for label, _, _ in cmds))
    load_after = common.load_status()

    stats = {label: common.summarize(t) for label, t in times.items()}
    base_label = cmds[0][0]
    base = stats[base_label]["median"]
    rows = [[label, common.fmt_time(s), f"**{s['median'] / base:.2f}×**"]
            for label, s in stats.items()]
    table = common.markdown_table(
        ["command", "wall time: median (min–max)", "time ÷ import tensorflow"], rows)
    targets = []
    for label in ("seqlab --help", "seqlab predict --help"):
        ratio = stats[label]["median"] / base
        targets.append({"target": f"{label}: at most {TARGET}x the TensorFlow import",
                        "met": ratio <= TARGET, "measured": f"{ratio:.3f}x"})
    print(common.describe_environment(machine, vers))
    print(f"Load: before {load_before}; after {load_after}")
    print(f"\nEach command a fresh process, {repeats} repeats"
          f"{' after one untimed round' if warm_up else ' (no untimed round)'}; "
          "wall time from start to exit.\n")
    print(table)
    return common.finish("startup", {
        "benchmark": "seqlab start-up vs import tensorflow",
        "machine": machine, "versions": vers, "load_before": load_before,
        "load_after": load_after, "repeats": repeats,
        "commands": {label: [str(c) for c in cmd] for label, cmd, _ in cmds},
        "times": stats,
    }, targets, args.quick)


if __name__ == "__main__":
    sys.exit(main())
