"""Tests of seqlab.metrics: conlleval-exact chunk scores, plain-tag scores, files, significance.

Oracles: hand-worked cases (IOB1, IOB2 with invalid transitions, IOBES, BILOU), seqeval's
default (conlleval-like) mode on random IOB2/IOBES sequences, and a line-by-line Python port of
conlleval.pl's token-stream state machine (``_conlleval_port`` below) on random IOB1/IOB2 files.
If the environment variable CONLLEVAL names a copy of conlleval.pl (and perl is installed), the
real script is run on random files too.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqlab.errors import SeqlabError
from seqlab.metrics import (
    compare,
    confusion_matrix,
    conlleval_text,
    evaluate,
    headline_metric,
    read_predictions,
    sentence_chunk_errors,
)
from seqlab.schemes import is_chunk_task

# ------------------------------------------------------------------------------------------
# hand-worked cases


def test_iob2_with_invalid_transitions_worked_by_hand():
    gold = [
        ["B-PER", "O", "O", "B-LOC", "I-LOC", "O"],
        ["B-ORG", "I-ORG", "O", "B-PER"],
    ]
    pred = [
        ["B-PER", "O", "O", "I-LOC", "I-LOC", "O"],  # O I-LOC starts a chunk: LOC 3-5 is right
        ["B-ORG", "I-PER", "O", "I-PER"],  # ORG 0-1, PER 1-2 (type change), PER 3-4 (after O)
    ]
    # gold chunks: PER 0-1, LOC 3-5 | ORG 0-2, PER 3-4                     -> 4
    # predicted:   PER 0-1, LOC 3-5 | ORG 0-1, PER 1-2, PER 3-4            -> 5
    # correct:     PER 0-1, LOC 3-5 | PER 3-4                              -> 3
    # tokens 10, correct tags 5 + 2 = 7
    r = evaluate(gold, pred)
    assert r["task"] == "chunk"
    assert (r["tokens"], r["sentences"]) == (10, 2)
    assert (r["gold_chunks"], r["predicted_chunks"], r["correct_chunks"]) == (4, 5, 3)
    assert r["accuracy"] == pytest.approx(70.0)
    assert r["precision"] == pytest.approx(60.0)
    assert r["recall"] == pytest.approx(75.0)
    assert r["f1"] == pytest.approx(2 * 60 * 75 / 135)
    assert list(r["per_type"]) == ["LOC", "ORG", "PER"]
    assert r["per_type"]["LOC"] == {
        "precision": 100.0, "recall": 100.0, "f1": 100.0, "gold": 1, "predicted": 1, "correct": 1}
    assert r["per_type"]["ORG"] == {
        "precision": 0.0, "recall": 0.0, "f1": 0.0, "gold": 1, "predicted": 1, "correct": 0}
    per = r["per_type"]["PER"]
    assert (per["gold"], per["predicted"], per["correct"]) == (2, 3, 2)
    assert per["precision"] == pytest.approx(200 / 3)
    assert per["recall"] == 100.0
    assert per["f1"] == pytest.approx(80.0)
    # conlleval prints exactly this for the same file
    assert conlleval_text(r) == (
        "processed 10 tokens with 4 phrases; found: 5 phrases; correct: 3.\n"
        "accuracy:  70.00%; precision:  60.00%; recall:  75.00%; FB1:  66.67\n"
        "              LOC: precision: 100.00%; recall: 100.00%; FB1: 100.00  1\n"
        "              ORG: precision:   0.00%; recall:   0.00%; FB1:   0.00  1\n"
        "              PER: precision:  66.67%; recall: 100.00%; FB1:  80.00  3\n"
    )


def test_iob1_worked_by_hand():
    # IOB1: I- opens a chunk; B- only separates two adjacent chunks of the same type.
    gold = [["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-ORG"]]
    pred = [["I-PER", "I-PER", "I-PER", "O", "B-LOC", "I-ORG"]]
    # gold chunks: PER 0-2, PER 2-3, LOC 4-5, ORG 5-6 (type change opens a chunk)
    # predicted:   PER 0-3, LOC 4-5, ORG 5-6
    # correct:     LOC 4-5, ORG 5-6; tags right at 0, 1, 3, 5 -> 4 of 6
    r = evaluate(gold, pred)
    assert (r["gold_chunks"], r["predicted_chunks"], r["correct_chunks"]) == (4, 3, 2)
    assert r["accuracy"] == pytest.approx(400 / 6)
    assert r["precision"] == pytest.approx(200 / 3)
    assert r["recall"] == pytest.approx(50.0)
    assert r["f1"] == pytest.approx(2 * (200 / 3) * 50 / (200 / 3 + 50))  # 57.142857...
    assert r["per_type"]["PER"]["gold"] == 2 and r["per_type"]["PER"]["correct"] == 0
    assert conlleval_text(r) == (
        "processed 6 tokens with 4 phrases; found: 3 phrases; correct: 2.\n"
        "accuracy:  66.67%; precision:  66.67%; recall:  50.00%; FB1:  57.14\n"
        "              LOC: precision: 100.00%; recall: 100.00%; FB1: 100.00  1\n"
        "              ORG: precision: 100.00%; recall: 100.00%; FB1: 100.00  1\n"
        "              PER: precision:   0.00%; recall:   0.00%; FB1:   0.00  1\n"
    )


def test_long_chunks():
    gold = [["B-ORG", "I-ORG", "I-ORG", "I-ORG", "O", "B-ORG", "I-ORG", "I-ORG"]]
    pred = [["B-ORG", "I-ORG", "I-ORG", "I-ORG", "O", "B-ORG", "I-ORG", "O"]]
    r = evaluate(gold, pred)
    # ORG 0-4 right; gold ORG 5-8 against predicted ORG 5-7: wrong end
    assert (r["gold_chunks"], r["predicted_chunks"], r["correct_chunks"]) == (2, 2, 1)
    assert r["f1"] == 50.0


def test_sentence_boundary_ends_chunks():
    # I-PER at the start of a sentence opens a new chunk: chunks never cross a boundary.
    gold = [["O", "B-PER"], ["I-PER", "O"]]
    pred = [["O", "B-PER"], ["B-PER", "O"]]
    r = evaluate(gold, pred)
    assert (r["gold_chunks"], r["predicted_chunks"], r["correct_chunks"]) == (2, 2, 2)
    assert r["f1"] == 100.0
    assert r["accuracy"] == 75.0


IOBES_GOLD = [["S-PER", "S-PER", "B-LOC", "E-LOC", "O"], ["B-ORG", "E-ORG", "B-ORG", "E-ORG"]]
IOBES_PRED = [["S-PER", "B-PER", "E-PER", "B-LOC", "I-LOC"], ["B-ORG", "I-ORG", "I-ORG", "E-ORG"]]


def _check_iobes_numbers(r):
    # gold chunks:  PER 0-1, PER 1-2, LOC 2-4 | ORG 0-2, ORG 2-4            -> 5
    #   (S- closes a chunk, so S-PER S-PER is two chunks; E-ORG B-ORG is two chunks)
    # predicted:    PER 0-1, PER 1-3, LOC 3-5 | ORG 0-4                     -> 4
    #   (the unfinished B-LOC I-LOC is closed by the end of the sentence)
    # correct:      PER 0-1                                                 -> 1
    # tags right: S-PER, B-ORG, E-ORG -> 3 of 9
    assert (r["gold_chunks"], r["predicted_chunks"], r["correct_chunks"]) == (5, 4, 1)
    assert r["precision"] == pytest.approx(25.0)
    assert r["recall"] == pytest.approx(20.0)
    assert r["f1"] == pytest.approx(2 * 25 * 20 / 45)
    assert r["accuracy"] == pytest.approx(100 / 3)
    assert r["per_type"]["PER"] == {
        "precision": 50.0, "recall": 50.0, "f1": 50.0, "gold": 2, "predicted": 2, "correct": 1}
    assert r["per_type"]["ORG"]["gold"] == 2 and r["per_type"]["ORG"]["predicted"] == 1
    assert r["per_type"]["LOC"]["correct"] == 0


def test_iobes_worked_by_hand():
    _check_iobes_numbers(evaluate(IOBES_GOLD, IOBES_PRED))


def test_bilou_worked_by_hand():
    # BILOU's U- and L- play the parts of IOBES's S- and E-: the same numbers.
    def to_bilou(sents):
        return [[t.replace("S-", "U-").replace("E-", "L-") for t in s] for s in sents]

    gold, pred = to_bilou(IOBES_GOLD), to_bilou(IOBES_PRED)
    assert gold[0][0] == "U-PER" and gold[0][3] == "L-LOC"
    _check_iobes_numbers(evaluate(gold, pred))


def test_iobes_invalid_transitions():
    # I-PER after S-PER opens a chunk; an E-PER after O is a one-token chunk.
    gold = [["S-PER", "I-PER", "E-PER", "O", "E-LOC"]]
    r = evaluate(gold, gold)
    # chunks: PER 0-1, PER 1-3, LOC 4-5
    assert r["gold_chunks"] == 3 and r["f1"] == 100.0
    missed, spurious = sentence_chunk_errors(gold[0], ["B-PER", "I-PER", "E-PER", "O", "O"])
    assert missed == [("PER", 0, 1), ("PER", 1, 3), ("LOC", 4, 5)]
    assert spurious == [("PER", 0, 3)]


def test_no_chunks_anywhere_gives_zero_scores():
    r = evaluate([["O", "O"]], [["O", "O"]], chunks=True)
    assert (r["precision"], r["recall"], r["f1"], r["accuracy"]) == (0.0, 0.0, 0.0, 100.0)
    assert r["per_type"] == {}
    assert conlleval_text(r) == (
        "processed 2 tokens with 0 phrases; found: 0 phrases; correct: 0.\n"
        "accuracy: 100.00%; precision:   0.00%; recall:   0.00%; FB1:   0.00\n"
    )
    # no tokens at all: conlleval prints only its first line
    assert conlleval_text(evaluate([], [], chunks=True)) == (
        "processed 0 tokens with 0 phrases; found: 0 phrases; correct: 0.\n")


def test_untyped_chunks_print_like_conlleval():
    # conlleval prints the line of the empty type twice when both sides have untyped chunks
    r = evaluate([["B", "I", "O", "B-NP"]], [["B", "O", "I", "B-NP"]], chunks=True)
    # gold: "" 0-2, NP 3-4; predicted: "" 0-1, "" 2-3, NP 3-4; correct: NP
    assert r["per_type"][""]["predicted"] == 2
    assert conlleval_text(r) == (
        "processed 4 tokens with 2 phrases; found: 3 phrases; correct: 1.\n"
        "accuracy:  50.00%; precision:  33.33%; recall:  50.00%; FB1:  40.00\n"
        "                 : precision:   0.00%; recall:   0.00%; FB1:   0.00  2\n"
        "                 : precision:   0.00%; recall:   0.00%; FB1:   0.00  2\n"
        "               NP: precision: 100.00%; recall: 100.00%; FB1: 100.00  1\n"
    )


def test_type_only_predicted_is_listed():
    r = evaluate([["B-PER", "O"]], [["B-PER", "B-LOC"]])
    assert r["per_type"]["LOC"] == {
        "precision": 0.0, "recall": 0.0, "f1": 0.0, "gold": 0, "predicted": 1, "correct": 0}
    assert "              LOC: precision:   0.00%; recall:   0.00%; FB1:   0.00  1\n" in (
        conlleval_text(r))


def test_length_mismatch_raises():
    with pytest.raises(SeqlabError, match="sentence 2: gold has 2 tags but predicted has 1"):
        evaluate([["O"], ["O", "O"]], [["O"], ["O"]])
    with pytest.raises(SeqlabError, match="2 sentences"):
        evaluate([["O"], ["O"]], [["O"]])


# ------------------------------------------------------------------------------------------
# plain-tag tasks


def test_plain_tags_worked_by_hand():
    gold = [["DT", "NN", "VBZ"], ["NN", "."]]
    pred = [["DT", "VB", "VBZ"], ["NN", "NN"]]
    r = evaluate(gold, pred)
    assert r["task"] == "tag"
    assert (r["tokens"], r["sentences"], r["correct_tokens"]) == (5, 2, 3)
    assert r["accuracy"] == pytest.approx(60.0)
    assert list(r["per_label"]) == [".", "DT", "NN", "VB", "VBZ"]
    assert r["per_label"]["NN"] == {
        "precision": 50.0, "recall": 50.0, "f1": 50.0, "support": 2, "predicted": 2, "correct": 1}
    assert r["per_label"]["DT"]["f1"] == 100.0
    assert r["per_label"]["."] == {
        "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1, "predicted": 0, "correct": 0}
    assert r["per_label"]["VB"]["support"] == 0
    # macro averages over the five labels: (0 + 100 + 50 + 0 + 100) / 5
    assert (r["precision"], r["recall"], r["f1"]) == (50.0, 50.0, 50.0)


def test_task_detection():
    assert is_chunk_task([["B-PER", "O"]])
    assert is_chunk_task([["U-PER", "L-X", "O"]])
    assert is_chunk_task([["O", "O"]], [["B-PER", "O"]])
    assert not is_chunk_task([["NN", "-LRB-", "O"]])
    assert not is_chunk_task([["O"]])
    # mixed label sets: most labels decide, as detect_scheme does, so a corpus of chunk tags
    # with a stray plain label stays a chunk task
    assert not is_chunk_task([["B-NP", "NN", "VB"]])
    assert is_chunk_task([["B-PER", "I-PER", "PER", "O", "B-LOC"]])
    assert evaluate([["B-NP", "I-NP"]], [["B-NP", "I-NP"]], chunks=False)["task"] == "tag"
    assert evaluate([["NN"]], [["NN"]], chunks=True)["task"] == "chunk"


# ------------------------------------------------------------------------------------------
# oracle 1: seqeval (default mode mimics conlleval's chunk reading) on random sequences

IOB2_TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
IOBES_TAGS = IOB2_TAGS + ["E-PER", "S-PER", "E-LOC", "S-LOC", "E-MISC", "S-MISC"]


def _pairs(tags, max_sents=6, max_len=8):
    """Random (gold, pred) sentences; the predicted tag mostly copies the gold one, so that
    long correct chunks are common, and is otherwise any tag (invalid transitions included)."""
    pair = st.tuples(st.sampled_from(tags), st.sampled_from(tags), st.integers(0, 2)).map(
        lambda t: (t[0], t[0] if t[2] else t[1]))
    sent = st.lists(pair, min_size=1, max_size=max_len)
    return st.lists(sent, min_size=1, max_size=max_sents).map(
        lambda sents: ([[g for g, _ in s] for s in sents], [[p for _, p in s] for s in sents]))


def _check_against_seqeval(gold, pred):
    from seqeval.metrics import (
        accuracy_score,
        classification_report,
        f1_score,
        precision_score,
        recall_score,
    )

    r = evaluate(gold, pred, chunks=True)
    close = {"rel": 1e-9, "abs": 1e-9}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert r["accuracy"] == pytest.approx(100 * accuracy_score(gold, pred), **close)
        assert r["precision"] == pytest.approx(100 * precision_score(gold, pred), **close)
        assert r["recall"] == pytest.approx(100 * recall_score(gold, pred), **close)
        assert r["f1"] == pytest.approx(100 * f1_score(gold, pred), **close)
        if r["gold_chunks"] == 0 and r["predicted_chunks"] == 0:
            assert r["per_type"] == {}
            return
        report = classification_report(gold, pred, output_dict=True)
    types = {k: v for k, v in report.items() if not k.endswith(" avg")}
    assert set(types) == set(r["per_type"])
    for kind, want in types.items():
        got = r["per_type"][kind]
        assert got["gold"] == want["support"]
        assert got["precision"] == pytest.approx(100 * want["precision"], **close)
        assert got["recall"] == pytest.approx(100 * want["recall"], **close)
        assert got["f1"] == pytest.approx(100 * want["f1-score"], **close)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_pairs(IOB2_TAGS))
def test_random_iob2_including_invalid_transitions_agree_with_seqeval(data):
    _check_against_seqeval(*data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_pairs(IOBES_TAGS))
def test_random_iobes_agree_with_seqeval(data):
    _check_against_seqeval(*data)


def test_seqeval_invalid_transitions_fixed_cases():
    # the cases the issue names: O I-PER, and a type change inside a chunk
    _check_against_seqeval([["O", "I-PER", "I-PER", "O"]], [["O", "B-PER", "I-PER", "O"]])
    _check_against_seqeval([["B-PER", "I-LOC", "I-LOC"]], [["I-PER", "I-PER", "B-LOC"]])
    _check_against_seqeval([["I-PER"], ["I-PER"]], [["B-PER"], ["I-PER"]])


# ------------------------------------------------------------------------------------------
# oracle 2: conlleval.pl's own algorithm, ported line by line (token stream, boundary lines,
# the inCorrect state machine, found counts taken at chunk starts, %6.2f printing)


def _conlleval_port(lines: list[str]) -> str:
    def end_of_chunk(prev_tag, tag, prev_type, typ):
        end = (prev_tag, tag) in {("B", "B"), ("B", "O"), ("I", "B"), ("I", "O"),
                                  ("E", "E"), ("E", "I"), ("E", "O")}
        if prev_tag not in ("O", ".") and prev_type != typ:
            end = True
        return end or prev_tag in ("]", "[")

    def start_of_chunk(prev_tag, tag, prev_type, typ):
        start = (prev_tag, tag) in {("B", "B"), ("I", "B"), ("O", "B"), ("O", "I"),
                                    ("E", "E"), ("E", "I"), ("O", "E")}
        if tag not in ("O", ".") and prev_type != typ:
            start = True
        return start or tag in ("[", "]")

    def split(tag):
        head, sep, rest = tag.partition("-")
        return (head, rest) if sep else (tag, "")

    correct_chunk = correct_tags = found_correct = found_guessed = tokens = 0
    per_correct, per_fc, per_fg = {}, {}, {}
    in_correct = False
    last_c, last_g, last_ct, last_gt = "O", "O", "", ""
    for line in lines:
        features = line.split(" ") if line else []
        if not features or features[0] == "-X-":
            features = ["-X-", "O", "O"]
        guessed, g_type = split(features[-1])
        corr, c_type = split(features[-2])
        first = features[0]
        if first == "-X-":
            guessed = "O"
        ec = end_of_chunk(last_c, corr, last_ct, c_type)
        eg = end_of_chunk(last_g, guessed, last_gt, g_type)
        if in_correct:
            if ec and eg and last_gt == last_ct:
                in_correct = False
                correct_chunk += 1
                per_correct[last_ct] = per_correct.get(last_ct, 0) + 1
            elif ec != eg or g_type != c_type:
                in_correct = False
        sc = start_of_chunk(last_c, corr, last_ct, c_type)
        sg = start_of_chunk(last_g, guessed, last_gt, g_type)
        if sc and sg and g_type == c_type:
            in_correct = True
        if sc:
            found_correct += 1
            per_fc[c_type] = per_fc.get(c_type, 0) + 1
        if sg:
            found_guessed += 1
            per_fg[g_type] = per_fg.get(g_type, 0) + 1
        if first != "-X-":
            correct_tags += corr == guessed and g_type == c_type
            tokens += 1
        last_g, last_c, last_gt, last_ct = guessed, corr, g_type, c_type
    if in_correct:
        correct_chunk += 1
        per_correct[last_ct] = per_correct.get(last_ct, 0) + 1

    def prf(c, g, f):
        p = 100 * c / g if g > 0 else 0.0
        r = 100 * c / f if f > 0 else 0.0
        return p, r, (2 * p * r / (p + r) if p + r > 0 else 0.0)

    p, r, f = prf(correct_chunk, found_guessed, found_correct)
    out = (f"processed {tokens} tokens with {found_correct} phrases; "
           f"found: {found_guessed} phrases; correct: {correct_chunk}.\n")
    if tokens > 0:
        out += "accuracy: %6.2f%%; precision: %6.2f%%; recall: %6.2f%%; FB1: %6.2f\n" % (  # noqa: UP031
            100 * correct_tags / tokens, p, r, f)
    sorted_types, last = [], None
    for t in sorted(list(per_fc) + list(per_fg)):
        if not last or last != t:  # Perl's `not($lastType) or $lastType ne $i`
            sorted_types.append(t)
        last = t
    for t in sorted_types:
        p, r, f = prf(per_correct.get(t, 0), per_fg.get(t, 0), per_fc.get(t, 0))
        out += "%17s: precision: %6.2f%%; recall: %6.2f%%; FB1: %6.2f  %d\n" % (  # noqa: UP031
            t, p, r, f, per_fg.get(t, 0))
    return out


def _file_lines(gold, pred):
    lines = []
    for i, (g, p) in enumerate(zip(gold, pred)):
        if i:
            lines.append("")
        lines += [f"w{j} X {a} {b}" for j, (a, b) in enumerate(zip(g, p))]
    return lines


# IOB1 and IOB2 files use the same alphabet; a type with a hyphen tests the type split, and
# untyped B and I tags test conlleval's printing of the empty type.
BIO_TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-MISC-X", "I-MISC-X", "B", "I"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_pairs(BIO_TAGS, max_sents=8, max_len=10))
def test_random_iob1_iob2_files_print_exactly_what_conlleval_prints(data, tmp_path_factory):
    gold, pred = data
    path = tmp_path_factory.mktemp("conll") / "pred.txt"
    lines = _file_lines(gold, pred)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _, g, p = read_predictions(path)
    assert (g, p) == (gold, pred)
    assert conlleval_text(evaluate(g, p, chunks=True)) == _conlleval_port(lines)


def test_port_reproduces_the_hand_worked_iob2_text():
    gold = [["B-PER", "O", "O", "B-LOC", "I-LOC", "O"], ["B-ORG", "I-ORG", "O", "B-PER"]]
    pred = [["B-PER", "O", "O", "I-LOC", "I-LOC", "O"], ["B-ORG", "I-PER", "O", "I-PER"]]
    assert _conlleval_port(_file_lines(gold, pred)) == conlleval_text(evaluate(gold, pred))


@pytest.mark.skipif(
    not (os.environ.get("CONLLEVAL") and shutil.which("perl")),
    reason="set CONLLEVAL=/path/to/conlleval.pl to compare with the real script",
)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_pairs(BIO_TAGS, max_sents=8, max_len=10))
def test_random_files_against_real_conlleval_pl(data):
    gold, pred = data
    text = "\n".join(_file_lines(gold, pred)) + "\n"
    want = subprocess.run(["perl", os.environ["CONLLEVAL"]], input=text, capture_output=True,
                          text=True, check=True).stdout
    assert conlleval_text(evaluate(gold, pred, chunks=True)) == want


# ------------------------------------------------------------------------------------------
# reading conlleval's input


def test_read_predictions(tmp_path):
    path = tmp_path / "pred.txt"
    path.write_text(
        "-DOCSTART- -X- O O\n"
        "\n"
        "EU NNP B-ORG B-ORG\n"
        "rejects VBZ O O\n"
        "\n\n"
        "Peter\tNNP\tB-PER\tB-PER\n"
        "Blackburn NNP I-PER O\n"
        "-DOCSTART- -X- O O\n"
        "Hi UH O O\n",
        encoding="utf-8",
    )
    tokens, gold, pred = read_predictions(path)
    assert tokens == [["EU", "rejects"], ["Peter", "Blackburn"], ["Hi"]]
    assert gold == [["B-ORG", "O"], ["B-PER", "I-PER"], ["O"]]
    assert pred == [["B-ORG", "O"], ["B-PER", "O"], ["O"]]
    # conlleval counts a -DOCSTART- line as an O/O token; keep_docstart reproduces that
    tokens, gold, pred = read_predictions(path, keep_docstart=True)
    assert tokens[0] == ["-DOCSTART-"] and gold[0] == ["O"] and len(tokens) == 5
    assert evaluate(gold, pred)["tokens"] == 7


def test_read_predictions_errors(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("EU O\nrejects O\n", encoding="utf-8")
    with pytest.raises(SeqlabError, match=r"bad\.txt:1: expected at least 3 columns"):
        read_predictions(path)
    # a line with fewer columns than the lines before is an error, never plain-label scoring
    path.write_text("EU NNP B-NP B-ORG B-ORG\nrejects B-ORG O\n", encoding="utf-8")
    with pytest.raises(SeqlabError, match=r"bad\.txt:2: expected 5 columns like the lines "
                                          "before, found 3"):
        read_predictions(path)
    with pytest.raises(SeqlabError, match="no such file"):
        read_predictions(tmp_path / "missing.txt")
    # tokens keep their non-breaking spaces, as every other reader keeps them
    path.write_text("São\u00a0Paulo B-LOC B-LOC\n", encoding="utf-8")
    assert read_predictions(path)[0] == [["São\u00a0Paulo"]]
    assert read_predictions(_write(tmp_path / "empty.txt", "")) == ([], [], [])


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------
# confusion matrix


def test_confusion_matrix():
    gold = [["B-PER", "I-PER", "O"], ["B-LOC", "O"]]
    pred = [["B-PER", "O", "O"], ["B-PER", "B-LOC"]]
    labels, matrix = confusion_matrix(gold, pred)
    assert labels == ["B-LOC", "B-PER", "I-PER", "O"]
    assert matrix == [
        # B-LOC B-PER I-PER O      (rows gold, columns predicted)
        [0, 1, 0, 0],
        [0, 1, 0, 0],
        [0, 0, 0, 1],
        [1, 0, 0, 1],
    ]
    assert sum(map(sum, matrix)) == 5
    labels, _ = confusion_matrix([["NN", "DT", "."]], [["NN", "DT", "VB"]])
    assert labels == [".", "DT", "NN", "VB"]
    with pytest.raises(SeqlabError):
        confusion_matrix([["O"]], [["O", "O"]])


# ------------------------------------------------------------------------------------------
# approximate randomisation


def _systems():
    gold, a, b = [], [], []
    for i in range(60):
        g = ["B-PER", "I-PER", "O", "B-LOC"]
        gold.append(g)
        a.append(list(g) if i % 10 else ["B-PER", "O", "O", "B-LOC"])  # 6 sentences wrong
        b.append(list(g) if i % 2 else ["O", "O", "O", "B-LOC"])  # 30 sentences wrong
    return gold, a, b


def test_compare_detects_a_clear_difference_and_is_seeded():
    gold, a, b = _systems()
    c = compare(gold, a, b, rounds=2000, seed=1)
    assert c["metric"] == "f1"
    assert c["a"] == evaluate(gold, a) and c["b"] == evaluate(gold, b)
    assert c["difference"] == pytest.approx(c["a"]["f1"] - c["b"]["f1"])
    assert c["difference"] > 0
    assert c["p_value"] < 0.01
    assert compare(gold, a, b, rounds=2000, seed=1) == c
    assert compare(gold, b, a, rounds=2000, seed=1)["difference"] == pytest.approx(
        -c["difference"])


def test_compare_identical_systems_is_not_significant():
    gold, a, _ = _systems()
    c = compare(gold, a, [list(s) for s in a], rounds=500)
    assert c["difference"] == 0.0 and c["p_value"] == 1.0


def test_compare_small_difference_has_large_p_value():
    gold, a, _ = _systems()
    b = [list(s) for s in a]
    b[0] = list(gold[0])  # one sentence better than A
    c = compare(gold, a, b, rounds=1000, seed=3)
    assert 0.3 < c["p_value"] <= 1.0
    # p-value is (r + 1) / (rounds + 1)
    assert math.isclose(c["p_value"] * 1001, round(c["p_value"] * 1001))


def test_compare_plain_tags_uses_accuracy():
    gold = [["DT", "NN"]] * 20
    a = [["DT", "NN"]] * 20
    b = [["DT", "VB"]] * 20
    c = compare(gold, a, b, rounds=500, seed=0)
    assert c["metric"] == "accuracy"
    assert c["difference"] == pytest.approx(50.0)
    assert c["p_value"] < 0.01


def test_compare_checks_lengths():
    with pytest.raises(SeqlabError, match="system B"):
        compare([["O"]], [["O"]], [["O", "O"]])


@pytest.mark.parametrize("task, metric", [("chunk", "f1"), ("tag", "accuracy"), (True, "f1"),
                                          (False, "accuracy"), (None, "accuracy")])
def test_the_headline_metric_of_a_task(task, metric):
    assert headline_metric(task) == metric


def test_the_headline_metric_is_a_score_that_evaluate_gives():
    for gold in ([["B-PER", "O"]], [["NN", "VB"]]):
        result = evaluate(gold, gold)
        assert result[headline_metric(result["task"])] == 100.0
        assert headline_metric(result["task"]) == headline_metric(is_chunk_task(gold))
