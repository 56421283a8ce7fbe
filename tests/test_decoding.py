"""Decoding a softmax model's probabilities: constrained Viterbi never emits a sequence the tag
scheme forbids, and finds the best allowed one (checked by brute force); the same decoding
runs in the tagger, dev scoring and the SavedModel export."""

import itertools

import numpy as np
import pytest

from seqlab.decoding import all_to_tags, constrained_path, to_tags
from seqlab.schemes import invalid_transitions

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def brute_force(probs, labels, scheme):
    """The most probable sequence the scheme allows, by trying every sequence."""
    best, best_score = None, -np.inf
    for seq in itertools.product(range(len(labels)), repeat=len(probs)):
        tags = [labels[i] for i in seq]
        if invalid_transitions(tags, scheme):
            continue
        score = sum(np.log(probs[t, i]) for t, i in enumerate(seq))
        if score > best_score:
            best, best_score = list(seq), score
    return best


def test_argmax_o_then_i_per_decodes_to_a_valid_sequence():
    # token 0: O most likely; token 1: I-PER most likely (argmax: "O I-PER", invalid in IOB2)
    probs = np.array([[0.6, 0.3, 0.05, 0.03, 0.02],
                      [0.1, 0.35, 0.45, 0.05, 0.05]], np.float32)
    assert [LABELS[i] for i in probs.argmax(-1)] == ["O", "I-PER"]
    path = np.asarray(constrained_path(probs[None], np.ones((1, 2), bool), LABELS, "iob2"))[0]
    tags = [LABELS[i] for i in path]
    assert invalid_transitions(tags, "iob2") == []
    # worked by hand: O B-PER = .6 * .35 = .21 beats B-PER I-PER = .3 * .45 = .135
    assert tags == ["O", "B-PER"]


@pytest.mark.parametrize("scheme, labels", [
    ("iob2", LABELS),
    ("iob1", LABELS),
    ("iobes", ["O", "B-PER", "I-PER", "E-PER", "S-PER", "S-LOC"]),
    ("bilou", ["O", "B-PER", "I-PER", "L-PER", "U-PER"]),
])
def test_constrained_viterbi_equals_brute_force(scheme, labels):
    rng = np.random.default_rng(0)
    for _ in range(25):
        n = int(rng.integers(1, 5))
        probs = rng.dirichlet(np.ones(len(labels)) * 0.5, size=n).astype(np.float32)
        padded = np.concatenate([probs, rng.dirichlet(np.ones(len(labels)), size=2)], 0)
        mask = np.array([[True] * n + [False, False]])
        path = np.asarray(constrained_path(padded[None], mask, labels, scheme))[0]
        assert path[:n].tolist() == brute_force(probs, labels, scheme)
        assert path[n:].tolist() == [0, 0]  # padding


def _softmax_model(decoding):

    from seqlab.config import ModelConfig
    from seqlab.model import ModelParts, build_model
    from seqlab.vocab import LabelVocabulary, Vocabulary

    config = ModelConfig(embedding={"dim": 4}, lstm={"units": 4},
                         attention={"enabled": False}, decoding=decoding)
    model = build_model(config, Vocabulary.build([["a", "b"]]), LabelVocabulary(LABELS),
                        scheme="iob2")
    # Every token: I-PER .5, O .3, B-PER .2 (the kernel zeroed, the bias sets the odds).
    tags = ModelParts(model).tags
    kernel, _ = tags.get_weights()
    bias = np.log(np.array([0.3, 0.2, 0.5, 1e-6, 1e-6], np.float32))
    tags.set_weights([np.zeros_like(kernel), bias])
    return model


def test_the_tagger_decodes_softmax_output_with_the_scheme():
    from seqlab.tagger import Tagger

    sentence = [["a", "b", "a"]]
    assert Tagger(_softmax_model("argmax")).tag(sentence) == [["I-PER", "I-PER", "I-PER"]]
    # worked by hand: B-PER I-PER I-PER = .2 * .5 * .5 = .05 beats O O O = .027
    constrained = Tagger(_softmax_model("constrained"))
    assert constrained.tag(sentence) == [["B-PER", "I-PER", "I-PER"]]
    tags, probs = constrained.tag_with_probs(sentence)
    assert probs[0] == pytest.approx([0.2, 0.5, 0.5], abs=1e-5)


@pytest.mark.slow
def test_the_saved_model_decodes_the_same(tmp_path):
    import tensorflow as tf

    from seqlab.export import export_saved_model

    model = _softmax_model("constrained")
    model.save(tmp_path / "m.keras")
    export_saved_model(tmp_path / "m.keras", tmp_path / "saved")
    loaded = tf.saved_model.load(str(tmp_path / "saved"))
    got = loaded.tag(tf.ragged.constant([["a", "b", "a"], ["b"]])).to_list()
    # one token alone: O (.3) beats B-PER (.2), and I-PER cannot start
    assert [[t.decode() for t in row] for row in got] == [["B-PER", "I-PER", "I-PER"], ["O"]]


@pytest.mark.slow
def test_the_demo_model_prints_no_invalid_tag_sequence(trained):
    """What `make demo` prints: the quickstart model (softmax output) tags the sample input
    with valid IOB2 sequences only."""
    from typer.testing import CliRunner

    from seqlab.cli import app

    from conftest import DATA

    result = CliRunner().invoke(app, ["predict", str(trained / "model.keras"),
                                      str(DATA / "sample_input.txt"), "--format", "conll"])
    assert result.exit_code == 0, result.output
    blocks = [b for b in result.stdout.split("\n\n") if b.strip()]
    assert len(blocks) == 20
    for block in blocks:
        tags = [line.split(" ")[-1] for line in block.splitlines()]
        assert invalid_transitions(tags, "iob2") == [], block


def test_all_to_tags_converts_each_sentence_as_to_tags_does():
    """Repeated sequences are converted once, but every sentence gets its own list; an
    invalid IOBES sequence is repaired as ``convert`` repairs it."""
    labels = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "S-LOC"]
    rows = [[4, 0, 1, 3], [0, 2, 0], [4, 0, 1, 3], [], [5], [0, 2, 0]]
    ids = [np.array(r, dtype=np.int32) for r in rows]
    got = all_to_tags(ids, labels, "iobes", "iob2")
    assert got == [to_tags(x, labels, "iobes", "iob2") for x in ids]
    assert got[0] == ["B-PER", "O", "B-PER", "I-PER"] and got[1] == ["O", "B-PER", "O"]
    got[0].append("O")
    assert got[2] == ["B-PER", "O", "B-PER", "I-PER"]
