"""Several attention heads in the trainer (model.attention.heads, type scaled_dot), the local
window as seqlab's extension of the scaled-dot layers, and the family's public names."""

import numpy as np
import pytest

from seqlab.config import ModelConfig, load_config
from seqlab.errors import SeqlabError

from conftest import ROOT


def test_every_layer_of_the_family_is_importable_from_seqlab():
    import seqlab.layers

    assert set(seqlab.LAYERS) == set(seqlab.layers.__all__)
    objects = seqlab.get_custom_objects()
    for name in seqlab.LAYERS:
        if name != "get_custom_objects":
            assert getattr(seqlab, name) is objects[name]
    assert seqlab.SeqSelfAttention.get_custom_objects() == objects


def _window_oracle(q, k, v, width, history_only, key_mask=None):
    """softmax(QK^T / sqrt(d)) V over the window, by hand (NumPy, float64)."""
    t = q.shape[1]
    e = q @ k.transpose(0, 2, 1) / np.sqrt(q.shape[-1])
    i, j = np.arange(t)[:, None], np.arange(t)[None, :]
    if history_only:
        valid = (j <= i) & (j >= i - width + 1)
    else:
        valid = (j >= i - width // 2) & (j < i - width // 2 + width)
    valid = np.broadcast_to(valid, e.shape).copy()
    if key_mask is not None:
        valid &= key_mask[:, None, :]
    e = np.where(valid, e, -1e300)
    a = np.where(valid, np.exp(e - e.max(-1, keepdims=True)), 0.0)
    total = a.sum(-1, keepdims=True)
    a = np.divide(a, total, out=np.zeros_like(a), where=total > 0)  # no valid key: zeros
    return a @ v, a


@pytest.mark.parametrize("width, history_only", [(1, False), (3, False), (4, False),
                                                 (3, True), (20, False)])
def test_scaled_dot_local_window_against_numpy(width, history_only):
    from seqlab.layers import ScaledDotProductAttention

    rs = np.random.RandomState(width)
    q, k, v = (rs.normal(size=(2, 7, 4)) for _ in range(3))
    mask = np.ones((2, 7), bool)
    mask[1, 5:] = False
    layer = ScaledDotProductAttention(attention_width=width, history_only=history_only,
                                      return_attention=True)
    out, att = layer([q.astype("float32"), k.astype("float32"), v.astype("float32")],
                     mask=[None, mask, None])
    expected_out, expected_att = _window_oracle(q, k, v, width, history_only, mask)
    np.testing.assert_allclose(np.asarray(att), expected_att, atol=1e-5)
    np.testing.assert_allclose(np.asarray(out), expected_out, atol=1e-5)
    assert ScaledDotProductAttention.from_config(layer.get_config()).attention_width == width
    with pytest.raises(ValueError, match="attention_width must be None"):
        ScaledDotProductAttention(attention_width=0)


def test_multi_head_attention_with_a_window_wider_than_the_sentence_is_global():
    from seqlab.layers import MultiHeadAttention

    x = np.random.RandomState(0).normal(size=(2, 6, 8)).astype("float32")
    wide = MultiHeadAttention(head_num=2, attention_width=99)
    plain = MultiHeadAttention(head_num=2)
    wide.build(x.shape)
    plain.build(x.shape)
    plain.set_weights(wide.get_weights())
    np.testing.assert_allclose(np.asarray(wide(x)), np.asarray(plain(x)), atol=1e-6)
    narrow = MultiHeadAttention(head_num=2, attention_width=1)
    narrow.build(x.shape)
    narrow.set_weights(wide.get_weights())
    assert not np.allclose(np.asarray(narrow(x)), np.asarray(plain(x)), atol=1e-3)


def test_scaled_dot_heads_must_divide_the_bilstm_output():
    quick = ROOT / "configs/quickstart.yaml"
    with pytest.raises(SeqlabError) as err:
        load_config(quick, ["model.attention.type=scaled_dot", "model.attention.heads=3"])
    assert str(err.value) == (f"{quick}: model.attention.heads is 3, but scaled_dot heads must "
                              "divide the BiLSTM output: 2 x model.lstm.units = 128 features")
    config = load_config(quick, ["model.attention.type=scaled_dot", "model.attention.heads=4"])
    assert config.model.attention.heads == 4
    with pytest.raises(SeqlabError, match="key 'model.attention.heads': expected at least 1"):
        load_config(quick, ["model.attention.heads=0"])


@pytest.mark.parametrize("attention", [{"heads": 3, "width": 3, "units": 4},
                                       {"type": "scaled_dot", "heads": 2, "width": 3},
                                       {"type": "scaled_dot", "heads": 4, "history_only": True}])
def test_heads_in_the_model_mask_padding_and_load_again(tmp_path, attention):
    import keras

    from seqlab.model import ModelParts, build_model
    from seqlab.vocab import LabelVocabulary, Vocabulary

    vocab = Vocabulary.build([["a", "b", "c", "d"]])
    labels = LabelVocabulary(["O", "B-X", "I-X"])
    config = ModelConfig(embedding={"dim": 8}, lstm={"units": 8}, attention=attention)
    keras.utils.set_random_seed(1)
    model = build_model(config, vocab, labels, scheme="iob2")
    parts = ModelParts(model)
    expected_heads = attention["heads"] if attention.get("type") != "scaled_dot" else 0
    assert len(parts.attention_heads) == expected_heads
    assert not parts.global_attention or "width" not in attention
    batch = np.array([[2, 3, 4, 5, 2], [2, 3, 0, 0, 0]], "int32")
    out = np.asarray(model(batch))
    alone = np.asarray(model(batch[1:, :2]))
    np.testing.assert_allclose(alone[0], out[1, :2], atol=1e-5)  # padding never counts
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(again(batch)), out, atol=1e-6)


@pytest.mark.slow
def test_two_heads_train_and_each_can_be_looked_at(tmp_path):
    from rich.console import Console

    from seqlab.attention_view import attention_view
    from seqlab.tagger import Tagger
    from seqlab.training import train

    config = load_config(ROOT / "configs/quickstart.yaml", [
        "training.epochs=1", "model.lstm.units=8", "model.embedding.dim=8",
        "model.attention.units=4", "model.attention.heads=2", "model.chars.filters=8"])
    run = train(config, tmp_path / "run", console=Console(quiet=True))
    tagger = Tagger.load(tmp_path / "run" / "model.keras")
    assert len(tagger.parts.attention_heads) == 2
    assert 0 <= run.metrics["test"]["f1"] <= 100
    tokens = ["Maria", "flew", "to", "Oslo", "."]
    first, second = (attention_view(tagger, tokens, head=h) for h in (0, 1))
    assert first.weights.shape == (5, 5)
    np.testing.assert_allclose(first.weights.sum(-1), 1, atol=1e-5)
    assert not np.allclose(first.weights, second.weights)  # two heads, two sets of weights
    with pytest.raises(SeqlabError, match="head 2: the model has 2 attention heads"):
        attention_view(tagger, tokens, head=2)
