"""The command line's edges, as a hostile user finds them (issue 37, items 8, 10 to 14): bad
seeds, output paths that cannot be written, damaged run directories, a closed stdin, a huge
sentence to draw, a reader that leaves the pipe. Each answers with one line, exit 2 (or 0 for
a closed pipe), and nothing lost."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import DATA, ROOT, SEQLAB, invoke, one_line_error

CONFIG = ROOT / "configs/quickstart.yaml"



# -- item 8: --seeds -------------------------------------------------------------------------

@pytest.mark.parametrize("seeds", ["4294967296,5", "2147483648,5", "13,,14", ",13", "13,",
                                   "-1,4", " , "])
def test_seeds_out_of_range_or_with_empty_parts_are_refused(seeds, tmp_path):
    result = invoke("train", CONFIG, "-o", tmp_path / "run", "--seeds", seeds)
    one_line_error(result, "--seeds")
    assert not (tmp_path / "run").exists()


def test_seed_count_past_the_range_from_the_config_seed_is_refused(tmp_path):
    result = invoke("train", CONFIG, "-o", tmp_path / "run", "--set", "seed=2147483646",
                    "--seeds", "3")
    one_line_error(result, "--seeds", "2147483648")


def test_seeds_in_range_are_parsed():
    from seqlab.cli import _seeds

    assert _seeds("0,2147483647", 13) == [0, 2147483647]
    assert _seeds(" 13, 14 ", 13) == [13, 14]
    assert _seeds("3", 2147483645) == [2147483645, 2147483646, 2147483647]


# -- item 10: output paths -------------------------------------------------------------------

def test_predict_output_in_a_missing_directory(trained, tmp_path):
    result = invoke("predict", trained / "model.keras", DATA / "test.txt",
                    "-o", tmp_path / "missing" / "out.txt")
    one_line_error(result, "missing", "cannot write")
    assert not (tmp_path / "missing").exists()


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_predict_output_in_proc(trained):
    result = invoke("predict", trained / "model.keras", DATA / "test.txt", "-o", "/proc/x.txt")
    one_line_error(result, "/proc/x.txt", "cannot write")


def test_predict_output_onto_a_directory_even_with_force(trained, tmp_path):
    target = tmp_path / "existing"
    target.mkdir()
    (target / "keep.txt").write_text("mine\n")
    result = invoke("predict", trained / "model.keras", DATA / "test.txt", "-o", target,
                    "--force")
    one_line_error(result, "is a directory")
    assert (target / "keep.txt").read_text() == "mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing"]


def test_report_output_in_a_missing_directory(trained, tmp_path):
    result = invoke("report", trained, "-o", tmp_path / "missing" / "r.html")
    one_line_error(result, "cannot write")


def test_attention_output_in_a_missing_directory(trained, tmp_path):
    result = invoke("attention", trained / "model.keras", "EU rejects German call",
                    "-o", tmp_path / "missing" / "a.png")
    one_line_error(result, "cannot write")


def test_evaluate_errors_in_a_missing_directory(trained, tmp_path):
    result = invoke("evaluate", trained / "model.keras", DATA / "test.txt",
                    "--errors", tmp_path / "missing" / "e.jsonl")
    one_line_error(result, "cannot write")


def test_convert_output_onto_a_directory(tmp_path):
    target = tmp_path / "existing"
    target.mkdir()
    result = invoke("data", "convert", DATA / "test.txt", target, "--to", "iobes", "--force")
    one_line_error(result, "is a directory")


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_train_output_in_proc():
    result = invoke("train", CONFIG, "-o", "/proc/run")
    one_line_error(result, "/proc/run", "cannot write")


def test_output_checks_accept_a_new_file_and_leave_no_trace(tmp_path):
    from seqlab.paths import check_output_file, writing

    target = tmp_path / "new.txt"
    assert check_output_file(target) == target
    assert list(tmp_path.iterdir()) == []
    with writing(target) as f:
        f.write("one\n")
    assert target.read_text() == "one\n"
    with pytest.raises(Exception, match="already exists"):
        check_output_file(target)
    with pytest.raises(RuntimeError), writing(target) as f:  # a failure keeps the old file
        f.write("two\n")
        raise RuntimeError
    assert target.read_text() == "one\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.txt"]


# -- item 11: damaged run directories ------------------------------------------------------

@pytest.fixture
def damaged(trained, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained, run, ignore=shutil.ignore_patterns("checkpoints", "report.html"))
    return run


def test_report_on_a_history_with_a_word_for_a_number(damaged):
    history = damaged / "history.csv"
    lines = history.read_text().splitlines()
    history.write_text("\n".join(lines + ["1,abc"]) + "\n")
    result = invoke("report", damaged)
    one_line_error(result, f"history.csv:{len(lines) + 1}:")
    assert not (damaged / "report.html").exists()


def test_report_on_cut_off_dev_predictions(damaged):
    path = damaged / "dev_predictions.jsonl"
    text = path.read_text()
    count = text.count("\n")
    path.write_text(text[: len(text) - 10])  # the last line cut in the middle
    result = invoke("report", damaged)
    one_line_error(result, f"dev_predictions.jsonl:{count}:")


def test_report_on_dev_predictions_of_the_wrong_shape(damaged):
    path = damaged / "dev_predictions.jsonl"
    path.write_text('{"tokens": ["a"], "gold": ["O"]}\n')
    result = invoke("report", damaged)
    one_line_error(result, "dev_predictions.jsonl:1:")


@pytest.mark.parametrize("name", ["metrics.json", "run.json", "attention.json"])
def test_report_on_damaged_json(damaged, name):
    (damaged / name).write_text('{"dev": \n[1, 2')
    result = invoke("report", damaged)
    one_line_error(result, f"{name}:2:")


def test_reproduce_on_a_run_json_that_is_not_json(damaged):
    (damaged / "run.json").write_text("run: yes\n")
    result = invoke("reproduce", damaged)
    one_line_error(result, "run.json:1:")


# -- item 12: stdin closed -------------------------------------------------------------------

def test_predict_from_a_closed_stdin(trained):
    proc = subprocess.run([sys.executable, str(SEQLAB), "predict", str(trained / "model.keras"),
                           "-"], capture_output=True, text=True,
                          preexec_fn=lambda: os.close(0), timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "stdin" in proc.stderr, proc.stderr


# -- item 13: a sentence too long to draw ----------------------------------------------------

def test_attention_bounds_the_sentence_it_draws(trained):
    from seqlab.attention_view import MAX_TOKENS

    sentence = " ".join(["word"] * 10_000)
    result = invoke("attention", trained / "model.keras", sentence)
    one_line_error(result, "10000 tokens", str(MAX_TOKENS))


# -- item 14: a reader that leaves the pipe --------------------------------------------------

def _closed_pipe(*args):
    """Run seqlab with its stdout a pipe whose reader has already gone."""
    proc = subprocess.Popen([sys.executable, str(SEQLAB), *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.close()
    _, stderr = proc.communicate(timeout=300)
    return proc.returncode, stderr


@pytest.fixture
def predictions(tmp_path):
    lines = []
    tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC"]
    for i in range(400):
        lines.append(f"w{i} {tags[i % 9]} {tags[(i * 7) % 9]}")
        if i % 10 == 9:
            lines.append("")
    path = tmp_path / "pred.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("flags", [["--confusion"], ["--json"], ["--conlleval"]])
def test_evaluate_into_a_closed_pipe_exits_quietly(predictions, flags):
    code, stderr = _closed_pipe("evaluate", "--predictions", predictions, *flags)
    assert (code, stderr) == (0, "")


def test_data_stats_into_a_closed_pipe_exits_quietly():
    code, stderr = _closed_pipe("data", "stats", DATA / "train.txt")
    assert (code, stderr) == (0, "")


def test_messages_keep_colon_words_as_typed(tmp_path):
    """Rich turned ``file:100:`` into an emoji; errors name files and lines as they are."""
    missing = tmp_path / ":100:" / ":thumbs_up:.txt"
    result = invoke("data", "stats", missing)
    one_line_error(result, ":100:/:thumbs_up:.txt")
