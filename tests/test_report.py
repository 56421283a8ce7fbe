"""Tests of seqlab.render.tables: Rich tables and the error file."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from seqlab.errors import SeqlabError
from seqlab.metrics import compare, confusion_matrix, evaluate
from seqlab.render.tables import render_comparison, render_confusion, render_result, write_errors

TOKENS = [["John", "lives", "in", "New", "York", "."], ["Acme", "Corp", "hired", "Ann"]]
GOLD = [["B-PER", "O", "O", "B-LOC", "I-LOC", "O"], ["B-ORG", "I-ORG", "O", "B-PER"]]
PRED = [["B-PER", "O", "O", "I-LOC", "I-LOC", "O"], ["B-ORG", "I-PER", "O", "I-PER"]]


def _text(renderable, width=140) -> str:
    console = Console(record=True, width=width, color_system=None, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def test_render_chunk_result():
    out = _text(render_result(evaluate(GOLD, PRED), title="test.txt"))
    assert "test.txt" in out
    for word in ("LOC", "ORG", "PER", "overall", "precision", "recall", "F1"):
        assert word in out
    assert "66.67" in out  # overall F1 and PER precision
    assert "60.00" in out and "75.00" in out  # overall precision and recall
    assert "accuracy 70.00%" in out and "10 tokens" in out
    per_line = next(line for line in out.splitlines() if line.strip().startswith("PER"))
    assert per_line.split()[1:] == ["66.67", "100.00", "80.00", "2", "3", "2"]


def test_render_tag_result():
    gold = [["DT", "NN", "VBZ"], ["NN", "."]]
    pred = [["DT", "VB", "VBZ"], ["NN", "NN"]]
    out = _text(render_result(evaluate(gold, pred)))
    assert "macro avg" in out and "support" in out and "accuracy 60.00%" in out
    nn = next(line for line in out.splitlines() if line.strip().startswith("NN"))
    assert nn.split()[1:] == ["50.00", "50.00", "50.00", "2"]


def test_render_confusion():
    labels, matrix = confusion_matrix(GOLD, PRED)
    out = _text(render_confusion(labels, matrix))
    assert "rows gold, columns predicted" in out
    header = next(line for line in out.splitlines() if "gold \\ pred" in line)
    assert header.split()[3:] == labels
    row = next(line for line in out.splitlines() if line.strip().startswith("B-LOC"))
    # gold B-LOC was predicted I-LOC once
    assert row.split()[1:] == [str(n) for n in matrix[labels.index("B-LOC")]]
    assert matrix[labels.index("B-LOC")][labels.index("I-LOC")] == 1


def test_render_comparison():
    c = compare(GOLD, GOLD, PRED, rounds=200, seed=0)
    out = _text(render_comparison(c, names=("gold-copy", "system")))
    assert "gold-copy" in out and "system" in out
    assert "approximate randomisation p = " in out and "200 rounds, seed 0" in out
    assert f"{c['difference']:+.2f}" in out


def test_write_errors_text(tmp_path):
    path = tmp_path / "errors.txt"
    n = write_errors(path, TOKENS, GOLD, PRED)
    # sentence 1 is right; sentence 2: gold ORG 0-2 missed; ORG 0-1 and PER 1-2 spurious
    assert n == 3
    text = path.read_text(encoding="utf-8")
    assert "John" not in text  # sentences without a wrong span are not written
    assert text.startswith("# sentence 2: 3 wrong spans\nAcme Corp hired Ann\n")
    assert "gold: [ORG Acme Corp] [PER Ann]\n" in text
    assert "pred: [ORG Acme] [PER Corp] [PER Ann]\n" in text
    assert "missed   [ORG Acme Corp] tokens 0-1" in text
    assert "spurious [ORG Acme] tokens 0-0" in text
    assert "spurious [PER Corp] tokens 1-1" in text


def test_write_errors_jsonl(tmp_path):
    path = tmp_path / "errors.jsonl"
    assert write_errors(path, TOKENS, GOLD, PRED) == 3
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 1
    r = records[0]
    assert r["sentence"] == 2 and r["tokens"] == TOKENS[1]
    assert r["gold_spans"] == [["ORG", 0, 2, "Acme Corp"], ["PER", 3, 4, "Ann"]]
    assert r["missed"] == [["ORG", 0, 2, "Acme Corp"]]
    assert r["spurious"] == [["ORG", 0, 1, "Acme"], ["PER", 1, 2, "Corp"]]


def test_error_file_spans_are_the_prediction_files_spans(tmp_path):
    """Both files write the one span of seqlab.schemes: the error file as rows, a prediction
    file (JSON lines) as objects; the same type, offsets and text."""
    from seqlab.formats.jsonl import write_jsonl
    from seqlab.formats.record import Record

    write_errors(tmp_path / "errors.jsonl", TOKENS, GOLD, PRED)
    error = json.loads((tmp_path / "errors.jsonl").read_text(encoding="utf-8"))
    for tags, key in ((GOLD[1], "gold_spans"), (PRED[1], "pred_spans")):
        out = io.StringIO()
        write_jsonl(out, Record(tokens=TOKENS[1], tags=tags))
        predicted = json.loads(out.getvalue())["spans"]
        assert [[s["type"], s["start"], s["end"], s["text"]] for s in predicted] == error[key]


def test_write_errors_counts_every_wrong_span():
    # a wrong span in every sentence: the count adds missed and spurious spans
    import tempfile

    gold = [["B-PER", "O"], ["O", "B-LOC"], ["B-ORG", "I-ORG"]]
    pred = [["O", "O"], ["B-LOC", "O"], ["B-ORG", "I-ORG"]]
    tokens = [["a", "b"], ["c", "d"], ["e", "f"]]
    with tempfile.TemporaryDirectory() as d:
        assert write_errors(f"{d}/e.txt", tokens, gold, pred) == 1 + 2
        assert write_errors(f"{d}/ok.txt", tokens, gold, gold) == 0


def test_write_errors_plain_tags(tmp_path):
    path = tmp_path / "pos.txt"
    n = write_errors(path, [["the", "dog"]], [["DT", "NN"]], [["DT", "VB"]])
    assert n == 1
    assert "1: dog  gold NN  pred VB" in path.read_text(encoding="utf-8")


def test_write_errors_user_errors(tmp_path):
    with pytest.raises(SeqlabError, match="sentence 1"):
        write_errors(tmp_path / "e.txt", [["a"]], [["O", "O"]], [["O", "O"]])
    with pytest.raises(SeqlabError, match="cannot write"):
        write_errors(tmp_path / "missing" / "e.txt", TOKENS, GOLD, PRED)
