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


@pytest.fixture(scope="module")
def crf_model(trained, tmp_path_factory):
    """A CRF model: its layer's own forward-backward marginals are an oracle independent of
    seqlab.confidence's."""
    run = tmp_path_factory.mktemp("crf") / "run"
    result = invoke("train", trained / "config.yaml", "--output", run,
                    "--set", "model.output=crf", "--set", "training.epochs=2")
    assert result.exit_code == 0, result.output
    return run


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["expected_errors", "least_confident", "margin"])
def test_select_chooses_the_least_sure_and_says_why(crf_model, tmp_path, strategy):
    from seqlab.tagger import Tagger

    trained = crf_model
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
    tagger = Tagger.load(trained / "model.keras")
    analyses = tagger.analyse(sentences, nbest=2)
    # expected_errors from the CRF layer's own marginals (Keras, float32), not the lattice's.
    assert tagger.crf is not None
    _, marginals = tagger.tag_with_probs(sentences)
    want = []
    for i, (tokens, a, probs) in enumerate(zip(sentences, analyses, marginals)):
        second = a.nbest[1][1] if len(a.nbest) > 1 else 0.0
        score = {"margin": 1 - (a.best - second),
                 "least_confident": -math.log(a.best) / len(tokens),
                 "expected_errors": sum(1 - p for p in probs)}[strategy]
        want.append((-score, i))
    want.sort()
    assert [c["index"] for c in chosen] == [i for _, i in want[:5]]
    for c, (neg, _) in zip(chosen, want):
        assert c["score"] == pytest.approx(-neg, rel=1e-3, abs=1e-4)  # float32 marginals
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
