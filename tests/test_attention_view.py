"""`seqlab attention`: the weights of the model's SeqSelfAttention layer for one sentence, as a
PNG heatmap or a terminal grid; local and causal windows are blank outside."""

import json
import struct

import numpy as np
import pytest

from seqlab.attention_view import attention_view, png_size, window_mask

from conftest import invoke

SENTENCE = "Maria Lindqvist flew from Oslo to Lisbon on Tuesday ."


def png_dimensions(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_window_mask_matches_the_layer_definition():
    local = window_mask(6, 3, False)  # t-1 .. t+1
    assert local[2].tolist() == [False, True, True, True, False, False]
    assert local[0].tolist() == [True, True, False, False, False, False]
    causal = window_mask(5, None, True)
    assert (causal == np.tril(np.ones((5, 5), bool))).all()
    causal_local = window_mask(5, 2, True)  # t-1 .. t
    assert causal_local[3].tolist() == [False, False, True, True, False]
    assert window_mask(4, None, False).all()


def brute_window(n, width, history_only):
    """The window in words, one pair at a time: causal attention sees the query and the
    ``w - 1`` keys before it (all keys before it without a width); local attention sees ``w``
    keys of which ``w // 2`` come before the query; global attention sees every key."""
    def sees(t, key):
        if history_only:
            return key <= t and (width is None or t - key < width)
        if width is None:
            return True
        return -(width // 2) <= key - t < width - width // 2

    return np.array([[sees(t, key) for key in range(n)] for t in range(n)], dtype=bool)


@pytest.mark.parametrize("history_only", [False, True])
def test_window_mask_against_brute_force(history_only):
    for n in range(0, 12):
        for width in [None, *range(1, 14)]:  # odd and even, narrower and wider than n
            mask = window_mask(n, width, history_only)
            assert mask.dtype == bool and mask.shape == (n, n)
            assert (mask == brute_window(n, width, history_only)).all(), (n, width)


@pytest.mark.parametrize("width", [None, 1, 2, 3, 4, 7])
@pytest.mark.parametrize("history_only", [False, True])
@pytest.mark.parametrize("n", [9, 60])  # the dense way, and the band of keys (T > 48)
def test_the_layer_attends_exactly_inside_window_mask(n, width, history_only):
    from seqlab.layers import SeqSelfAttention

    layer = SeqSelfAttention(units=4, attention_width=width, history_only=history_only,
                             return_attention=True, kernel_initializer="glorot_uniform")
    x = np.random.default_rng(0).normal(size=(1, n, 6)).astype("float32")
    _, weights = layer(x)
    weights = np.asarray(weights)[0]
    assert ((weights > 0) == window_mask(n, width, history_only)).all()


@pytest.fixture(scope="module")
def tagger(trained):
    from seqlab.tagger import Tagger

    return Tagger.load(trained / "model.keras")


def test_weights_are_the_layers_and_zero_outside_the_window(tagger):
    tokens = SENTENCE.split()
    view = attention_view(tagger, tokens)
    n = len(tokens)
    assert view.weights.shape == (n, n) and view.tags == tagger.tag([tokens])[0]
    assert view.width == tagger.model.get_layer("attention").attention_width
    np.testing.assert_allclose(view.weights.sum(axis=1), 1.0, atol=1e-5)
    assert np.abs(view.weights[~view.window]).max() == 0.0
    # the layer's output is those weights applied to its input
    import keras

    layer = tagger.model.get_layer("attention")
    features = keras.Model(tagger.model.input, [layer.input, layer.output])
    inputs = {"words": np.array([tagger.vocab.encode(tokens)])}
    if tagger.chars is not None:
        inputs["chars"] = tagger.chars.encode(tokens)[None]
    hidden, output = features(inputs if len(tagger.model.inputs) > 1 else inputs["words"])
    while isinstance(hidden, (list, tuple)):
        hidden = hidden[0]
    np.testing.assert_allclose(view.weights @ np.asarray(hidden)[0], np.asarray(output)[0],
                               atol=1e-4)


def test_causal_attention_is_blank_above_the_diagonal():
    from seqlab.config import ModelConfig
    from seqlab.model import build_model
    from seqlab.tagger import Tagger
    from seqlab.vocab import LabelVocabulary, Vocabulary

    config = ModelConfig(embedding={"dim": 8}, lstm={"units": 8},
                         attention={"units": 4, "history_only": True, "width": 3})
    model = build_model(config, Vocabulary.build([["a", "b"]]), LabelVocabulary(["O", "B-X"]),
                        scheme="iob2")
    view = attention_view(Tagger(model), ["a", "b", "a", "b", "a"])
    assert (view.window == window_mask(5, 3, True)).all()
    assert np.abs(view.weights[~view.window]).max() == 0.0
    np.testing.assert_allclose(view.weights.sum(axis=1), 1.0, atol=1e-5)


def test_png_is_written_with_the_expected_size(trained, tmp_path):
    out = tmp_path / "att.png"
    result = invoke("attention", trained / "model.keras", SENTENCE, "--output", out)
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert png_dimensions(out) == png_size(len(SENTENCE.split()))
    from PIL import Image  # matplotlib's dependency: a full decode of the file

    with Image.open(out) as image:
        image.load()
        assert image.size == png_size(len(SENTENCE.split()))
    result = invoke("attention", trained / "model.keras", SENTENCE, "--output", out)
    assert result.exit_code == 2 and "--force" in result.stderr


@pytest.mark.slow
def test_terminal_grid_and_json(trained):
    result = invoke("attention", trained / "model.keras", "Maria flew to Oslo .",
                    "--format", "terminal")
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "Maria" in result.stdout and "Oslo" in result.stdout and "width" in result.stdout
    result = invoke("attention", trained / "model.keras", "Maria flew to Oslo .", "--json")
    data = json.loads(result.stdout)
    assert data["tokens"] == ["Maria", "flew", "to", "Oslo", "."]
    assert len(data["weights"]) == 5 and len(data["tags"]) == 5


@pytest.mark.parametrize("args, expected", [
    (["missing.keras", "a b"], "missing.keras: model file not found"),
    (["missing.keras", "a b", "--format", "png"], "--format png needs --output"),
    (["missing.keras", "a b", "--format", "svg"], "--format 'svg': expected png or terminal"),
    (["missing.keras", "   "], "the sentence is empty"),
])
def test_bad_arguments_are_one_line_exit_2(args, expected):
    result = invoke("attention", *args)
    assert result.exit_code == 2 and expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
