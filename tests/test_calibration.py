"""One temperature for the scores (issue 36, item 3): fitted on the dev set's gold tag
sequences at the end of training, stored in model.keras, read back, refused when damaged;
it changes the scores, never the tags. The fit against a brute-force grid, the likelihood
against enumeration, and the calibration error of a calibrated case."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from seqlab.confidence import SequenceNLL, calibration, fit_temperature
from seqlab.decoding import transition_scores

LABELS = ["O", "B-A", "I-A", "E-A", "S-A"]  # iobes


def _sentences(rng, count, true_temperature, constrained=True):
    """Synthetic potentials of an IOBES model and gold sequences drawn from
    ``p(y) ∝ exp(score(y) / true_temperature)``, by enumeration."""
    k = len(LABELS)
    transitions, start, end = rng.normal(size=(k, k)), rng.normal(size=k), rng.normal(size=k)
    if constrained:
        forbid = transition_scores(LABELS, "iobes")
        transitions, start, end = transitions + forbid[0], start + forbid[1], end + forbid[2]
    emissions, gold = [], []
    for _ in range(count):
        length = int(rng.integers(1, 5))
        em = 3.0 * rng.normal(size=(length, k))
        seqs = list(itertools.product(range(k), repeat=length))
        scores = np.array([_score(em, y, transitions, start, end) for y in seqs])
        p = np.exp((scores - scores.max()) / true_temperature)
        emissions.append(em)
        gold.append(np.array(seqs[rng.choice(len(seqs), p=p / p.sum())]))
    return emissions, gold, transitions, start, end


def _score(em, y, transitions, start, end):
    return (start[y[0]] + sum(em[t, y[t]] for t in range(len(y)))
            + sum(transitions[y[t - 1], y[t]] for t in range(1, len(y))) + end[y[-1]])


def _brute_nll(emissions, gold, transitions, start, end, temperature):
    total = 0.0
    for em, y in zip(emissions, gold):
        seqs = itertools.product(range(len(start)), repeat=len(y))
        scores = np.array([_score(em, s, transitions, start, end) for s in seqs]) / temperature
        top = scores.max()
        total += top + np.log(np.exp(scores - top).sum()) \
            - _score(em, y, transitions, start, end) / temperature
    return total / len(gold)


def test_the_sequence_likelihood_matches_enumeration():
    rng = np.random.default_rng(3)
    data = _sentences(rng, 40, 1.0)
    nll = SequenceNLL(*data)
    assert nll.sentences == 40
    for temperature in (0.3, 1.0, 2.5):
        assert nll(temperature) == pytest.approx(_brute_nll(*data, temperature), rel=1e-10)


@pytest.mark.parametrize("true_temperature", [0.5, 2.0])
def test_the_fitted_temperature_is_the_minimum_of_a_brute_force_grid(true_temperature):
    rng = np.random.default_rng(11)
    nll = SequenceNLL(*_sentences(rng, 300, true_temperature))
    fitted = fit_temperature(nll)
    grid = np.exp(np.linspace(np.log(1 / 16), np.log(16), 4001))
    best = grid[int(np.argmin([nll(t) for t in grid]))]
    assert fitted == pytest.approx(best, rel=2e-3)
    assert nll(fitted) <= min(nll(best), nll(1.0)) + 1e-9
    # scores drawn at T0 = 0.5 are over-sharp... for the model: the fit finds about T0
    assert fitted == pytest.approx(true_temperature, rel=0.35)
    assert fit_temperature(nll) == fitted  # deterministic


def test_a_forbidden_or_unknown_gold_sequence_is_left_out():
    rng = np.random.default_rng(5)
    emissions, gold, transitions, start, end = _sentences(rng, 10, 1.0)
    bad = np.array([0, 2])  # O then I-A: IOBES forbids it
    nll = SequenceNLL(emissions + [emissions[0][:2]], gold + [bad], transitions, start, end)
    assert nll.sentences == 10
    nll = SequenceNLL(emissions + [emissions[0]], gold + [None], transitions, start, end)
    assert nll.sentences == 10
    assert SequenceNLL([], [], transitions, start, end).sentences == 0


def test_a_perfectly_calibrated_case_has_no_calibration_error():
    rng = np.random.default_rng(0)
    scores = rng.uniform(size=200_000)
    right = rng.uniform(size=scores.size) < scores  # right exactly as often as it says
    result = calibration(list(zip(scores.tolist(), right.tolist())))
    assert result["ece"] < 0.005
    assert len(result["bins"]) == 10 and sum(b["spans"] for b in result["bins"]) == scores.size
    overconfident = calibration([(min(1.0, p + 0.2), ok) for p, ok in zip(scores, right)])
    assert overconfident["ece"] > 0.15


# ------------------------------------------------------------------ a trained model
def test_training_fits_stores_and_records_the_temperature(trained, tmp_path):
    from seqlab.tagger import Tagger

    from conftest import DATA, invoke

    record = json.loads((trained / "run.json").read_text())["metrics"]["calibration"]
    tagger = Tagger.load(trained / "model.keras")
    assert tagger.temperature == record["temperature"] > 0
    dev = record["dev"]
    assert dev["nll_after"] <= dev["nll_before"] + 1e-9
    assert {"before", "after"} <= set(dev) and {"before", "after"} <= set(record["test"])
    assert json.loads((trained / "metrics.json").read_text())["calibration"] == record
    # Saved and read back as it was set.
    tagger.parts.set_temperature(2.5)
    tagger.model.save(tmp_path / "hot.keras")
    assert Tagger.load(tmp_path / "hot.keras").temperature == 2.5
    result = invoke("evaluate", tmp_path / "hot.keras", DATA / "test.txt", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["calibration"]["temperature"] == 2.5


def test_the_temperature_changes_the_scores_not_the_tags(trained):
    from seqlab.formats import Reading, read_corpus
    from seqlab.tagger import Tagger

    from conftest import DATA

    tagger = Tagger.load(trained / "model.keras")
    sentences = [s.tokens for s in read_corpus(DATA / "test.txt", Reading(format="conll"))]
    tags = tagger.tag(sentences)
    scores = {}
    for temperature in (0.25, 1.0, 4.0):
        analyses = tagger.analyse(sentences, nbest=2, temperature=temperature)
        assert tagger.tags_of([a.ids for a in analyses]) == tags
        assert all(a.nbest[0][0].tolist() == a.ids.tolist() for a in analyses if len(a.ids))
        scores[temperature] = [p for a in analyses for *_, p in a.spans]
    # Hotter: less sure of the spans it finds; colder: surer.
    assert np.mean(scores[4.0]) < np.mean(scores[1.0]) < np.mean(scores[0.25])


@pytest.mark.parametrize("value, shown", [(0.0, "0.0"), (-1.5, "-1.5"), ("1", "'1'"),
                                          (float("nan"), "nan"), (float("inf"), "inf")])
def test_a_damaged_temperature_is_refused_in_one_line(trained, tmp_path, value, shown):
    from test_model_hostile import CONFIG, edit, tags_config

    from conftest import DATA, invoke, one_line_error

    bad = edit(trained / "model.keras", tmp_path / "bad.keras", CONFIG,
               tags_config(lambda t: t.update(temperature=value)))
    one_line_error(invoke("evaluate", bad, DATA / "test.txt"), str(bad),
                   f"the stored temperature {shown} is not a positive number")


def test_a_model_saved_before_temperatures_scores_at_1(trained, tmp_path):
    from test_model_hostile import CONFIG, edit, stored_tags, tags_config

    from seqlab.tagger import Tagger

    older = edit(trained / "model.keras", tmp_path / "older.keras", CONFIG,
                 tags_config(lambda t: t.pop("temperature")))
    assert "temperature" not in stored_tags(older)
    assert Tagger.load(older).temperature == 1.0


def test_the_report_draws_the_reliability_diagram(trained, tmp_path):
    import shutil

    from conftest import invoke

    metrics = json.loads((trained / "metrics.json").read_text())
    dev = metrics["calibration"]["dev"]
    result = invoke("report", trained, "-o", tmp_path / "r.html")
    assert result.exit_code == 0, result.output
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    section = page[page.index('<h2 id="calibration">'):page.index('<h2 id="confusion">')]
    assert section.count("<svg") == 1
    table = section[section.index('<table class="reliability">'):section.index("</table>")]
    lows = {b["low"] for b in dev["before"]["bins"]} | {b["low"] for b in dev["after"]["bins"]}
    assert table.count("<tr>") == 1 + len(lows)  # the header and a row a score bin
    assert f"{dev['after']['ece']:.4f}" in section and f"{dev['before']['ece']:.4f}" in section
    # A run from before temperatures has no diagram, and no error.
    older = tmp_path / "older"
    shutil.copytree(trained, older, ignore=shutil.ignore_patterns("checkpoints", "report.html"))
    del metrics["calibration"]
    (older / "metrics.json").write_text(json.dumps(metrics))
    result = invoke("report", older)
    assert result.exit_code == 0, result.output
    assert 'id="calibration"' not in (older / "report.html").read_text(encoding="utf-8")


def test_probs_and_scores_come_from_one_forward_pass_at_the_temperature(trained, monkeypatch):
    import io

    from seqlab.formats import Reading
    from seqlab.predict import predict_file
    from seqlab.tagger import Tagger

    from conftest import DATA

    tagger = Tagger.load(trained / "model.keras")
    passes = []
    forward = tagger._predict
    monkeypatch.setattr(tagger, "_predict",
                        lambda *args: passes.append(args[2]) or forward(*args))
    out = io.StringIO()
    predict_file(tagger, DATA / "test.txt", out, "jsonl", Reading(format="conll"), probs=True)
    assert passes == ["output"]
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    # The network's own (float32) probability of each chosen tag at T = 1, within its error;
    # at the fitted temperature, those of the same distribution as the span scores.
    tokens = [r["tokens"] for r in rows]
    ids, chosen = forward(tokens, 64, True)
    tagger.parts.set_temperature(1.0)
    at_one = tagger.tag_with_probs(tokens)[1]
    for p, want in zip(at_one, chosen):
        np.testing.assert_allclose(p, want, atol=1e-5)
    # Hotter than the fitted temperature: less sure of each token.
    hot = tagger.analyse(tokens, temperature=3.0)
    assert [len(a.probs) for a in hot] == [len(r["probs"]) for r in rows]
    assert np.mean([p for a in hot for p in a.probs]) < \
        np.mean([p for r in rows for p in r["probs"]])


def test_a_fitted_temperature_that_worsens_the_dev_spans_is_not_kept(trained):
    from seqlab.confidence import describe_calibration, keeps_temperature

    def dev(before, after):
        return {"nll_before": 2.0, "nll_after": 1.5, "before": {"ece": before},
                "after": {"ece": after}}

    assert keeps_temperature(dev(0.06, 0.02)) and keeps_temperature(dev(0.05, 0.05))
    assert not keeps_temperature(dev(0.06, 0.09))
    assert keeps_temperature({"nll_before": 2.0, "nll_after": 1.5})  # plain tags: no spans
    line = describe_calibration({"temperature": 1.0, "fitted": 1.5434, "dev": dev(0.06, 0.09)})
    assert line.startswith("temperature 1 kept: the one fitted on dev, 1.5434")
    # what training recorded follows the same rule
    record = json.loads((trained / "run.json").read_text())["metrics"]["calibration"]
    kept = keeps_temperature(record["dev"])
    assert record["temperature"] == (record["fitted"] if kept else 1.0)
