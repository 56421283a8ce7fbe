"""`seqlab select`: the sentences a model is least sure of, ranked by an independent
recomputation of each score, the same choice every time, and bad input in one line."""

from __future__ import annotations

import json
import math

import pytest

from conftest import DATA, invoke, one_line_error


def _pool_sentences(path):
    blocks = path.read_text(encoding="utf-8").strip().split("\n\n")
    return [[line.split()[0] for line in b.splitlines() if not line.startswith("-DOCSTART-")]
            for b in blocks]


@pytest.mark.parametrize("strategy", ["least_confident", "margin"])
def test_select_chooses_the_least_sure_and_says_why(trained, tmp_path, strategy):
    from seqlab.tagger import Tagger

    out = tmp_path / "next.conll"
    result = invoke("select", trained / "model.keras", DATA / "test.txt", "-i", "conll",
                    "--n", 5, "--strategy", strategy, "-o", out)
    assert result.exit_code == 0, result.output
    assert "ranked" in result.stderr and str(out) in result.stderr
    scores = json.loads((tmp_path / "next.scores.json").read_text(encoding="utf-8"))
    chosen = scores["chosen"]
    assert len(chosen) == 5 and scores["strategy"] == strategy
    # The oracle: every sentence of the pool scored again from its best and second readings.
    sentences = [s for s in _pool_sentences(DATA / "test.txt") if s]
    assert scores["ranked"] == len(sentences)
    analyses = Tagger.load(trained / "model.keras").analyse(sentences, nbest=2)
    want = []
    for i, (tokens, a) in enumerate(zip(sentences, analyses)):
        second = a.nbest[1][1] if len(a.nbest) > 1 else 0.0
        score = (1 - (a.best - second) if strategy == "margin"
                 else -math.log(a.best) / len(tokens))
        want.append((-score, i))
    want.sort()
    assert [c["index"] for c in chosen] == [i for _, i in want[:5]]
    for c, (neg, _) in zip(chosen, want):
        assert c["score"] == pytest.approx(-neg, abs=1e-5)
    # Written most uncertain first, the pool's columns kept and the model's tags appended.
    written = [b.splitlines() for b in out.read_text(encoding="utf-8").strip().split("\n\n")]
    assert [[line.split()[0] for line in b] for b in written] == \
        [sentences[c["index"]] for c in chosen]
    assert all(len(line.split()) == 5 for b in written for line in b)
    # Deterministic: the same model and pool choose the same, to the byte.
    again = tmp_path / "again.conll"
    assert invoke("select", trained / "model.keras", DATA / "test.txt", "-i", "conll",
                  "--n", 5, "--strategy", strategy, "-o", again).exit_code == 0
    assert again.read_bytes() == out.read_bytes()


@pytest.mark.parametrize("args, expected", [
    (["--n", "0"], "--n 0: expected at least 1"),
    (["--strategy", "random"], "--strategy 'random': expected one of"),
    (["-f", "html"], "--format 'html': expected one of conll, jsonl"),
])
def test_bad_selection_options_are_one_line(trained, args, expected):
    one_line_error(invoke("select", trained / "model.keras", DATA / "test.txt", *args),
                   expected)


def test_an_empty_pool_is_one_line(trained, tmp_path):
    pool = tmp_path / "empty.txt"
    pool.write_text("\n\n", encoding="utf-8")
    one_line_error(invoke("select", trained / "model.keras", pool), "holds no sentence")
