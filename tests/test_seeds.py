"""Scores over seeds: `seqlab train CONFIG --seeds`, its summary against the per-seed files,
the best-dev model, resuming an interrupted set, and each run being an ordinary run."""

import json
import signal
import statistics
import subprocess
import sys

import pytest

from seqlab.errors import SeqlabError

from conftest import QUICK, SEQLAB, TINY, invoke, sets

TWO_EPOCHS = sets(TINY + ["training.epochs=2"])


@pytest.mark.slow
def test_seeds_train_one_run_each_and_summarise_them(tmp_path):
    out = tmp_path / "set"
    result = invoke("train", QUICK, "--output", out, "--seeds", "3", *TWO_EPOCHS)
    assert result.exit_code == 0, result.output + repr(result.exception)
    summary = json.loads((out / "summary.json").read_text())
    assert [r["seed"] for r in summary["seeds"]] == [13, 14, 15]  # the config's seed, then on
    # the summary is computed from the per-seed files
    dev, test = [], []
    for row in summary["seeds"]:
        record = json.loads((out / f"seed-{row['seed']}" / "run.json").read_text())
        assert record["seed"] == row["seed"] and record["config"]["seed"] == row["seed"]
        assert row["dev"] == record["metrics"]["dev"]["f1"]
        assert row["test"] == record["metrics"]["test"]["f1"]
        assert row["best_epoch"] == record["best_epoch"]
        dev.append(row["dev"])
        test.append(row["test"])
    stats = summary["summary"]
    assert stats["dev"]["mean"] == pytest.approx(statistics.fmean(dev))
    assert stats["test"]["sd"] == pytest.approx(statistics.stdev(test))
    assert (stats["test"]["min"], stats["test"]["max"]) == (min(test), max(test))
    # the kept model is the best dev run's, never chosen by test
    best = max(summary["seeds"], key=lambda r: r["dev"])
    assert summary["best"]["seed"] == best["seed"]
    assert (out / "model.keras").read_bytes() == \
        (out / f"seed-{best['seed']}" / "model.keras").read_bytes()
    # the table is on stdout, with the mean and sd rows
    assert "mean" in result.stdout and "sd" in result.stdout and "15" in result.stdout
    # a finished set is not replaced without --force; --resume keeps every finished run
    again = invoke("train", QUICK, "--output", out, "--seeds", "3", *TWO_EPOCHS)
    assert again.exit_code == 2 and "already exists" in again.stderr
    before = (out / "seed-14" / "run.json").read_text()
    resumed = invoke("train", QUICK, "--output", out, "--seeds", "3", "--resume", *TWO_EPOCHS)
    assert resumed.exit_code == 0, resumed.output
    assert (out / "seed-14" / "run.json").read_text() == before
    assert json.loads((out / "summary.json").read_text())["summary"] == summary["summary"]
    # each seed's run is an ordinary, reproducible run
    result = invoke("reproduce", out / "seed-14")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "identical"


@pytest.mark.slow
def test_an_interrupted_set_resumes_where_it_stopped(tmp_path):
    """Ctrl-C (SIGINT, as a terminal sends it) while the second seed trains: one line naming
    the seed and the command that goes on; that command keeps the finished seed."""
    out = tmp_path / "set"
    command = [sys.executable, str(SEQLAB), "train", str(QUICK), "--output", str(out),
               "--seeds", "20,21", *TWO_EPOCHS]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            # Ctrl-C as in a terminal, also under a shell that starts
                            # background jobs with SIGINT ignored
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    said = []
    try:
        for line in proc.stderr:  # the second seed's data read: it is training now
            said.append(line)
            if line.startswith("train:") and any(s.startswith("seed 21") for s in said):
                proc.send_signal(signal.SIGINT)
                break
        _, rest = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    stderr = "".join(said) + rest
    assert proc.returncode == 130, stderr
    line = stderr.strip().splitlines()[-1]
    assert "interrupted in seed 21" in line and line.endswith("--seeds 20,21 --resume"), line
    assert (out / "seed-20" / "run.json").is_file() and not (out / "summary.json").exists()
    finished = (out / "seed-20" / "run.json").read_bytes()
    result = invoke("train", QUICK, "--output", out, "--seeds", "20,21", "--resume",
                    *TWO_EPOCHS)
    assert result.exit_code == 0, result.output
    # seed 20 was not trained again: only seed 21 is announced, and 20's run is as it was
    assert "seed 21 (2 of 2)" in result.stderr and "seed 20 (1 of 2)" not in result.stderr
    assert (out / "seed-20" / "run.json").read_bytes() == finished
    assert [r["seed"] for r in json.loads((out / "summary.json").read_text())["seeds"]] == \
        [20, 21]


@pytest.mark.slow
def test_one_seed_is_a_set_of_one(tmp_path):
    out = tmp_path / "set"
    assert invoke("train", QUICK, "--output", out, "--seeds", "1", *TWO_EPOCHS,
                  "--set", "training.epochs=1").exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["model.keras", "seed-13", "summary.json"]
    assert json.loads((out / "summary.json").read_text())["summary"]["test"]["sd"] == 0.0


@pytest.mark.parametrize("seeds, message", [("x", "expected seeds like 13,14,15"),
                                            ("0", "a count of seeds is 1 to 100"),
                                            ("3,3", "a seed is given twice"),
                                            ("-1,2", "expected seeds")])
def test_bad_seeds_are_one_line(seeds, message, tmp_path):
    result = invoke("train", QUICK, "--output", tmp_path / "x", "--seeds", seeds)
    assert result.exit_code == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_set_directory_with_other_files_is_refused(tmp_path):
    from seqlab.training.seeds import check_set_output

    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(SeqlabError, match="not a seqlab run set: notes.txt"):
        check_set_output(tmp_path, force=True)
