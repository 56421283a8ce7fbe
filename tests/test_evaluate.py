"""`seqlab evaluate`: the scores, --conlleval, --confusion, --errors and --compare, from the
command line (scoring itself is tested in test_metrics.py); hand-made cases and seqeval."""

import json

import numpy as np
import pytest

from conftest import DATA, invoke, ok


def write_predictions(path, gold, pred, tokens=None, docstart=False):
    with open(path, "w", encoding="utf-8") as f:
        if docstart:
            f.write("-DOCSTART- -X- O O\n\n")
        for i, (g, p) in enumerate(zip(gold, pred)):
            for j, (a, b) in enumerate(zip(g, p)):
                token = tokens[i][j] if tokens else f"w{j}"
                f.write(f"{token} X {a} {b}\n")
            f.write("\n")
    return path


# IOB2 with invalid transitions (test_metrics.py works the numbers out by hand)
GOLD = [["B-PER", "O", "O", "B-LOC", "I-LOC", "O"], ["B-ORG", "I-ORG", "O", "B-PER"]]
PRED = [["B-PER", "O", "O", "I-LOC", "I-LOC", "O"], ["B-ORG", "I-PER", "O", "I-PER"]]
CONLLEVAL = (
    "processed 10 tokens with 4 phrases; found: 5 phrases; correct: 3.\n"
    "accuracy:  70.00%; precision:  60.00%; recall:  75.00%; FB1:  66.67\n"
    "              LOC: precision: 100.00%; recall: 100.00%; FB1: 100.00  1\n"
    "              ORG: precision:   0.00%; recall:   0.00%; FB1:   0.00  1\n"
    "              PER: precision:  66.67%; recall: 100.00%; FB1:  80.00  3\n"
)


def test_conlleval_text_exactly(tmp_path):
    path = write_predictions(tmp_path / "p.txt", GOLD, PRED)
    assert ok(invoke("evaluate", "--predictions", path, "--conlleval")) == CONLLEVAL
    # conlleval counts a -DOCSTART- line as an O/O token: so does --conlleval
    path = write_predictions(tmp_path / "d.txt", GOLD, PRED, docstart=True)
    out = ok(invoke("evaluate", "--predictions", path, "--conlleval"))
    assert out.startswith("processed 11 tokens with 4 phrases; found: 5 phrases; correct: 3.\n"
                          "accuracy:  72.73%;")


def test_iob1_and_iobes_close_chunks(tmp_path):
    # IOB1: I- opens a chunk, B- separates adjacent chunks of one type
    gold = [["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-ORG"]]
    pred = [["I-PER", "I-PER", "I-PER", "O", "B-LOC", "I-ORG"]]
    scores = json.loads(ok(invoke("evaluate", "--predictions",
                                  write_predictions(tmp_path / "a.txt", gold, pred), "--json")))
    assert (scores["gold_chunks"], scores["predicted_chunks"], scores["correct_chunks"]) == \
        (4, 3, 2)
    # IOBES / BILOU: S-, E-, U-, L- close chunks
    gold = [["S-PER", "S-PER", "B-LOC", "E-LOC", "O"], ["U-PER", "B-ORG", "L-ORG", "U-ORG"]]
    pred = [["S-PER", "B-PER", "E-PER", "E-LOC", "O"], ["U-PER", "B-ORG", "I-ORG", "L-ORG"]]
    scores = json.loads(ok(invoke("evaluate", "--predictions",
                                  write_predictions(tmp_path / "b.txt", gold, pred), "--json")))
    # gold: PER 0-1, PER 1-2, LOC 2-4 | PER 0-1, ORG 1-3, ORG 3-4
    # pred: PER 0-1, PER 1-3, LOC 3-4 | PER 0-1, ORG 1-4
    assert (scores["gold_chunks"], scores["predicted_chunks"], scores["correct_chunks"]) == \
        (6, 5, 2)
    assert scores["per_type"]["ORG"]["gold"] == 2 and scores["per_type"]["ORG"]["correct"] == 0


def _random_tags(rng, scheme, n):
    types = ["PER", "LOC", "ORG"]
    prefixes = "BI" if scheme == "iob2" else "BIES"
    return [[rng.choice(["O", f"{rng.choice(list(prefixes))}-{rng.choice(types)}"])
             for _ in range(rng.integers(1, 12))] for _ in range(n)]


@pytest.mark.parametrize("scheme", ["iob2", "iobes"])
def test_agrees_with_seqeval(tmp_path, scheme):
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

    rng = np.random.default_rng(7)
    gold = _random_tags(rng, scheme, 200)  # invalid transitions included
    pred = [[t if rng.random() < 0.7 else rng.choice(["O", "B-PER", "I-LOC", "E-ORG",
                                                      "S-LOC"] if scheme == "iobes" else
                                                     ["O", "B-PER", "I-LOC", "I-ORG"])
             for t in s] for s in gold]
    path = write_predictions(tmp_path / "p.txt", gold, pred)
    scores = json.loads(ok(invoke("evaluate", "--predictions", path, "--json")))
    assert scores["precision"] == pytest.approx(100 * precision_score(gold, pred))
    assert scores["recall"] == pytest.approx(100 * recall_score(gold, pred))
    assert scores["f1"] == pytest.approx(100 * f1_score(gold, pred))
    report = classification_report(gold, pred, output_dict=True, digits=6)
    for kind, row in scores["per_type"].items():
        assert row["f1"] == pytest.approx(100 * report[kind]["f1-score"])
        assert row["gold"] == report[kind]["support"]


def test_plain_tags_get_per_label_scores(tmp_path):
    gold = [["NN", "VBZ", "DT", "NN"], ["NNP", "."]]
    pred = [["NN", "NN", "DT", "NN"], ["NN", "."]]
    path = write_predictions(tmp_path / "pos.txt", gold, pred)
    scores = json.loads(ok(invoke("evaluate", "--predictions", path, "--json")))
    assert scores["task"] == "tag" and scores["accuracy"] == pytest.approx(400 / 6)
    assert scores["per_label"]["NN"] == {"precision": 50.0, "recall": 100.0,
                                         "f1": pytest.approx(200 / 3), "support": 2,
                                         "predicted": 4, "correct": 2}
    result = invoke("evaluate", "--predictions", path)
    assert result.exit_code == 0 and "VBZ" in result.stdout and "macro avg" in result.stdout
    result = invoke("evaluate", "--predictions", path, "--conlleval")
    assert result.exit_code == 2 and "--conlleval needs chunk tags" in result.stderr


def test_confusion_matrix_table_and_json(tmp_path):
    path = write_predictions(tmp_path / "p.txt", GOLD, PRED)
    scores = json.loads(ok(invoke("evaluate", "--predictions", path, "--json", "--confusion")))
    labels, matrix = scores["confusion"]["labels"], scores["confusion"]["matrix"]
    assert labels == ["B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER", "O"]
    assert sum(map(sum, matrix)) == 10
    assert matrix[labels.index("B-LOC")][labels.index("I-LOC")] == 1
    result = invoke("evaluate", "--predictions", path, "--confusion")
    assert result.exit_code == 0 and "confusion" in result.stdout and "I-PER" in result.stdout
    assert result.stderr == ""  # results go to stdout, so `> scores.txt` keeps them


def test_errors_file_lists_every_wrong_span(tmp_path):
    tokens = [["Ann", "went", "to", "New", "York", "."], ["The", "UN", "and", "Bob"]]
    path = write_predictions(tmp_path / "p.txt", GOLD, PRED, tokens)
    errors = tmp_path / "errors.jsonl"
    result = invoke("evaluate", "--predictions", path, "--errors", errors)
    assert result.exit_code == 0 and "wrote 3 wrong spans" in result.stderr
    rows = [json.loads(line) for line in errors.read_text().splitlines()]
    assert len(rows) == 1 and rows[0]["sentence"] == 2
    assert rows[0]["missed"] == [["ORG", 0, 2, "The UN"]]
    assert rows[0]["spurious"] == [["ORG", 0, 1, "The"], ["PER", 1, 2, "UN"]]
    result = invoke("evaluate", "--predictions", path, "--errors", errors)
    assert result.exit_code == 2 and "--force" in result.stderr
    ok(invoke("evaluate", "--predictions", path, "--errors", tmp_path / "e.txt"))
    text = (tmp_path / "e.txt").read_text()
    assert "The UN and Bob" in text and "missed   [ORG The UN]" in text


def test_compare_two_systems_is_seeded(tmp_path):
    rng = np.random.default_rng(3)
    gold = _random_tags(rng, "iob2", 150)
    good = [[t if rng.random() < 0.95 else "O" for t in s] for s in gold]
    bad = [[t if rng.random() < 0.6 else "O" for t in s] for s in gold]
    a = write_predictions(tmp_path / "a.txt", gold, good)
    b = write_predictions(tmp_path / "b.txt", gold, bad)
    runs = [json.loads(ok(invoke("evaluate", "--predictions", a, "--compare", b, "--json",
                                 "--rounds", "500", "--seed", "5"))) for _ in range(2)]
    assert runs[0]["comparison"] == runs[1]["comparison"]
    c = runs[0]["comparison"]
    assert c["metric"] == "f1" and c["difference"] > 0 and c["p_value"] < 0.05
    assert c["difference"] == pytest.approx(runs[0]["f1"] - c["other"]["f1"])
    same = json.loads(ok(invoke("evaluate", "--predictions", a, "--compare", a, "--json",
                                "--rounds", "200")))
    assert same["comparison"]["difference"] == 0 and same["comparison"]["p_value"] == 1.0
    result = invoke("evaluate", "--predictions", a, "--compare", b, "--rounds", "200")
    assert result.exit_code == 0 and "approximate randomisation p =" in result.stdout
    # a second file with other gold tags is refused
    other = write_predictions(tmp_path / "o.txt", bad, bad)
    result = invoke("evaluate", "--predictions", a, "--compare", other)
    assert result.exit_code == 2 and "differ" in result.stderr


def test_model_and_data_with_errors_and_confusion(trained, tmp_path):
    errors = tmp_path / "errors.txt"
    # the batch size of training (quickstart.yaml), so the batches are the same as there
    out = ok(invoke("evaluate", trained / "model.keras", DATA / "test.txt", "--json",
                    "--confusion", "--errors", errors, "--batch-size", "16"))
    scores = json.loads(out)
    metrics = json.loads((trained / "metrics.json").read_text())["test"]
    assert scores["f1"] == pytest.approx(metrics["f1"])
    assert sum(map(sum, scores["confusion"]["matrix"])) == scores["tokens"]
    assert errors.is_file()


@pytest.mark.parametrize("args, expected", [
    (["--predictions", "p.txt", "model.keras"], "either MODEL DATA or --predictions"),
    ([], "expected MODEL DATA"),
    (["--predictions", "p.txt", "--compare", "nowhere.txt"], "nowhere.txt: predictions file"),
])
def test_bad_arguments_are_one_line_exit_2(tmp_path, monkeypatch, args, expected):
    monkeypatch.chdir(tmp_path)
    write_predictions(tmp_path / "p.txt", GOLD, PRED)
    (tmp_path / "model.keras").write_text("x")
    result = invoke("evaluate", *args)
    assert result.exit_code == 2 and expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_predictions_file_with_a_short_line_is_an_error(tmp_path):
    path = tmp_path / "p.txt"
    path.write_text("EU NNP B-NP B-ORG B-ORG\nrejects VBZ B-VP O O\nGerman B-MISC O\n",
                    encoding="utf-8")
    result = invoke("evaluate", "--predictions", path)
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"error: {path}:3: expected 5 columns like the lines "
                                     "before, found 3")
