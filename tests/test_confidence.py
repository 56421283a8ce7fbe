"""Span probabilities, marginals and n-best lists against brute force: every tag sequence of
short sentences enumerated, its probability worked out directly, its chunks read by
get_chunks."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from seqlab.confidence import Lattice, nbest, span_probabilities
from seqlab.decoding import transition_scores
from seqlab.schemes import get_chunks

LABELS = {
    "iob2": ["O", "B-A", "I-A", "B-B", "I-B"],
    "iob1": ["O", "I-A", "B-A", "I-B"],
    "iobes": ["O", "B-A", "I-A", "E-A", "S-A", "S-B"],
    "bilou": ["O", "B-A", "L-A", "U-A", "U-B"],
}


def _potentials(rng, scheme, k, constrained):
    transitions = rng.normal(size=(k, k))
    start, end = rng.normal(size=k), rng.normal(size=k)
    if constrained:
        forbid_t, forbid_s, forbid_e = transition_scores(LABELS[scheme], scheme)
        transitions = transitions + forbid_t
        start, end = start + forbid_s, end + forbid_e
    return transitions, start, end


def _brute(emissions, transitions, start, end, labels):
    """Every sequence with its probability, and each chunk's summed probability."""
    length, k = emissions.shape
    seqs = list(itertools.product(range(k), repeat=length))
    scores = np.array([start[y[0]] + sum(emissions[t, y[t]] for t in range(length))
                       + sum(transitions[y[t - 1], y[t]] for t in range(1, length))
                       + end[y[-1]] for y in seqs])
    probs = np.exp(scores - scores.max())
    probs /= probs.sum()
    chunks: dict = {}
    marginals = np.zeros((length, k))
    for y, p in zip(seqs, probs):
        for chunk in get_chunks([labels[i] for i in y]):
            chunks[chunk] = chunks.get(chunk, 0.0) + p
        marginals[np.arange(length), list(y)] += p
    return seqs, probs, chunks, marginals


@pytest.mark.parametrize("scheme", sorted(LABELS))
@pytest.mark.parametrize("constrained", [True, False])
def test_span_probabilities_marginals_and_nbest_match_brute_force(scheme, constrained):
    rng = np.random.default_rng(len(scheme) + 10 * constrained)
    labels = LABELS[scheme]
    k = len(labels)
    transitions, start, end = _potentials(rng, scheme, k, constrained)
    lengths = [1, 2, 3, 4]
    emissions = rng.normal(size=(len(lengths), max(lengths), k)) * 2
    lattice = Lattice(emissions, lengths, transitions, start, end)
    marginals = lattice.marginals()
    for row, length in enumerate(lengths):
        seqs, probs, chunks, want = _brute(emissions[row, :length], transitions, start, end,
                                           labels)
        np.testing.assert_allclose(marginals[row, :length], want, atol=1e-9)
        assert not marginals[row, length:].any()
        spans = [(row, kind, s, e) for (kind, s, e) in chunks]
        got = span_probabilities(lattice, spans, labels)
        np.testing.assert_allclose(got, [chunks[c] for c in chunks], atol=1e-9)
        # A span no sequence holds has probability 0.
        assert span_probabilities(lattice, [(row, "Z", 0, length)], labels)[0] == 0.0
        order = np.argsort(-probs, kind="stable")
        listed = nbest(lattice, row, 6)
        assert [p for _, p in listed] == sorted((p for _, p in listed), reverse=True)
        np.testing.assert_allclose([p for _, p in listed],
                                   probs[order][:len(listed)], rtol=1e-9)
        for path, p in listed:
            np.testing.assert_allclose(p, probs[seqs.index(tuple(path))], rtol=1e-9)


def test_nbest_covering_every_allowed_sequence_sums_to_one():
    rng = np.random.default_rng(3)
    labels = LABELS["iob2"]
    transitions, start, end = _potentials(rng, "iob2", len(labels), True)
    lattice = Lattice(rng.normal(size=(1, 3, len(labels))), [3], transitions, start, end)
    listed = nbest(lattice, 0, 10_000)
    # IOB2 over O, B-A, I-A, B-B, I-B: sequences of 3 tags with I-X only after B-X or I-X.
    allowed = [y for y in itertools.product(labels, repeat=3)
               if all(not t.startswith("I-") or (i and y[i - 1][2:] == t[2:]
                                                 and y[i - 1] != "O")
                      for i, t in enumerate(y))]
    assert len(listed) == len(allowed)
    assert sum(p for _, p in listed) == pytest.approx(1.0, abs=1e-9)
    assert len({tuple(path) for path, _ in listed}) == len(listed)


def test_a_batch_gives_what_each_sentence_gives_alone():
    rng = np.random.default_rng(5)
    labels = LABELS["iobes"]
    transitions, start, end = _potentials(rng, "iobes", len(labels), True)
    emissions = rng.normal(size=(3, 6, len(labels)))
    lengths = [6, 2, 4]
    batch = Lattice(emissions, lengths, transitions, start, end)
    for row, length in enumerate(lengths):
        alone = Lattice(emissions[row:row + 1, :length], [length], transitions, start, end)
        np.testing.assert_allclose(batch.log_z[row], alone.log_z[0])
        spans = [(0, "A", 0, 2), (0, "B", length - 1, length)]
        np.testing.assert_allclose(
            span_probabilities(batch, [(row, t, s, e) for _, t, s, e in spans], labels),
            span_probabilities(alone, spans, labels))


class _CRF:
    def __init__(self, transitions, start, end):
        self.weights = transitions, start, end

    def potentials(self, constrained=True):
        return self.weights


def _parts(rng, scheme, output, temperature):
    """What :func:`seqlab.confidence.analyse` reads of a model: a CRF's potentials, or a
    softmax model decoded under the scheme's constraints."""
    from types import SimpleNamespace

    labels = LABELS[scheme]
    crf = _CRF(*_potentials(rng, scheme, len(labels), True)) if output == "crf" else None
    return SimpleNamespace(labels=labels, crf=crf, decoding="constrained", scheme=scheme,
                           temperature=temperature)


@pytest.mark.parametrize("output", ["crf", "softmax"])
@pytest.mark.parametrize("temperature", [1.0, 1.7])
@pytest.mark.parametrize("grouping", [{}, {"batch": 2, "tokens": 5}])
def test_analyse_of_a_ragged_batch_matches_enumeration_and_each_sentence_alone(
        output, temperature, grouping):
    """``analyse`` computes a batch at once (sorted by length, packed, chunks and span
    probabilities vectorised, in groups that ``grouping`` makes small here): each sentence's
    spans, best-path probability, expected errors, token probabilities and n-best list
    against brute force over every tag sequence, and against the sentence analysed alone."""
    from seqlab.confidence import analyse, model_potentials

    scheme = "iobes"
    rng = np.random.default_rng(11 + (output == "crf") + 2 * (temperature != 1.0))
    parts = _parts(rng, scheme, output, temperature)
    labels, k = parts.labels, len(parts.labels)
    lengths = [3, 1, 0, 5, 2, 1, 4]
    outputs = [rng.normal(size=(n, k)) * 2 for n in lengths]
    if output == "softmax":  # the network's probabilities, float32 as it gives them
        outputs = [(np.exp(o) / np.exp(o).sum(axis=1, keepdims=True)).astype(np.float32)
                   for o in outputs]
    transitions, start, end, to_log = model_potentials(parts)
    oracles = [_brute(to_log(o), transitions, start, end, labels) if len(o) else None
               for o in outputs]
    # Each sentence's most probable sequence, but one: random tags, a sequence the
    # constraints may forbid (its chunks still get their probabilities).
    ids = [np.array(oracle[0][int(np.argmax(oracle[1]))]) if oracle else np.zeros(0, int)
           for oracle in oracles]
    ids[3] = rng.integers(0, k, size=lengths[3])
    found = analyse(ids, outputs, parts, n_best=3, **grouping)
    assert sum(len(a.spans) for a in found) >= 5
    for i, (a, oracle) in enumerate(zip(found, oracles)):
        assert a.ids is ids[i]
        if oracle is None:
            assert (a.spans, a.best, a.errors, len(a.probs)) == ([], 1.0, 0.0, 0)
            assert [(len(p), q) for p, q in a.nbest] == [(0, 1.0)]
            continue
        seqs, probs, chunks, marginals = oracle
        assert [s[:3] for s in a.spans] == get_chunks([labels[t] for t in ids[i]])
        np.testing.assert_allclose([s[3] for s in a.spans],
                                   [chunks.get(s[:3], 0.0) for s in a.spans], atol=1e-9)
        assert a.best == pytest.approx(probs[seqs.index(tuple(ids[i]))], abs=1e-9)
        chosen = marginals[np.arange(len(ids[i])), ids[i]]
        assert a.errors == pytest.approx(float(np.sum(1.0 - chosen)), abs=1e-9)
        if output == "crf":
            want = chosen
        else:  # the network's own probability, at the temperature
            scaled = outputs[i].astype(np.float64) ** (1.0 / temperature)
            want = (scaled / scaled.sum(axis=1, keepdims=True))[np.arange(len(ids[i])), ids[i]]
        np.testing.assert_allclose(a.probs, want, rtol=1e-6 if output == "softmax" else 1e-9,
                                   atol=1e-12)
        top = np.sort(probs)[::-1][:3]
        np.testing.assert_allclose([p for _, p in a.nbest], top[top > 0], rtol=1e-9)
        alone = analyse([ids[i]], [outputs[i]], parts, n_best=3)[0]
        assert [s[:3] for s in alone.spans] == [s[:3] for s in a.spans]
        np.testing.assert_allclose([s[3] for s in alone.spans], [s[3] for s in a.spans],
                                   rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(alone.probs, a.probs, rtol=1e-12)
        assert (alone.best, alone.errors) == (pytest.approx(a.best, rel=1e-12),
                                              pytest.approx(a.errors, rel=1e-12, abs=1e-15))


def test_a_padded_and_a_packed_lattice_agree():
    rng = np.random.default_rng(13)
    labels = LABELS["bilou"]
    potentials = _potentials(rng, "bilou", len(labels), True)
    lengths = [2, 0, 5, 1, 3]
    padded = rng.normal(size=(len(lengths), 6, len(labels)))
    flat = np.concatenate([padded[r, :n] for r, n in enumerate(lengths)])
    a, b = Lattice(padded, lengths, *potentials), Lattice(flat, lengths, *potentials)
    np.testing.assert_array_equal(a.log_z, b.log_z)
    np.testing.assert_array_equal(a.marginals(), b.marginals())
    for row, n in enumerate(lengths):
        np.testing.assert_array_equal(a.sentence(row), padded[row, :n])


def _model_oracle(tagger, sentence):
    """A trained model's sentence, enumerated: (sequences, probabilities, chunk sums)."""
    from seqlab.confidence import model_potentials

    transitions, start, end, to_log = model_potentials(tagger.parts)
    _, outputs = tagger.predict_ids([sentence], probs="output")
    labels = [str(label) for label in tagger.labels]
    return _brute(to_log(outputs[0]), transitions, start, end, labels)


@pytest.mark.slow
@pytest.mark.parametrize("output", ["crf", "softmax"])
def test_a_trained_models_spans_and_nbest_match_enumeration(trained, tmp_path, output):
    from seqlab.tagger import Tagger

    from conftest import invoke

    run = tmp_path / output
    result = invoke("train", trained / "config.yaml", "--output", run,
                    "--set", f"model.output={output}", "--set", "training.epochs=2")
    assert result.exit_code == 0, result.output
    tagger = Tagger.load(run / "model.keras")
    assert (tagger.crf is not None) == (output == "crf")
    sentences = [["Peter", "Blackburn", "visited"], ["EU", "rejects", "German"], ["Bonn"],
                 []]
    analyses = tagger.analyse(sentences, nbest=4)
    assert [tagger.to_tags(a.ids) for a in analyses] == tagger.tag(sentences)
    assert analyses[-1].spans == [] and analyses[-1].best == 1.0
    for sentence, analysis in zip(sentences[:-1], analyses):
        seqs, probs, chunks, _ = _model_oracle(tagger, sentence)
        for kind, s, e, p in analysis.spans:
            assert p == pytest.approx(chunks[(kind, s, e)], abs=1e-6)
        assert analysis.best == pytest.approx(probs[seqs.index(tuple(analysis.ids))],
                                              abs=1e-6)
        want = np.sort(probs)[::-1][:4]
        np.testing.assert_allclose([p for _, p in analysis.nbest], want[want > 0],
                                   atol=1e-6)
        assert tuple(analysis.nbest[0][0]) == tuple(analysis.ids)


def test_an_empty_sentence_in_a_batch_has_its_one_empty_sequence():
    rng = np.random.default_rng(7)
    k = len(LABELS["iob2"])
    lattice = Lattice(rng.normal(size=(2, 3, k)), [3, 0], *_potentials(rng, "iob2", k, True))
    assert lattice.log_z[1] == 0.0
    assert nbest(lattice, 1, 3) == [(pytest.approx(np.zeros(0)), 1.0)]
    assert not lattice.marginals()[1].any()


# ------------------------------------------------------------------ through `seqlab predict`
def _jsonl(result):
    import json

    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_predict_gives_each_span_its_score_nbest_and_min_score(trained, tmp_path):
    from seqlab.tagger import Tagger

    from conftest import invoke

    text = tmp_path / "in.txt"
    text.write_text("Peter Blackburn visited Bonn .\nEU rejects German call to boycott British "
                    "lamb .\n", encoding="utf-8")
    model = trained / "model.keras"
    rows = _jsonl(invoke("predict", model, text, "-f", "jsonl", "--nbest", "3"))
    analyses = Tagger.load(model).analyse([r["tokens"] for r in rows], nbest=3)
    scores = []
    for row, analysis in zip(rows, analyses):
        assert [(s["type"], s["start"], s["end"]) for s in row["spans"]] == \
            [a[:3] for a in analysis.spans]
        for s, a in zip(row["spans"], analysis.spans):
            assert s["score"] == pytest.approx(a[3], abs=1e-6)
            assert 0.0 < s["score"] <= 1.0
            scores.append(s["score"])
        probs = [n["prob"] for n in row["nbest"]]
        assert probs == sorted(probs, reverse=True) and sum(probs) <= 1.0 + 1e-6
        assert row["nbest"][0]["tags"] == row["tags"]
    # --min-score: the spans below it are gone, and their tokens tagged O.
    ranked = sorted(scores)
    floor = (ranked[len(ranked) // 2 - 1] + ranked[len(ranked) // 2]) / 2
    kept = _jsonl(invoke("predict", model, text, "-f", "jsonl", "--min-score", floor))
    for row, full in zip(kept, rows):
        assert row["spans"] == [s for s in full["spans"] if s["score"] >= floor]
        for s in full["spans"]:
            if s["score"] < floor:
                assert row["tags"][s["start"]:s["end"]] == ["O"] * (s["end"] - s["start"])
    page = invoke("predict", model, text, "-f", "html")
    assert page.exit_code == 0 and page.stdout.count("data-score=") == len(scores)


@pytest.mark.parametrize("args, expected", [
    (["--nbest", "0"], "--nbest 0: expected"),
    (["--min-score", "2"], "--min-score 2.0: expected a probability"),
    (["--nbest", "2", "-f", "conll"], "--nbest needs --format jsonl"),
])
def test_bad_scoring_options_are_one_line(trained, tmp_path, args, expected):
    from conftest import invoke, one_line_error

    text = tmp_path / "in.txt"
    text.write_text("Peter visited Bonn .\n", encoding="utf-8")
    one_line_error(invoke("predict", trained / "model.keras", text, *args), expected)


def test_calibration_error_worked_by_hand():
    from seqlab.confidence import calibration

    # Bins of width 0.1: [0.9, 1.0] holds two spans (mean score 0.95, one right), [0.1, 0.2)
    # one wrong at 0.15, [0.5, 0.6) one right at 0.55:
    # ECE = 2/4 * |0.5 - 0.95| + 1/4 * |0 - 0.15| + 1/4 * |1 - 0.55| = 0.225 + 0.0375 + 0.1125.
    result = calibration([(0.95, True), (0.95, False), (0.15, False), (0.55, True)])
    assert result["ece"] == pytest.approx(0.375)
    assert [(b["low"], b["spans"]) for b in result["bins"]] == [(0.1, 1), (0.5, 1), (0.9, 2)]
    assert result["accuracy"] == 0.5 and result["confidence"] == pytest.approx(0.65)
    assert calibration([(1.0, True)])["ece"] == 0.0


def test_evaluate_reports_the_calibration_of_its_span_scores(trained):
    import json

    from seqlab.confidence import calibration
    from seqlab.formats import Reading, read_corpus
    from seqlab.schemes import get_chunks
    from seqlab.tagger import Tagger

    from conftest import DATA, invoke

    result = invoke("evaluate", trained / "model.keras", DATA / "test.txt", "--json")
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)["calibration"]
    sentences = read_corpus(DATA / "test.txt", Reading(format="conll"))
    tagger = Tagger.load(trained / "model.keras")
    assert got["temperature"] == tagger.temperature  # fitted on dev at the end of training
    for key, temperature in (("calibrated", None), ("uncalibrated", 1.0)):
        analyses = tagger.analyse([s.tokens for s in sentences], temperature=temperature)
        want = calibration([(p, (k, s, e) in set(get_chunks(sent.labels)))
                            for sent, a in zip(sentences, analyses) for k, s, e, p in a.spans])
        found = got["uncalibrated"] if key == "uncalibrated" else \
            {k: v for k, v in got.items() if k not in ("temperature", "uncalibrated")}
        assert found == want and found["spans"] == sum(len(a.spans) for a in analyses)
        assert 0.0 <= found["ece"] <= 1.0
