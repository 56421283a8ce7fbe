"""Tag schemes: detection, validation and lossless conversion, against independent oracles."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from seqeval.metrics.sequence_labeling import get_entities

from seqlab.schemes import (
    SCHEMES,
    Span,
    allowed_transitions,
    chunk_positions,
    convert,
    detect_scheme,
    expected_tags,
    from_chunks,
    get_chunks,
    invalid_transitions,
    is_chunk_task,
    normalize_scheme,
    span,
    tag_fits,
)
from seqlab.schemes import spans as sentence_spans

CHUNK = ("iob1", "iob2", "iobes", "bilou")
TYPES = ["PER", "LOC", "B-X"]  # a type with a hyphen in it, too

# --------------------------------------------------------------------------------------------
# An independent encoder, written from the definitions of each scheme (not from seqlab's code).
# A sentence is a list of segments: ("O", n) for n outside tokens, (type, n) for one chunk.
# --------------------------------------------------------------------------------------------


def encode(segments, scheme):
    tags, prev = [], None
    for kind, n in segments:
        if kind == "O":
            tags += ["O"] * n
        elif scheme == "iob2":
            tags += [f"B-{kind}"] + [f"I-{kind}"] * (n - 1)
        elif scheme == "iob1":  # B- only right after a chunk of the same type
            tags += [f"{'B' if prev == kind else 'I'}-{kind}"] + [f"I-{kind}"] * (n - 1)
        else:
            s, b, i, e = ("S", "B", "I", "E") if scheme == "iobes" else ("U", "B", "I", "L")
            tags += [f"{s}-{kind}"] if n == 1 else \
                [f"{b}-{kind}", *[f"{i}-{kind}"] * (n - 2), f"{e}-{kind}"]
        prev = kind
    return tags


def spans(segments):
    out, pos = [], 0
    for kind, n in segments:
        if kind != "O":
            out.append((kind, pos, pos + n))
        pos += n
    return out


segment = st.one_of(
    st.tuples(st.just("O"), st.integers(1, 3)),
    st.tuples(st.sampled_from(TYPES), st.integers(1, 4)),
)
sentences = st.lists(segment, max_size=8)
any_tags = st.lists(
    st.sampled_from(["O"] + [f"{p}-{t}" for p in "BIESLU" for t in ("PER", "LOC")]), max_size=12
)


@settings(max_examples=150, deadline=None)
@given(sentences)
def test_every_scheme_reads_back_the_same_chunks(segments):
    expected = spans(segments)
    for scheme in CHUNK:
        tags = encode(segments, scheme)
        assert get_chunks(tags) == expected, scheme
        assert invalid_transitions(tags, scheme) == [], scheme
    # seqeval as an oracle for IOB2 and IOBES (end inclusive there)
    oracle = [(k, s, e + 1) for k, s, e in get_entities(encode(segments, "iob2"))]
    assert oracle == expected
    oracle = [(k, s, e + 1) for k, s, e in get_entities(encode(segments, "iobes"))]
    assert oracle == expected


@settings(max_examples=100, deadline=None)
@given(sentences, st.data())
def test_spans_are_the_chunks_with_their_words(segments, data):
    n = sum(length for _, length in segments)
    tokens = data.draw(st.lists(st.text(min_size=1, max_size=3), min_size=n, max_size=n))
    expected = [(kind, start, end, " ".join(tokens[start:end]))
                for kind, start, end in spans(segments)]
    for scheme in CHUNK:
        got = sentence_spans(tokens, encode(segments, scheme))
        assert [(s.type, s.start, s.end, s.text) for s in got] == expected, scheme
        assert [s.as_row() for s in got] == [list(e) for e in expected]
        assert [s.as_dict() for s in got] == [
            {"start": b, "end": e, "type": k, "text": x} for k, b, e, x in expected]


def test_span_shapes_hand_worked():
    tokens = ["New", "York", "is", "big"]
    assert span(tokens, ("LOC", 0, 2)) == Span("LOC", 0, 2, "New York")
    assert sentence_spans(tokens, ["B-LOC", "I-LOC", "O", "I-X"]) == [
        Span("LOC", 0, 2, "New York"), Span("X", 3, 4, "big")]
    assert Span("LOC", 0, 2, "New York").as_row() == ["LOC", 0, 2, "New York"]
    assert list(Span("LOC", 0, 2, "New York").as_dict().items()) == [
        ("start", 0), ("end", 2), ("type", "LOC"), ("text", "New York")]  # key order kept


@settings(max_examples=150, deadline=None)
@given(sentences)
def test_conversion_is_lossless_in_every_direction(segments):
    n = sum(length for _, length in segments)
    for source in CHUNK:
        tags = encode(segments, source)
        for target in CHUNK:
            converted = convert(tags, target, source)
            assert converted == encode(segments, target), (source, target)
            assert convert(converted, source, target) == tags  # round trip
            assert convert(tags, target) == converted  # source detected
        assert from_chunks(spans(segments), n, source) == tags


@settings(max_examples=200, deadline=None)
@given(any_tags)
def test_conversion_of_any_sequence_keeps_conlleval_chunks_and_repairs(tags):
    for target in CHUNK:
        converted = convert(tags, target)
        assert get_chunks(converted) == get_chunks(tags)
        assert invalid_transitions(converted, target) == []
        assert convert(converted, target) == converted


def test_repair_by_the_conlleval_rule():
    # I-X after O starts a chunk; a type change starts another one
    assert convert(["O", "I-PER", "I-PER", "I-LOC"], "iob2") == ["O", "B-PER", "I-PER", "B-LOC"]
    assert convert(["B-PER", "O"], "iobes", "iobes") == ["S-PER", "O"]
    assert convert(["I-PER", "E-PER", "E-PER"], "iob2") == ["B-PER", "I-PER", "B-PER"]
    assert convert(["B-PER", "I-PER", "B-PER"], "iob1") == ["I-PER", "I-PER", "B-PER"]
    assert convert(["U-PER", "L-LOC"], "iobes") == ["S-PER", "S-LOC"]


def test_plain_labels():
    assert convert(["NN", "VB"], "plain") == ["NN", "VB"]
    assert convert(["NN", "VB"], "plain", "plain") == ["NN", "VB"]
    with pytest.raises(ValueError):
        convert(["NN", "B-PER"], "iobes")
    with pytest.raises(ValueError):
        convert(["B-PER"], "plain")
    with pytest.raises(ValueError):
        convert(["O"], "iobes", "plain")
    assert not is_chunk_task([["NN", "-LRB-", "PRP$", "O", "nsubj:pass"]])
    assert is_chunk_task([["O", "B-PER"]])
    assert is_chunk_task([["U-LOC"]])
    assert not is_chunk_task([["B-", "X-PER"]])


def test_detect_scheme():
    assert detect_scheme([["I-ORG", "O", "I-PER", "I-PER", "B-PER"]]) == "iob1"
    assert detect_scheme([["B-ORG", "O", "B-PER", "I-PER", "B-PER"]]) == "iob2"
    assert detect_scheme([["S-ORG", "O", "B-PER", "E-PER"]]) == "iobes"
    assert detect_scheme([["U-ORG", "O", "B-PER", "L-PER"]]) == "bilou"
    assert detect_scheme([["NNP", "VBZ", "O"]]) == "plain"
    assert detect_scheme([["O", "O"]]) == "plain"
    assert detect_scheme([]) == "plain"
    # IOB2 with a few invalid I-X after O is still IOB2
    iob2_with_errors = [["B-PER", "I-PER", "O"]] * 5 + [["O", "I-LOC"]]
    assert detect_scheme(iob2_with_errors) == "iob2"
    # a generator works as well as a list
    assert detect_scheme(t for t in [["I-PER"], ["O"]]) == "iob1"


def test_invalid_transitions_hand_worked():
    assert invalid_transitions(["O", "I-PER", "I-PER"], "iob2") == [1]
    assert invalid_transitions(["I-PER", "B-LOC", "I-PER"], "iob2") == [0, 2]
    assert invalid_transitions(["I-PER", "B-PER", "O", "B-LOC"], "iob1") == [3]
    assert invalid_transitions(["B-PER", "O"], "iobes") == [0]
    assert invalid_transitions(["O", "I-PER", "E-PER"], "iobes") == [1]
    assert invalid_transitions(["B-PER", "I-PER"], "iobes") == [1]
    assert invalid_transitions(["B-PER", "E-LOC"], "iobes") == [0, 1]
    assert invalid_transitions(["S-PER", "E-PER"], "iobes") == [1]
    assert invalid_transitions(["B-PER", "L-PER", "U-LOC"], "bilou") == []
    assert invalid_transitions(["B-PER", "E-PER"], "bilou") == [0, 1]  # E- is not BILOU
    assert invalid_transitions(["O", "S-PER", "PER"], "iob2") == [1, 2]
    assert invalid_transitions(["NN", "I-X"], "plain") == []


def test_expected_tags_in_words():
    assert expected_tags("iob2") == "O, or B- or I- followed by a type"
    assert expected_tags("iobes") == "O, or B-, I-, E- or S- followed by a type"
    assert expected_tags("bilou") == "O, or B-, I-, L- or U- followed by a type"
    assert expected_tags("plain") == "any label"


def test_names_and_fits():
    assert SCHEMES == ("iob1", "iob2", "iobes", "bilou", "plain")
    assert normalize_scheme("BIO") == "iob2"
    assert normalize_scheme("BIOES") == "iobes"
    assert normalize_scheme("IOB1") == "iob1"
    with pytest.raises(ValueError, match="ambiguous"):
        normalize_scheme("iob")
    with pytest.raises(ValueError, match="unknown tag scheme"):
        normalize_scheme("xyz")
    assert tag_fits("O", "iob2") and tag_fits("I-PER", "iob1")
    assert not tag_fits("E-PER", "iob2") and not tag_fits("PER", "iobes")
    assert tag_fits("L-PER", "bilou") and not tag_fits("S-PER", "bilou")
    assert tag_fits("anything", "plain")


def test_get_chunks_unchanged():
    # the conlleval reading the metrics rely on
    assert get_chunks(["B-PER", "I-PER", "O", "I-LOC", "B-LOC", "S-ORG"]) == [
        ("PER", 0, 2),
        ("LOC", 3, 4),
        ("LOC", 4, 5),
        ("ORG", 5, 6),
    ]


@pytest.mark.parametrize("labels", [
    ["O", "B-A", "I-A", "B-B", "I-B"],
    ["O", "I-A", "B-A", "I-B"],
    ["O", "B-A", "I-A", "E-A", "S-A", "S-B"],
    ["O", "B-A", "L-A", "U-A", "U-B"],
    ["O", "NN", ".", "B-A", "I-A", "X-A", "E-B", "S-"],  # labels conlleval reads oddly
])
def test_chunk_positions_of_a_batch_are_get_chunks_of_each_sentence(labels):
    # Every tag sequence of up to 4 tokens, all in one ragged batch (lengths 0 to 4, so a
    # sentence of one token follows one of none, ...), against get_chunks of each.
    seqs = [seq for n in range(5) for seq in itertools.product(range(len(labels)), repeat=n)]
    order = np.random.default_rng(0).permutation(len(seqs))
    seqs = [seqs[i] for i in order]
    ids = np.array([i for seq in seqs for i in seq], dtype=np.int64)
    rows, starts, ends, last = chunk_positions(ids, [len(seq) for seq in seqs], labels)
    got: list[list] = [[] for _ in seqs]
    for row, s, e, tag in zip(rows.tolist(), starts.tolist(), ends.tolist(), last.tolist()):
        got[row].append((labels[tag].partition("-")[2], s, e))
    want = [get_chunks([labels[i] for i in seq]) for seq in seqs]
    assert got == want
    assert sum(map(len, want)) > len(seqs)  # chunks in plenty, not a batch of empty lists


# --------------------------------------------------------------------------------------------
# Transitions: invalid_transitions (a sentence's faults) and allowed_transitions (the CRF's and
# constrained decoding's matrices) against brute force: a sequence is valid in a scheme when
# the independent encoder above writes it for some segmentation.
# --------------------------------------------------------------------------------------------

ORACLE_LENGTH = 4  # long enough for every allowed pair to occur (B-X I-X I-X E-X, ...)
PREFIXES = {"iob1": "BI", "iob2": "BI", "iobes": "BIES", "bilou": "BILU"}


def valid_sequences(scheme, types=("X", "Y"), max_length=ORACLE_LENGTH):
    """Every valid tag sequence of up to ``max_length`` tokens, by encoding every
    segmentation."""
    out = set()
    for n in range(max_length + 1):
        for cuts in itertools.product((False, True), repeat=max(n - 1, 0)):
            lengths, run = [], 1
            for cut in cuts:
                if cut:
                    lengths.append(run)
                    run = 1
                else:
                    run += 1
            if n:
                lengths.append(run)
            for kinds in itertools.product(("O", *types), repeat=len(lengths)):
                out.add(tuple(encode(list(zip(kinds, lengths)), scheme)))
    return out


def scheme_labels(scheme, types=("X", "Y")):
    return ["O"] + [f"{p}-{t}" for t in types for p in PREFIXES[scheme]]


@pytest.mark.parametrize("scheme", CHUNK)
def test_invalid_transitions_is_empty_exactly_for_the_sequences_the_scheme_writes(scheme):
    valid = valid_sequences(scheme)
    labels = scheme_labels(scheme)
    for n in range(ORACLE_LENGTH + 1):
        for tags in itertools.product(labels, repeat=n):
            assert (invalid_transitions(list(tags), scheme) == []) == (tags in valid), tags


@pytest.mark.parametrize("scheme", CHUNK)
@pytest.mark.parametrize("order", [0, 1, 2])
def test_allowed_transitions_are_the_pairs_valid_sequences_hold(scheme, order):
    valid = valid_sequences(scheme)
    labels = scheme_labels(scheme)
    if order:  # label ids in another order, as a vocabulary may give them
        labels = [labels[i] for i in np.random.default_rng(order).permutation(len(labels))]
    start, allowed, end = allowed_transitions(labels, scheme)
    pairs = {pair for tags in valid for pair in zip(tags, tags[1:])}
    assert start.tolist() == [any(t[:1] == (a,) for t in valid) for a in labels]
    assert end.tolist() == [any(t[-1:] == (a,) for t in valid) for a in labels]
    assert allowed.tolist() == [[(a, b) in pairs for b in labels] for a in labels]
    for a in (start, allowed, end):
        assert a.dtype == bool


@pytest.mark.parametrize("scheme", CHUNK)
def test_allowed_transitions_read_a_label_without_prefix_as_o(scheme):
    labels = scheme_labels(scheme) + ["NN"]
    start, allowed, end = allowed_transitions(labels, scheme)
    o, nn = 0, len(labels) - 1
    assert start[nn] == start[o] and end[nn] == end[o]
    assert (allowed[nn] == allowed[o]).all() and (allowed[:, nn] == allowed[:, o]).all()
    # and invalid_transitions, which reads the sentence rather than the model's labels, says
    # it does not fit a chunk scheme (and reads it as O for the next tag)
    assert invalid_transitions(["NN"], scheme) == [0]
    assert invalid_transitions(["NN", "I-X"], scheme) == sorted(
        {0, *invalid_transitions(["O", "I-X"], scheme)})


IOB2_LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def test_allowed_transitions_iob2_and_iob1():
    start, allowed, end = allowed_transitions(IOB2_LABELS, "bio")
    assert start.tolist() == [True, True, False, True, False]
    assert end.all()
    # rows: from, columns: to
    assert allowed.tolist() == [
        [True, True, False, True, False],   # O -> I-* forbidden
        [True, True, True, True, False],    # B-PER -> I-PER only
        [True, True, True, True, False],    # I-PER -> I-PER
        [True, True, False, True, True],    # B-LOC -> I-LOC
        [True, True, False, True, True],    # I-LOC -> I-LOC
    ]
    start, allowed, end = allowed_transitions(IOB2_LABELS, "iob1")
    assert start.tolist() == [True, False, True, False, True]  # B-X never first in IOB1
    assert allowed[0].tolist() == [True, False, True, False, True]  # O -> B-X forbidden
    assert allowed[2].tolist() == [True, True, True, False, True]  # I-PER -> B-PER ok, B-LOC no
    assert end.all()


def test_allowed_transitions_iobes_and_bilou():
    labels = ["O", "B-X", "I-X", "E-X", "S-X", "B-Y", "E-Y"]
    start, allowed, end = allowed_transitions(labels, "iobes")
    assert start.tolist() == [True, True, False, False, True, True, False]
    assert end.tolist() == [True, False, False, True, True, False, True]
    outside = [True, True, False, False, True, True, False]  # after O, E-*, S-*
    inside_x = [False, False, True, True, False, False, False]  # after B-X, I-X
    assert allowed.tolist() == [outside, inside_x, inside_x, outside, outside,
                                [False, False, False, False, False, False, True], outside]
    bilou = ["O", "B-X", "I-X", "L-X", "U-X", "B-Y", "L-Y"]
    b_start, b_allowed, b_end = allowed_transitions(bilou, "bilou")
    assert (b_start == start).all() and (b_allowed == allowed).all() and (b_end == end).all()
    plain = allowed_transitions(["NN", "VB"], None)
    assert all(a.all() for a in plain)
    with pytest.raises(ValueError, match="does not fit"):
        allowed_transitions(["O", "E-X"], "iob2")
    with pytest.raises(ValueError, match="unknown tag scheme"):
        allowed_transitions(["O"], "xyz")
