"""The whole path a user walks: train → reload in a fresh process → predict → evaluate,
and the one-line errors of bad input."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from seqlab.cli import app

from conftest import DATA, ROOT, SEQLAB, TESTS, TRAINED


def run_cli(*args, stdin=None, cwd=ROOT):
    return subprocess.run([sys.executable, str(SEQLAB), *map(str, args)], input=stdin,
                          capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.mark.parametrize("how", [[str(SEQLAB)], ["-m", "seqlab.cli"]])
def test_help_answers_without_tensorflow(how):
    """Light by structure, whatever the program is called: `import seqlab` imports no Keras."""
    proc = subprocess.run([sys.executable, "-X", "importtime", *how, "--help"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    for command in ("train", "predict", "evaluate", "attention", "data"):
        assert command in proc.stdout
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines()}
    assert "seqlab" in imported and "typer" in imported
    assert "tensorflow" not in imported and "keras" not in imported


@pytest.mark.parametrize("args, expected", [
    (["train", "configs/quickstart.yaml", "--force", "--resume"], "contradict each other"),
    (["train", "configs/quickstart.yaml", "--seeds", "x"], "--seeds 'x'"),
    (["data", "convert", "data/train.txt", "out.txt", "--to", "foo"],
     "--to 'foo': unknown tag scheme 'foo'"),
    (["predict", "nowhere.keras", "-", "--tokenizer", "bpe"], "unknown tokenizer 'bpe'"),
])
def test_bad_flags_answer_before_tensorflow(args, expected):
    proc = subprocess.run([sys.executable, "-X", "importtime", str(SEQLAB), *args],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if not line.startswith("import time:")]
    assert len(lines) == 1 and expected in lines[0], lines
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines()
                if line.startswith("import time:")}
    assert "tensorflow" not in imported and "keras" not in imported


@pytest.mark.slow
def test_import_seqlab_registers_the_layers_once_keras_comes():
    proc = subprocess.run([sys.executable, str(TESTS / "registered_layers.py")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    registered = proc.stdout.strip().splitlines()[-1]
    assert "seqlab>SeqSelfAttention" in registered and "seqlab>CRF" in registered
    assert all(f"seqlab>{name}" in registered for name in ("FusedAdam", "SGD", "Nadam"))


def test_train_writes_the_run(trained):
    for name in ("model.keras", "config.yaml", "metrics.json", "history.csv"):
        assert (trained / name).is_file(), name
    metrics = json.loads((trained / "metrics.json").read_text())
    assert set(metrics["test"]) >= {"accuracy", "precision", "recall", "f1", "per_type"}
    assert 0 <= metrics["test"]["f1"] <= 100
    rows = list(csv.DictReader(open(trained / "history.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4, 5]
    assert "dev_f1" in rows[0]
    # the epoch's own seconds and training speed, and the cumulative time under its own name
    for row in rows:
        assert float(row["epoch_seconds"]) > 0 and float(row["tokens_per_second"]) > 0
    elapsed = [float(r["elapsed_seconds"]) for r in rows]
    assert elapsed == sorted(elapsed)
    # each epoch's own seconds lie inside the interval between two cumulative stamps (which
    # also holds the checkpoint writing); the stamps are rounded to 0.01 s
    seconds = [float(r["epoch_seconds"]) for r in rows]
    assert seconds[0] <= elapsed[0] + 0.01
    assert all(s <= after - before + 0.02
               for s, before, after in zip(seconds[1:], elapsed, elapsed[1:]))
    # The resolved config is a config seqlab can load again.
    from seqlab.config import load_config
    assert load_config(trained / "config.yaml").model.lstm.units == 16


def test_existing_run_is_refused_without_force(trained):
    before = (trained / "model.keras").stat().st_mtime_ns
    proc = run_cli("train", "configs/quickstart.yaml", "--output", trained)
    assert proc.returncode == 2
    assert "--force" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert (trained / "model.keras").stat().st_mtime_ns == before


@pytest.mark.slow
def test_fresh_process_loads_model_keras_without_custom_objects(trained):
    # The quickstart model reads words and characters: feed both, by input name.
    proc = subprocess.run([sys.executable, str(TESTS / "load_tagger_model.py"),
                           str(trained / "model.keras")], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    import numpy as np

    from seqlab.tagger import Tagger
    tagger = Tagger.load(trained / "model.keras")
    ids, _ = tagger.predict_ids([["w2", "w3", "w4"]])
    assert len(ids[0]) == 3
    chars = np.zeros((1, 5, tagger.chars.max_length), "int32")
    chars[0, :3, :2] = 3
    here = np.asarray(tagger.model.predict_on_batch(
        {"words": np.array([[2, 3, 4, 0, 0]], "int32"), "chars": chars}))
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == here.argmax(-1).tolist()


@pytest.mark.slow
def test_predict_conll_and_jsonl_from_file_and_stdin(trained, tmp_path):
    lines = (DATA / "sample_input.txt").read_text(encoding="utf-8").splitlines()
    proc = run_cli("predict", trained / "model.keras", DATA / "sample_input.txt")
    assert proc.returncode == 0, proc.stderr
    blocks = proc.stdout.strip("\n").split("\n\n")
    assert len(blocks) == len(lines)
    for block, line in zip(blocks, lines):
        rows = [row.split(" ") for row in block.splitlines()]
        assert [r[0] for r in rows] == line.split()
        assert all(len(r) == 2 for r in rows)

    proc = run_cli("predict", trained / "model.keras", "-", "--format", "jsonl",
                   stdin="Maria flew to Oslo .\n\nThe EU met\n")
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(x) for x in proc.stdout.splitlines()]
    assert [r["tokens"] for r in records] == [["Maria", "flew", "to", "Oslo", "."], [],
                                              ["The", "EU", "met"]]
    from seqlab.schemes import get_chunks
    for r in records:
        assert len(r["tags"]) == len(r["tokens"])
        assert [(s["type"], s["start"], s["end"]) for s in r["spans"]] == get_chunks(r["tags"])
        for s in r["spans"]:
            assert s["text"] == " ".join(r["tokens"][s["start"]:s["end"]])

    out = tmp_path / "tags.conll"
    proc = run_cli("predict", trained / "model.keras", DATA / "sample_input.txt", "-o", out)
    assert proc.returncode == 0 and out.read_text(encoding="utf-8").strip() == \
        "\n\n".join(blocks).strip()
    proc = run_cli("predict", trained / "model.keras", DATA / "sample_input.txt", "-o", out)
    assert proc.returncode == 2 and "--force" in proc.stderr


@pytest.mark.slow
def test_evaluate_model_matches_training_metrics(trained):
    result = CliRunner().invoke(app, ["evaluate", str(trained / "model.keras"),
                                      str(DATA / "test.txt"), "--json"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    metrics = json.loads((trained / "metrics.json").read_text())["test"]
    for key in ("accuracy", "precision", "recall", "f1"):
        assert scores[key] == pytest.approx(metrics[key])
    for row in scores["per_type"].values():
        assert set(row) >= {"precision", "recall", "f1", "gold", "predicted", "correct"}
        assert all(isinstance(row[k], int) for k in ("gold", "predicted", "correct"))


def test_evaluate_predictions_file_against_seqeval(tmp_path):
    from seqeval.metrics import f1_score, precision_score, recall_score

    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "I-PER", "O"], ["B-ORG", "I-ORG", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["O", "I-PER", "I-PER"], ["B-ORG", "O", "O"]]
    path = tmp_path / "pred.txt"
    with open(path, "w") as f:
        for g, p in zip(gold, pred):
            f.writelines(f"w{i} {a} {b}\n" for i, (a, b) in enumerate(zip(g, p)))
            f.write("\n")
    proc = run_cli("evaluate", "--predictions", path, "--json")
    assert proc.returncode == 0, proc.stderr
    scores = json.loads(proc.stdout)
    assert scores["precision"] == pytest.approx(100 * precision_score(gold, pred))
    assert scores["recall"] == pytest.approx(100 * recall_score(gold, pred))
    assert scores["f1"] == pytest.approx(100 * f1_score(gold, pred))


@pytest.mark.parametrize("args, expected", [
    (["train", "nowhere.yaml"], "nowhere.yaml: config file not found"),
    (["predict", "missing.keras", "data/sample_input.txt"], "missing.keras: model file not found"),
    (["predict", "configs/quickstart.yaml", "data/sample_input.txt"], "not a .keras model"),
    (["evaluate", "missing.keras", "data/test.txt"], "missing.keras: model file not found"),
    (["evaluate", "--predictions", "nowhere.txt"], "nowhere.txt: predictions file not found"),
])
def test_bad_input_is_one_line_exit_2(args, expected):
    proc = run_cli(*args)
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_bad_config_and_malformed_corpus(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("data:\n  train: t.txt\nmodel:\n  lstm:\n    unitz: 4\n")
    (tmp_path / "t.txt").write_text("EU B-ORG\nrejects O\nGerman B-MISC extra\n\n")
    proc = run_cli("train", config, "--output", tmp_path / "out")
    assert proc.returncode == 2 and "unknown key 'model.lstm.unitz'" in proc.stderr
    config.write_text("data:\n  train: t.txt\n")
    proc = run_cli("train", config, "--output", tmp_path / "out")
    assert proc.returncode == 2, proc.stderr
    assert "t.txt:3" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def _weights_hash(run_dir: Path) -> str:
    return json.loads((run_dir / "run.json").read_text())["weights_sha256"]


@pytest.mark.slow
def test_same_config_and_seed_give_identical_weights(trained, tmp_path):
    record = json.loads((trained / "run.json").read_text())
    assert record["seed"] == 13 and len(record["weights_sha256"]) == 64
    assert set(record["data_sha256"]) == {"train", "dev", "test"}
    for seed, same in ((13, True), (14, False)):
        out = tmp_path / f"seed{seed}"
        result = CliRunner().invoke(app, ["train", str(ROOT / "configs/quickstart.yaml"),
                                          "--output", str(out), *TRAINED, "--set", f"seed={seed}"])
        assert result.exit_code == 0, result.output
        assert (_weights_hash(out) == _weights_hash(trained)) is same


@pytest.mark.slow
def test_reproduce_in_a_fresh_process(trained):
    proc = run_cli("reproduce", trained)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "identical"


def test_data_stats_tables_go_to_stdout():
    result = CliRunner().invoke(app, ["data", "stats", str(DATA / "train.txt"),
                                      str(DATA / "dev.txt")])
    assert result.exit_code == 0, result.output
    assert "Corpus" in result.stdout and "OOV tokens" in result.stdout
    assert result.stderr == ""
