"""Tag schemes: detection, validation and lossless conversion, against independent oracles."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from seqeval.metrics.sequence_labeling import get_entities

from seqlab.schemes import (
    SCHEMES,
    convert,
    detect_scheme,
    from_chunks,
    get_chunks,
    invalid_transitions,
    is_chunk_task,
    normalize_scheme,
    tag_fits,
)

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
