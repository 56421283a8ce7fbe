"""The rest of the keras-self-attention / keras-multi-head family (issue 13).

SeqWeightedAttention, ScaledDotProductAttention, ResidualScaledDotProductAttention
(keras-self-attention 0.51) and MultiHead, MultiHeadAttention (keras-multi-head 0.29).

Oracles: the original packages themselves (imported here, never our code), the numbers
of the originals' own tests, and hand-written NumPy where the original fails under
Keras 3 (MultiHead's hidden_dim and its regulariser, each said where it is used).
"""

import inspect
import json
import os
import subprocess
import sys

import keras
import keras_multi_head as kmh
import keras_self_attention as ksa
import numpy as np
import pytest
import tensorflow as tf

import seqlab.layers
from seqlab.layers import (
    MultiHead,
    MultiHeadAttention,
    ResidualScaledDotProductAttention,
    ScaledDotProductAttention,
    SeqSelfAttention,
    SeqWeightedAttention,
)

from conftest import ROOT, TESTS

TOL = {"rtol": 1e-5, "atol": 1e-5}
OURS = {
    "SeqWeightedAttention": SeqWeightedAttention,
    "ScaledDotProductAttention": ScaledDotProductAttention,
    "ResidualScaledDotProductAttention": ResidualScaledDotProductAttention,
    "MultiHead": MultiHead,
    "MultiHeadAttention": MultiHeadAttention,
}
ORIGINALS = {
    "SeqWeightedAttention": ksa.SeqWeightedAttention,
    "ScaledDotProductAttention": ksa.ScaledDotProductAttention,
    "ResidualScaledDotProductAttention": ksa.ResidualScaledDotProductAttention,
    "MultiHead": kmh.MultiHead,
    "MultiHeadAttention": kmh.MultiHeadAttention,
}


def rand(shape, seed, scale=1.0):
    return np.random.RandomState(seed).normal(0.0, scale, size=shape).astype("float32")


def padding_mask(batch, t, seed=0):
    """Row 0 unpadded, the others padded at the end or the start (never empty)."""
    mask = np.ones((batch, t), bool)
    rs = np.random.RandomState(seed)
    for b in range(1, batch):
        n = rs.randint(1, t - 1)
        if b % 2:
            mask[b, n:] = False
        else:
            mask[b, : t - n] = False
    return mask


def same_random_weights(original, ours, seed, scale=0.5):
    weights = [rand(w.shape, seed + i, scale) for i, w in enumerate(original.get_weights())]
    original.set_weights(weights)
    ours.set_weights(weights)


def assert_all_close(got, want, tol=TOL):
    got, want = keras.tree.flatten(got), keras.tree.flatten(want)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), **tol)


def answerable(key_mask, n_q, history_only):
    """(batch, n_q): queries with at least one valid key (the others differ on purpose)."""
    if key_mask is None:
        return None
    if history_only:
        return np.cumsum(key_mask, axis=1)[:, :n_q] > 0
    return np.repeat(key_mask.any(axis=1, keepdims=True), n_q, axis=1)


def assert_close_where_answerable(got, want, rows):
    """Parity on queries that have a valid key; ours gives exact zeros on the others."""
    for g, w in zip(keras.tree.flatten(got), keras.tree.flatten(want)):
        g, w = np.asarray(g), np.asarray(w)
        if rows is None:
            np.testing.assert_allclose(g, w, **TOL)
        else:
            np.testing.assert_allclose(g[rows], w[rows], **TOL)


def np_softmax(e, valid):
    e = np.where(valid, e, -np.inf)
    m = np.max(e, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    p = np.where(valid, np.exp(e - m), 0.0)
    s = p.sum(-1, keepdims=True)
    return np.where(s > 0, p / np.where(s > 0, s, 1.0), 0.0)


# ------------------------------------------------------------------ API
@pytest.mark.parametrize("name", sorted(OURS))
def test_constructor_matches_original(name):
    ours = dict(inspect.signature(OURS[name].__init__).parameters)
    theirs = inspect.signature(ORIGINALS[name].__init__).parameters
    # seqlab's one extension, before **kwargs; its default is the original's behaviour
    extension = ours.pop("attention_width", None)
    if name in ("ScaledDotProductAttention", "MultiHeadAttention"):
        assert extension is not None and extension.default is None
    assert list(ours) == list(theirs)
    for arg, param in theirs.items():
        assert ours[arg].default == param.default, arg


def test_registered_exported_and_in_custom_objects():
    objects = SeqSelfAttention.get_custom_objects()
    assert objects == seqlab.layers.get_custom_objects()
    for name, cls in OURS.items():
        assert name in seqlab.layers.__all__
        assert objects[name] is cls
        assert keras.saving.get_registered_name(cls) == f"seqlab>{name}"
    assert SeqWeightedAttention.get_custom_objects() == objects


def test_weights_same_names_shapes_and_order():
    x_shape = (None, None, 6)
    o, s = ksa.SeqWeightedAttention(name="w"), SeqWeightedAttention(name="w")
    o.build(x_shape)
    s.build(x_shape)
    assert [(w.path, w.shape) for w in s.weights] == [(w.path, w.shape) for w in o.weights]
    for use_bias in (True, False):
        shapes = [(None, 4, 5), (None, 7, 3), (None, 7, 6)]
        o = kmh.MultiHeadAttention(head_num=3, use_bias=use_bias, name="mha")
        s = MultiHeadAttention(head_num=3, use_bias=use_bias, name="mha")
        o.build(shapes)
        s.build(shapes)
        assert [(w.path, w.shape) for w in s.weights] == [(w.path, w.shape) for w in o.weights]
        assert len(s.weights) == (8 if use_bias else 4)
    # MultiHead: the projection, then each copy's weights (the original also lists an
    # unused, built template layer first under Keras 3; see test_multi_head_no_template).
    dense = keras.layers.Dense(3, name="d")
    o = kmh.MultiHead(dense, layer_num=2, hidden_dim=4, name="mh")
    s = MultiHead(dense, layer_num=2, hidden_dim=4, name="mh")
    o.build((None, 5, 6))
    s.build((None, 5, 6))
    mine = [(w.path, w.shape) for w in s.weights]
    theirs = {w.path: w.shape for w in o.weights}
    assert mine[:2] == [("mh/mh_W", (6, 8)), ("mh/mh_b", (8,))]
    assert all(theirs[p] == shape for p, shape in mine[:2])
    # Copies named as the original's, but built for the hidden_dim input (the fix).
    assert [sub.name for sub in s.layers] == [sub.name for sub in o.layers] == ["d_1", "d_2"]
    assert mine[2:] == [("mh/d_1/kernel", (4, 3)), ("mh/d_1/bias", (3,)),
                        ("mh/d_2/kernel", (4, 3)), ("mh/d_2/bias", (3,))]
    assert theirs["mh/d_1/kernel"] == (6, 3)


def test_initialisers_are_the_originals():
    w = SeqWeightedAttention()
    w.build((None, None, 2000))
    kernel = w.get_weights()[0]
    assert kernel.shape == (2000, 1) and np.abs(kernel).max() <= 0.05  # 'uniform'
    assert 0.02 < kernel.std() < 0.035 and not np.any(w.get_weights()[1])
    m = MultiHead(keras.layers.Dense(2), layer_num=2, hidden_dim=1000)
    m.build((None, 3, 4))
    assert np.abs(m.W.numpy()).max() <= 0.05 and m.W.numpy().std() > 0.02
    assert not np.any(m.b.numpy())
    a = MultiHeadAttention(head_num=2)
    a.build((None, 3, 400))
    assert a.kernel_initializer.__class__.__name__ == "GlorotNormal"
    assert abs(a.Wq.numpy().std() - np.sqrt(2.0 / 800)) < 0.01 and not np.any(a.bq.numpy())


# ------------------------------------------------------------------ parity
@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("return_attention", [True, False])
@pytest.mark.parametrize("masked", [False, True])
def test_weighted_parity(use_bias, return_attention, masked):
    x = rand((4, 7, 6), 1)
    mask = padding_mask(4, 7) if masked else None
    o = ksa.SeqWeightedAttention(use_bias=use_bias, return_attention=return_attention)
    s = SeqWeightedAttention(use_bias=use_bias, return_attention=return_attention)
    o.build(x.shape)
    s.build(x.shape)
    same_random_weights(o, s, 2)
    assert_all_close(s(x, mask=mask), o(x, mask=mask))


SDP_CASES = [
    {"list": False, "masked": False},
    {"list": False, "masked": True},
    {"list": True, "masked": False},
    {"list": True, "masked": True},
]


def sdp_inputs(as_list, masked, seed=3):
    if as_list:
        q, k, v = rand((3, 5, 4), seed), rand((3, 7, 4), seed + 1), rand((3, 7, 3), seed + 2)
        masks = [padding_mask(3, 5, 1), padding_mask(3, 7, 2), None] if masked else None
        return [q, k, v], masks
    x = rand((3, 7, 4), seed)
    return x, (padding_mask(3, 7, 1) if masked else None)


@pytest.mark.parametrize("history_only", [False, True])
@pytest.mark.parametrize("return_attention", [False, True])
@pytest.mark.parametrize("case", SDP_CASES, ids=lambda c: f"list={c['list']},mask={c['masked']}")
def test_scaled_dot_parity(case, return_attention, history_only):
    inputs, mask = sdp_inputs(case["list"], case["masked"])
    kwargs = {"return_attention": return_attention, "history_only": history_only}
    want = ksa.ScaledDotProductAttention(**kwargs)(inputs, mask=mask)
    got = ScaledDotProductAttention(**kwargs)(inputs, mask=mask)
    key_mask = mask[1] if case["list"] and mask else mask
    rows = answerable(key_mask, 5 if case["list"] else 7, history_only)
    assert rows is None or not rows.all() or not history_only
    assert_close_where_answerable(got, want, rows)
    if rows is not None:
        assert np.all(np.asarray(keras.tree.flatten(got)[0])[~rows] == 0.0)


@pytest.mark.parametrize("history_only", [False, True])
@pytest.mark.parametrize("return_attention", [False, True])
@pytest.mark.parametrize("case", SDP_CASES, ids=lambda c: f"list={c['list']},mask={c['masked']}")
def test_residual_parity(case, return_attention, history_only):
    inputs, mask = sdp_inputs(case["list"], case["masked"])
    n_q, n_k = (5, 7) if case["list"] else (7, 7)
    prev = rand((3, n_q, n_k), 9)
    if case["list"]:
        inputs, masks = inputs + [prev], (mask or [None] * 3) + [None]
    else:
        inputs, masks = [inputs, prev], [mask, None]
    if not case["masked"]:
        # The original fails without a mask (TypeError on mask[0] of None): give it
        # all-True masks, and call ours without any.
        full = [np.ones(t.shape[:2], bool) for t in inputs[:-1]] + [None]
        want = ksa.ResidualScaledDotProductAttention(
            return_attention=return_attention, history_only=history_only
        )(inputs, mask=full)
        masks = None
    else:
        want = ksa.ResidualScaledDotProductAttention(
            return_attention=return_attention, history_only=history_only
        )(inputs, mask=masks)
    got = ResidualScaledDotProductAttention(
        return_attention=return_attention, history_only=history_only
    )(inputs, mask=masks)
    assert len(got) == (3 if return_attention else 2)
    key_mask = None if masks is None else masks[1 if case["list"] else 0]
    assert_close_where_answerable(got, want, answerable(key_mask, n_q, history_only))


def test_original_residual_fails_without_mask_and_ours_does_not():
    x, prev = rand((2, 4, 3), 0), np.zeros((2, 4, 4), "float32")
    with pytest.raises(TypeError):
        ksa.ResidualScaledDotProductAttention()([x, prev])
    out, scores = ResidualScaledDotProductAttention()([x, prev])
    np.testing.assert_allclose(scores, x @ x.transpose(0, 2, 1) / np.sqrt(3), **TOL)
    assert_all_close(out, ScaledDotProductAttention()(x))


MHA_CASES = [
    {"head_num": 3},
    {"head_num": 1},
    {"head_num": 6, "history_only": True},
    {"head_num": 2, "use_bias": False, "activation": None},
    {"head_num": 3, "activation": "tanh", "history_only": True},
]


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("as_list", [False, True])
@pytest.mark.parametrize("cfg", MHA_CASES, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_multi_head_attention_parity(cfg, as_list, masked):
    if as_list:
        inputs = [rand((3, 5, 4), 1), rand((3, 7, 5), 2), rand((3, 7, 6), 3)]
        mask = [padding_mask(3, 5, 1), padding_mask(3, 7, 2), None] if masked else None
        shapes = [t.shape for t in inputs]
    else:
        inputs = rand((3, 7, 6), 1)
        mask = padding_mask(3, 7, 1) if masked else None
        shapes = inputs.shape
    o = kmh.MultiHeadAttention(name="mha", **cfg)
    s = MultiHeadAttention(name="mha", **cfg)
    o.build(shapes)
    s.build(shapes)
    same_random_weights(o, s, 4)
    key_mask = (mask[1] if as_list else mask) if masked else None
    rows = answerable(key_mask, 5 if as_list else 7, cfg.get("history_only", False))
    assert_close_where_answerable(s(inputs, mask=mask), o(inputs, mask=mask), rows)


@pytest.mark.parametrize(
    "name, make, kwargs, masked",
    [
        ("dense", lambda: keras.layers.Dense(3, activation="tanh"), {"layer_num": 3}, False),
        ("lstm", lambda: keras.layers.LSTM(4, return_sequences=True), {"layer_num": 2}, True),
        ("convs", lambda: [keras.layers.Conv1D(3, k, padding="same") for k in (1, 3)], {},
         False),
        ("self-attention", lambda: SeqSelfAttention(units=3), {"layer_num": 2}, True),
    ],
)
def test_multi_head_parity(name, make, kwargs, masked):
    x = rand((3, 6, 5), 5)
    mask = padding_mask(3, 6, 3) if masked else None
    template = make()
    if name == "self-attention":  # the original wrapping the original layer
        o = kmh.MultiHead(ksa.SeqSelfAttention(units=3), **kwargs)
    else:
        o = kmh.MultiHead(template, **kwargs)
    s = MultiHead(make(), **kwargs)
    o.build(x.shape)
    s.build(x.shape)
    assert len(s.layers) == len(o.layers) == o.layer_num == s.layer_num
    for i, (so, ss) in enumerate(zip(o.layers, s.layers)):
        ss.set_weights([rand(w.shape, 10 * i + j, 0.5) for j, w in enumerate(so.get_weights())])
        so.set_weights(ss.get_weights())
    got, want = s(x, mask=mask), o(x, mask=mask)
    assert got.shape == tuple(s.compute_output_shape(x.shape))
    if masked and name == "self-attention":
        # keras-self-attention 0.51's SeqSelfAttention lets real tokens attend to padding
        # (tests/test_attention.py): compare the unpadded row only.
        got, want = np.asarray(got)[:1], np.asarray(want)[:1]
    assert_all_close(got, want)


def test_multi_head_no_template():
    """The original builds the layer it was given as an unused template (Keras 3)."""
    x = rand((2, 4, 5), 0)
    o = kmh.MultiHead(keras.layers.Dense(3), layer_num=2)
    s = MultiHead(keras.layers.Dense(3), layer_num=2)
    o(x)
    s(x)
    assert len(o.weights) == 6  # template + 2 copies
    assert len(s.weights) == 4  # 2 copies
    assert not hasattr(s, "layer")


def test_known_numbers_of_the_originals_tests():
    """keras-self-attention's test_sample / test_real_former numbers (embedding, mask)."""
    emb = np.asarray([[0.1, 0.2, 0.3, 0.4, 0.5], [0.2, 0.3, 0.4, 0.6, 0.5],
                      [0.4, 0.7, 0.2, 0.6, 0.9], [0.3, 0.5, 0.8, 0.9, 0.1]], "float32")
    ids = np.array([[1, 2, 3, 1, 0]])
    x, mask = emb[ids], ids != 0
    want = [0.27883747, 0.45767492, 0.47448885, 0.69199574, 0.47368336]
    out = np.asarray(ScaledDotProductAttention()(x, mask=mask))[0]
    np.testing.assert_allclose(out[0], out[3], **TOL)
    np.testing.assert_allclose(out[2], want, rtol=1e-6)
    out, _ = ResidualScaledDotProductAttention()([x, np.zeros((1, 5, 5), "float32")],
                                                 mask=[mask, None])
    np.testing.assert_allclose(np.asarray(out)[0, 2], want, rtol=1e-6)
    out, att = ResidualScaledDotProductAttention(history_only=True, return_attention=True)(
        [x, x, x, np.zeros((1, 5, 5), "float32")], mask=[mask, mask, mask, None]
    )[::2]
    np.testing.assert_allclose(np.asarray(out)[0, 0], emb[1], rtol=1e-6)
    att = np.asarray(att)[0]
    assert np.all(att[np.triu_indices(5, 1)] == 0.0) and np.all(att[np.tril_indices(4)] > 0)


# ------------------------------------------------------------------ MultiHead: NumPy oracles
# keras-multi-head 0.29 fails under Keras 3 with hidden_dim (it builds the copies for
# the untransformed input), so hidden_dim is checked against this hand-written oracle.
def np_multi_head_dense(x, W, b, kernels, biases, activations, hidden_dim):
    outs = []
    for i, (k, c, act) in enumerate(zip(kernels, biases, activations)):
        h = x @ W[:, i * hidden_dim:(i + 1) * hidden_dim]
        if b is not None:
            h = h + b[i * hidden_dim:(i + 1) * hidden_dim]
        outs.append(act(h @ k + c))
    return np.stack(outs, axis=-1)


def test_original_multi_head_hidden_dim_fails_under_keras3():
    with pytest.raises(tf.errors.InvalidArgumentError):
        kmh.MultiHead(keras.layers.Dense(3), layer_num=2, hidden_dim=4)(rand((2, 5, 6), 0))


@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("as_list", [False, True])
def test_multi_head_hidden_dim_matches_numpy(use_bias, as_list):
    x = rand((2, 5, 6), 0)
    acts = {"tanh": np.tanh, "relu": lambda v: np.maximum(v, 0.0)}
    if as_list:
        names = ["tanh", "relu", "tanh"]
        layer = MultiHead([keras.layers.Dense(3, activation=a) for a in names],
                          hidden_dim=4, use_bias=use_bias)
    else:
        names = ["tanh"] * 3
        layer = MultiHead(keras.layers.Dense(3, activation="tanh"), layer_num=3,
                          hidden_dim=4, use_bias=use_bias)
    layer.build(x.shape)
    layer.set_weights([rand(w.shape, i, 0.7) for i, w in enumerate(layer.weights)])
    W = layer.W.numpy()
    b = layer.b.numpy() if use_bias else None
    assert (b is None) == (layer.b is None)
    kernels = [sub.kernel.numpy() for sub in layer.layers]
    biases = [sub.bias.numpy() for sub in layer.layers]
    want = np_multi_head_dense(x, W, b, kernels, biases, [acts[n] for n in names], 4)
    got = np.asarray(layer(x))
    assert got.shape == (2, 5, 3, 3) == tuple(layer.compute_output_shape(x.shape))
    np.testing.assert_allclose(got, want, **TOL)


def np_regulariser(layers, index, interval, factor):
    rows = []
    for sub in layers:
        w = sub.get_weights()[index]
        rows.append((w if interval is None else w[interval]).reshape(-1))
    m = np.stack(rows).astype("float64")
    return factor * np.sum(np.square(m @ m.T - np.eye(len(layers))))


def test_multi_head_regulariser_matches_original_value_and_trains():
    kwargs = {"layer_num": 3, "reg_index": [0, 1],
              "reg_slice": [(slice(None), slice(1, 3)), None], "reg_factor": [0.1, 0.2]}
    x = rand((2, 5, 6), 0)
    o = kmh.MultiHead(keras.layers.Dense(4), **kwargs)
    s = MultiHead(keras.layers.Dense(4), **kwargs)
    o.build(x.shape)
    s.build(x.shape)
    for so, ss in zip(o.layers, s.layers):
        ss.set_weights([w + 0.1 for w in so.get_weights()[:1]] + so.get_weights()[1:])
    # The original's loss is a constant computed in build from get_weights() (NumPy), and
    # Keras 3 clears it at the first call: compare ours with the values it had at build,
    # for the weights it had then, and with NumPy for ours.
    build_losses = [float(v) for v in o.losses]
    o(x)
    assert o.losses == []
    for so, ss in zip(o.layers, s.layers):
        ss.set_weights(so.get_weights())
    s(x)
    assert [float(v) for v in s.losses] == pytest.approx(build_losses, rel=1e-5)
    for ss in s.layers:  # now different weights, so different numbers
        ss.set_weights([w * 1.5 + 0.2 for w in ss.get_weights()])
    s(x)
    want = [np_regulariser(s.layers, 0, (slice(None), slice(1, 3)), 0.1),
            np_regulariser(s.layers, 1, None, 0.2)]
    assert [float(v) for v in s.losses] == pytest.approx(want, rel=1e-5)
    # It has a gradient with respect to the copies' weights (the original's had none).
    variables = [sub.kernel for sub in s.layers]
    with tf.GradientTape() as tape:
        s(x)
        loss = tf.add_n(s.losses)
    grads = tape.gradient(loss, variables)
    assert all(g is not None and np.any(g.numpy()[:, 1:3]) for g in grads)
    assert all(not np.any(g.numpy()[:, [0, 3]]) for g in grads)  # outside the slice


def test_multi_head_regulariser_readme_example_shapes():
    layer = MultiHead(keras.layers.Bidirectional(keras.layers.LSTM(units=16)), layer_num=5,
                      reg_index=[1, 4], reg_slice=(slice(None, None), slice(32, 48)),
                      reg_factor=0.1)
    layer(rand((2, 3, 3), 0))
    assert layer.reg_slice == [(slice(None, None), slice(32, 48))] * 2
    assert layer.reg_factor == [0.1, 0.1]
    want = [np_regulariser(layer.layers, i, (slice(None, None), slice(32, 48)), 0.1)
            for i in (1, 4)]
    assert [float(v) for v in layer.losses] == pytest.approx(want, rel=1e-5)


# ------------------------------------------------------------------ padding
def test_weighted_padding():
    x = rand((3, 6, 4), 0, 3.0)
    mask = np.ones((3, 6), bool)
    mask[1, 4:] = False
    mask[2] = False
    layer = SeqWeightedAttention(return_attention=True)
    layer.build(x.shape)
    layer.set_weights([rand((4, 1), 1, 2.0), np.array([0.3], "float32")])
    y, a = (np.asarray(t) for t in layer(x, mask=mask))
    assert np.all(a[~mask] == 0.0)  # exactly
    np.testing.assert_allclose(a[:2].sum(-1), 1.0, rtol=1e-6)
    y_alone, a_alone = (np.asarray(t) for t in layer(x[1:2, :4]))
    np.testing.assert_allclose(y[1], y_alone[0], **TOL)
    np.testing.assert_allclose(a[1, :4], a_alone[0], **TOL)
    assert np.all(y[2] == 0.0) and np.all(a[2] == 0.0) and np.all(np.isfinite(y))
    # Not masked: the softmax over all steps (NumPy).
    e = (x @ layer.get_weights()[0])[..., 0] + 0.3
    unmasked = np_softmax(e, np.ones_like(mask))
    np.testing.assert_allclose(np.asarray(layer(x)[1]), unmasked, **TOL)
    # The original gives an all-padded row the weights it would have without a mask
    # (the same -10000 on every score cancels out).
    o = ksa.SeqWeightedAttention(return_attention=True)
    o.build(x.shape)
    o.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.asarray(o(x, mask=mask)[1])[2], unmasked[2], **TOL)


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("history_only", [False, True])
def test_scaled_dot_padding(history_only, residual):
    x = rand((3, 6, 4), 0, 2.0)
    mask = np.ones((3, 6), bool)
    mask[1, 4:] = False
    mask[2] = False

    def run(inputs, m):
        if residual:
            prev = np.zeros((inputs.shape[0], inputs.shape[1], inputs.shape[1]), "float32")
            out, _, att = ResidualScaledDotProductAttention(
                return_attention=True, history_only=history_only
            )([inputs, prev], mask=None if m is None else [m, None])
        else:
            out, att = ScaledDotProductAttention(
                return_attention=True, history_only=history_only
            )(inputs, mask=m)
        return np.asarray(out), np.asarray(att)

    out, att = run(x, mask)
    assert np.all(att.transpose(0, 2, 1)[~mask] == 0.0)  # padded keys: exactly 0
    if history_only:
        assert np.all(att[:, np.triu_indices(6, 1)[0], np.triu_indices(6, 1)[1]] == 0.0)
    out_alone, att_alone = run(x[1:2, :4], None)
    np.testing.assert_allclose(out[1, :4], out_alone[0], **TOL)
    np.testing.assert_allclose(att[1, :4, :4], att_alone[0], **TOL)
    assert np.all(att[2] == 0.0) and np.all(out[2] == 0.0) and np.all(np.isfinite(out))
    # NumPy: softmax(x x^T / 2) over the valid keys.
    valid = np.broadcast_to(mask[:, None, :], att.shape)
    if history_only:
        valid = valid & np.tril(np.ones((6, 6), bool))
    want = np_softmax(x @ x.transpose(0, 2, 1) / 2.0, valid)
    np.testing.assert_allclose(att, want, **TOL)
    np.testing.assert_allclose(out, want @ x, **TOL)


def test_original_leaks_padding_with_large_scores_and_we_do_not():
    # Scores of ~1e4, beyond the original's -10000 offset: x0.x3 / 2 - 10000 = 12500 is
    # above x0.x0 / 2 = 11250.5, so the real query 0 attends to the padded key 3.
    x = np.array([[[1, 0, 0, 150], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 300]]], "float32")
    mask = np.array([[True, True, True, False]])
    o = np.asarray(ksa.ScaledDotProductAttention(return_attention=True)(x, mask=mask)[1])
    s = np.asarray(ScaledDotProductAttention(return_attention=True)(x, mask=mask)[1])
    assert o[0, 0, 3] > 0.99
    assert np.all(s[0, :, 3] == 0.0) and s[0, 0, 0] == pytest.approx(1.0)


@pytest.mark.parametrize("as_list", [False, True])
def test_multi_head_attention_padding(as_list):
    x = rand((3, 6, 6), 0)
    mask = np.ones((3, 6), bool)
    mask[1, 4:] = False
    mask[2] = False
    layer = MultiHeadAttention(head_num=3, activation="tanh")
    layer.build([x.shape] * 3 if as_list else x.shape)
    layer.set_weights([rand(w.shape, i, 0.5) for i, w in enumerate(layer.get_weights())])

    def run(t, m):
        if as_list:
            return np.asarray(layer([t, t, t], mask=None if m is None else [m, m, None]))
        return np.asarray(layer(t, mask=m))

    out = run(x, mask)
    np.testing.assert_allclose(out[1, :4], run(x[1:2, :4], None)[0], **TOL)
    # Changing padded positions changes nothing at the real ones (0 weight).
    x2 = x.copy()
    x2[~mask] = 50.0
    np.testing.assert_allclose(run(x2, mask)[:2][mask[:2]], out[:2][mask[:2]], **TOL)
    assert np.all(np.isfinite(out))
    # All keys padded: every head's attention is zero, the output is act(bo) per query.
    np.testing.assert_allclose(out[2], np.tanh(layer.bo.numpy())[None].repeat(6, 0), **TOL)


def test_multi_head_passes_mask_to_its_copies():
    x = rand((2, 6, 3), 0)
    mask = np.ones((2, 6), bool)
    mask[1, 4:] = False
    layer = MultiHead(keras.layers.LSTM(4, return_sequences=True), layer_num=2)
    out = np.asarray(layer(x, mask=mask))
    alone = np.asarray(layer(x[1:2, :4]))
    np.testing.assert_allclose(out[1, :4], alone[0], **TOL)
    # The LSTM copies carry their state over padding: positions 4, 5 repeat position 3.
    np.testing.assert_allclose(out[1, 4], out[1, 3], **TOL)
    assert not np.allclose(np.asarray(layer(x))[1, 4], out[1, 3])


# ------------------------------------------------------------------ shapes, masks, errors
def test_compute_output_shape_and_masks_in_a_model():
    ids = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(10, 6, mask_zero=True)(ids)
    prev = keras.Input((None, None))
    pooled, weights = SeqWeightedAttention(return_attention=True)(x)
    y, a = ScaledDotProductAttention(return_attention=True)([x, x, x])
    r, scores, ra = ResidualScaledDotProductAttention(return_attention=True)([x, prev])
    m = MultiHeadAttention(head_num=2)(x)
    mh = MultiHead(keras.layers.Dense(2), layer_num=3)(x)
    assert pooled.shape == (None, 6) and weights.shape == (None, None)
    assert getattr(pooled, "_keras_mask", None) is None
    assert y.shape == (None, None, 6) and a.shape == (None, None, None)
    assert y._keras_mask is not None and getattr(a, "_keras_mask", None) is None
    assert r.shape == (None, None, 6) and scores.shape == ra.shape == (None, None, None)
    assert r._keras_mask.shape == (None, None)
    # The original gave the scores a (T,)-shaped mask (the last batch row of the query's).
    assert getattr(scores, "_keras_mask", None) is None  # prev has no mask
    assert m.shape == (None, None, 6) and m._keras_mask.shape == (None, None)
    assert mh.shape == (None, None, 2, 3)
    o_r, o_scores = ksa.ResidualScaledDotProductAttention()([x, prev])
    assert o_scores._keras_mask.shape == (None,)
    # With a masked prev, its mask is passed on to the scores.
    r2 = ResidualScaledDotProductAttention()
    assert r2.compute_mask(None, ["qm", "km", "vm", "pm"]) == ["qm", "pm"]
    assert r2.compute_mask(None, None) == [None, None]
    sd = ScaledDotProductAttention()
    assert sd.compute_output_shape([(2, 5, 4), (2, 7, 4), (2, 7, 3)]) == (2, 5, 3)
    assert ResidualScaledDotProductAttention(return_attention=True).compute_output_shape(
        [(2, 5, 4), (2, 7, 4), (2, 7, 3), (2, 5, 7)]
    ) == [(2, 5, 3), (2, 5, 7), (2, 5, 7)]
    assert MultiHeadAttention(3).compute_output_shape([(2, 5, 4), (2, 7, 5), (2, 7, 6)]) == (
        2, 5, 6)


def test_multi_head_attention_head_num_error():
    layer = MultiHeadAttention(head_num=4)
    with pytest.raises(ValueError, match=r"\b6\b.*head_num=4"):
        layer(np.zeros((1, 2, 6), "float32"))
    with pytest.raises(ValueError, match=r"\b5\b.*head_num=2"):
        MultiHeadAttention(head_num=2)([keras.Input((3, 4)), keras.Input((4, 6)),
                                        keras.Input((4, 5))])
    with pytest.raises(IndexError):  # the original
        kmh.MultiHeadAttention(head_num=4)(np.zeros((1, 2, 6), "float32"))
    with pytest.raises(ValueError, match="head_num"):
        MultiHeadAttention(head_num=0)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: ScaledDotProductAttention()([np.zeros((1, 2, 3), "float32")] * 2), "list of 2"),
        (lambda: ResidualScaledDotProductAttention()([np.zeros((1, 2, 3), "float32")] * 3),
         "3 input"),
        (lambda: MultiHead("dense"), "Keras layer"),
        (lambda: MultiHead(keras.layers.Dense(2), layer_num=0), "layer_num"),
        (lambda: MultiHead(keras.layers.Dense(2), hidden_dim=0), "hidden_dim"),
        (lambda: MultiHead(keras.layers.Dense(2), reg_index=[0, 1], reg_factor=[0.1]),
         "one entry per reg_index"),
        (lambda: SeqWeightedAttention()(np.zeros((2, 3), "float32")), "rank 3|shape"),
    ],
)
def test_bad_arguments_are_clear_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# ------------------------------------------------------------------ config, saving
def family_layers():
    return [
        SeqWeightedAttention(use_bias=False, return_attention=True, name="swa"),
        ScaledDotProductAttention(return_attention=True, history_only=True, name="sdp"),
        ResidualScaledDotProductAttention(return_attention=True, history_only=True, name="r"),
        MultiHeadAttention(head_num=2, activation="tanh", use_bias=False,
                           kernel_initializer="he_normal", bias_initializer="ones",
                           kernel_regularizer=keras.regularizers.l2(0.01),
                           bias_regularizer="l1", kernel_constraint="non_neg",
                           bias_constraint=keras.constraints.MaxNorm(2.0),
                           history_only=True, name="mha"),
        MultiHead(keras.layers.Dense(3), layer_num=2, hidden_dim=4, use_bias=False,
                  reg_index=[0, 1], reg_slice=[(slice(1, None, 2), slice(0, 2)), slice(1, 3)],
                  reg_factor=[0.1, 0.5], name="mh"),
        MultiHead([SeqSelfAttention(units=3), SeqSelfAttention(units=4)], name="mh_self"),
    ]


@pytest.mark.parametrize("index", range(6))
def test_get_config_round_trips_every_argument(index):
    layer = family_layers()[index]
    config = layer.get_config()
    json.dumps(config)
    again = layer.__class__.from_config(config)
    assert again.get_config() == config
    params = set(inspect.signature(layer.__class__.__init__).parameters) - {"self", "kwargs"}
    if isinstance(layer, MultiHead):
        # The original's format: the copies under 'layers' (layer / layer_num implied).
        params = params - {"layer", "layer_num"} | {"layers"}
        assert len(again.layers) == len(layer.layers)
        assert again.reg_slice == layer.reg_slice and again.reg_factor == layer.reg_factor
    assert params <= set(config)


def test_multi_head_config_before_build_and_original_format():
    layer = MultiHead(keras.layers.Dense(3, name="d"), layer_num=2,
                      reg_index=1, reg_slice=(slice(0, 2),), reg_factor=0.3)
    config = layer.get_config()  # the original listed no layers before build
    assert [e["config"]["name"] for e in config["layers"]] == ["d_1", "d_2"]
    assert config["reg_index"] == [1] and config["reg_factor"] == [0.3]
    assert config["reg_slice"] == [[[0, 2, None]]]
    o = kmh.MultiHead(keras.layers.Dense(3, name="d"), layer_num=2,
                      reg_index=1, reg_slice=(slice(0, 2),), reg_factor=0.3)
    o.build((None, 4, 5))
    theirs = o.get_config()
    for key in ("hidden_dim", "use_bias", "reg_index", "reg_slice", "reg_factor"):
        assert config[key] == theirs[key], key
    assert [e["class_name"] for e in theirs["layers"]] == [
        e["class_name"] for e in config["layers"]]
    # The original's entries (no 'module') load here.
    again = MultiHead.from_config(theirs)
    assert [type(sub) for sub in again.layers] == [keras.layers.Dense] * 2
    assert [sub.name for sub in again.layers] == ["d_1", "d_2"]


def save_load_predict(model, inputs, path, custom_objects=None):
    want = model.predict(inputs, verbose=0)
    model.save(path)
    loaded = keras.models.load_model(path, custom_objects=custom_objects)
    got = loaded.predict(inputs, verbose=0)
    assert_all_close(got, want)
    return loaded


def original_models():
    ids_in = keras.Input((None,), dtype="int32", name="ids")
    x = keras.layers.Embedding(20, 6, mask_zero=True, name="emb")(ids_in)
    prev_in = keras.Input((None, None), name="prev")
    h = keras.layers.LSTM(6, return_sequences=True, name="lstm")(x)
    pooled, weights = ksa.SeqWeightedAttention(return_attention=True, name="swa")(h)
    y, att = ksa.ScaledDotProductAttention(return_attention=True, history_only=True,
                                           name="sdp")([x, h, h])
    r, scores = ksa.ResidualScaledDotProductAttention(name="res")([y, prev_in])
    m = kmh.MultiHeadAttention(head_num=3, name="mha")(r)
    m2 = kmh.MultiHeadAttention(head_num=2, name="mha_qkv")([m, x, h])
    mh = kmh.MultiHead(keras.layers.Dense(2, name="d"), layer_num=2, name="mh")(m2)
    mh_self = kmh.MultiHead(ksa.SeqSelfAttention(units=3, name="ssa"), layer_num=2,
                            name="mh_self")(x)
    mh_lstm = kmh.MultiHead(keras.layers.LSTM(3, return_sequences=True, name="l"),
                            layer_num=2, name="mh_lstm")(x)
    # Keras' own MultiHeadAttention: custom_objects must not take its place.
    k_mha = keras.layers.MultiHeadAttention(num_heads=2, key_dim=3, name="keras_mha")(x, x)
    outputs = [pooled, weights, att, scores, mh, mh_self, mh_lstm, k_mha]
    return keras.Model([ids_in, prev_in], outputs)


@pytest.mark.slow
def test_loads_models_saved_by_the_originals(tmp_path):
    keras.utils.set_random_seed(0)
    model = original_models()
    ids = np.array([[3, 5, 7, 2, 9], [4, 8, 1, 0, 0], [6, 2, 0, 0, 0]])
    inputs = [ids, rand((3, 5, 5), 1)]
    want = model.predict(inputs, verbose=0)
    path = str(tmp_path / "original.keras")
    model.save(path)
    # The originals cannot load this file themselves under Keras 3.
    with pytest.raises(TypeError):
        keras.models.load_model(path, custom_objects={**ORIGINALS, "SeqSelfAttention":
                                                      ksa.SeqSelfAttention})
    loaded = keras.models.load_model(path, custom_objects=SeqSelfAttention.get_custom_objects())
    kinds = {layer.name: type(layer) for layer in loaded.layers}
    assert kinds["swa"] is SeqWeightedAttention and kinds["sdp"] is ScaledDotProductAttention
    assert kinds["res"] is ResidualScaledDotProductAttention
    assert kinds["mha"] is kinds["mha_qkv"] is MultiHeadAttention
    assert kinds["mh"] is kinds["mh_self"] is kinds["mh_lstm"] is MultiHead
    assert all(type(s) is SeqSelfAttention for s in loaded.get_layer("mh_self").layers)
    assert kinds["keras_mha"] is keras.layers.MultiHeadAttention
    got = loaded.predict(inputs, verbose=0)
    # Every row has a real token, so ours and the originals agree everywhere, except
    # SeqSelfAttention (ours masks padded keys, the original does not): its real rows.
    for i, (g, w) in enumerate(zip(got, want)):
        if i == 5:
            g, w = g[:1], w[:1]
        np.testing.assert_allclose(g, w, err_msg=str(i), **TOL)


@pytest.mark.slow
def test_keras_file_of_our_layers_loads_without_custom_objects(tmp_path):
    keras.utils.set_random_seed(1)
    ids_in = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(20, 4, mask_zero=True)(ids_in)
    prev_in = keras.Input((None, None))
    outs = []
    for layer in family_layers():
        if isinstance(layer, ResidualScaledDotProductAttention):
            outs += layer([x, prev_in])
        elif isinstance(layer, ScaledDotProductAttention):
            outs += layer([x, x, x])
        else:
            outs += keras.tree.flatten(layer(x))
    model = keras.Model([ids_in, prev_in], outs)
    ids = np.array([[3, 5, 7, 2], [4, 8, 0, 0]])
    loaded = save_load_predict(model, [ids, rand((2, 4, 4), 0)], str(tmp_path / "ours.keras"))
    mine = [type(layer) for layer in model.layers]
    assert [type(layer) for layer in loaded.layers] == mine
    assert loaded.get_layer("mh").layers[0].get_weights()[0].shape == (4, 3)


# ------------------------------------------------------------------ README examples
# keras-multi-head 0.29's README, every example, with only the import changed
# (``from keras_multi_head import`` -> ``from seqlab.layers import``); the models are
# then run briefly (not in the README). keras-self-attention 0.51's README has no
# example for these layers (only for SeqSelfAttention: tests/test_attention_readme.py).
@pytest.mark.slow
def test_readme_duplicate_layers():
    from tensorflow import keras

    from seqlab.layers import MultiHead

    model = keras.models.Sequential()
    model.add(keras.layers.Embedding(input_dim=100, output_dim=20, name='Embedding'))
    model.add(MultiHead(keras.layers.LSTM(units=32), layer_num=5, name='Multi-LSTMs'))
    model.add(keras.layers.Flatten(name='Flatten'))
    model.add(keras.layers.Dense(units=4, activation='softmax', name='Dense'))
    model.build()
    model.summary()

    out = model.predict(np.array([[1, 2, 3], [4, 5, 6]]), verbose=0)
    assert out.shape == (2, 4) and isinstance(model.layers[1], MultiHead)
    assert model.layers[1].compute_output_shape((None, 3, 20)) == (None, 32, 5)


def test_readme_multiple_layers():
    from tensorflow import keras

    from seqlab.layers import MultiHead

    model = keras.models.Sequential()
    model.add(keras.layers.Embedding(input_dim=100, output_dim=20, name='Embedding'))
    model.add(MultiHead([
        keras.layers.Conv1D(filters=32, kernel_size=3, padding='same'),
        keras.layers.Conv1D(filters=32, kernel_size=5, padding='same'),
        keras.layers.Conv1D(filters=32, kernel_size=7, padding='same'),
    ], name='Multi-CNNs'))
    model.build()
    model.summary()

    out = model.predict(np.array([[1, 2, 3, 4]]), verbose=0)
    assert out.shape == (1, 4, 32, 3)
    assert [sub.kernel.shape[0] for sub in model.layers[1].layers] == [3, 5, 7]


def test_readme_regularization():
    from tensorflow import keras

    from seqlab.layers import MultiHead

    model = keras.models.Sequential()
    model.add(keras.layers.Embedding(input_dim=5, output_dim=3, name='Embed'))
    model.add(MultiHead(
        layer=keras.layers.Bidirectional(keras.layers.LSTM(units=16), name='LSTM'),
        layer_num=5,
        reg_index=[1, 4],
        reg_slice=(slice(None, None), slice(32, 48)),
        reg_factor=0.1,
        name='Multi-Head-Attention',
    ))
    model.add(keras.layers.Flatten(name='Flatten'))
    model.add(keras.layers.Dense(units=2, activation='softmax', name='Dense'))
    model.build()

    # Run eagerly (compiling a training step for 5 Bi-LSTMs takes ~20 s on this machine).
    x = np.array([[1, 2, 3], [4, 0, 1]])
    with tf.GradientTape() as tape:
        out = model(x)
        reg = tf.add_n(model.losses)
    assert out.shape == (2, 2) and len(model.losses) == 2 and float(reg) > 0
    copies = model.layers[1].layers
    kernels = [c.forward_layer.cell.recurrent_kernel for c in copies]
    assert all(np.any(g.numpy()[:, 32:48]) for g in tape.gradient(reg, kernels))


def test_readme_multi_head_attention():
    from tensorflow import keras

    from seqlab.layers import MultiHeadAttention

    input_layer = keras.layers.Input(
        shape=(2, 3),
        name='Input',
    )
    att_layer = MultiHeadAttention(
        head_num=3,
        name='Multi-Head',
    )(input_layer)
    model = keras.models.Model(inputs=input_layer, outputs=att_layer)
    model.compile(
        optimizer='adam',
        loss='mse',
        metrics={},
    )
    model.summary()

    assert model.predict(rand((4, 2, 3), 0), verbose=0).shape == (4, 2, 3)
    assert [w.name for w in model.layers[1].weights][:2] == ['Multi-Head_Wq', 'Multi-Head_bq']


def test_readme_multi_head_attention_query_key_value():
    from tensorflow import keras

    from seqlab.layers import MultiHeadAttention

    input_query = keras.layers.Input(
        shape=(2, 3),
        name='Input-Q',
    )
    input_key = keras.layers.Input(
        shape=(4, 5),
        name='Input-K',
    )
    input_value = keras.layers.Input(
        shape=(4, 6),
        name='Input-V',
    )
    att_layer = MultiHeadAttention(
        head_num=3,
        name='Multi-Head',
    )([input_query, input_key, input_value])
    model = keras.models.Model(inputs=[input_query, input_key, input_value], outputs=att_layer)
    model.compile(
        optimizer='adam',
        loss='mse',
        metrics={},
    )
    model.summary()

    out = model.predict([rand((4, 2, 3), 0), rand((4, 4, 5), 1), rand((4, 4, 6), 2)],
                        verbose=0)
    assert out.shape == (4, 2, 6)


# ------------------------------------------------------------------ backends
def backend_cases():
    """(layer, inputs, masks, list?) for every layer; masks padded, never empty rows."""
    x = rand((2, 5, 6), 0)
    mask = padding_mask(2, 5, 1)
    q, k, v = rand((2, 4, 6), 1), rand((2, 5, 6), 2), rand((2, 5, 3), 3)
    prev = rand((2, 5, 5), 4)
    return [
        (SeqWeightedAttention(return_attention=True), [x], [mask], False),
        (SeqWeightedAttention(use_bias=False), [x], None, False),
        (ScaledDotProductAttention(return_attention=True, history_only=True), [x], [mask],
         False),
        (ScaledDotProductAttention(return_attention=True), [q, k, v],
         [None, mask, None], True),
        (ResidualScaledDotProductAttention(return_attention=True), [x, prev], [mask, None],
         True),
        (ResidualScaledDotProductAttention(history_only=True), [q, k, v, prev[:, :4]], None,
         True),
        (MultiHeadAttention(head_num=3), [x], [mask], False),
        (MultiHeadAttention(head_num=3, history_only=True, activation="tanh"),
         [q, k, rand((2, 5, 6), 5)], [mask[:, :4], mask, None], True),
        (MultiHead(keras.layers.Dense(3, activation="tanh"), layer_num=2, hidden_dim=4,
                   reg_index=0, reg_factor=0.1), [x], None, False),
        (MultiHead(keras.layers.GRU(3, return_sequences=True), layer_num=2), [x], [mask],
         False),
    ]


@pytest.fixture(scope="module")
def tf_family_results(tmp_path_factory):
    import attention_family_backend_check as check

    tmp = tmp_path_factory.mktemp("family_backends")
    arrays, cases = {}, []
    for i, (layer, xs, masks, as_list) in enumerate(backend_cases()):
        shapes = [t.shape for t in xs]
        layer.build(shapes if as_list else shapes[0])
        for j, w in enumerate(layer.get_weights()):
            arrays[f"w{i}_{j}"] = rand(w.shape, 100 * i + j, 0.5)
        names = []
        for j, t in enumerate(xs):
            arrays[f"x{i}_{j}"] = t
            names.append(f"x{i}_{j}")
        mask_names = None
        if masks is not None:
            mask_names = []
            for j, m in enumerate(masks):
                if m is not None:
                    arrays[f"m{i}_{j}"] = m
                mask_names.append(None if m is None else f"m{i}_{j}")
        cases.append({"layer": keras.saving.serialize_keras_object(layer), "inputs": names,
                      "masks": mask_names, "list": as_list,
                      "n_weights": len(layer.get_weights())})
    np.savez(tmp / "cases.npz", **arrays)
    (tmp / "cases.json").write_text(json.dumps(cases))
    return tmp, check.run(cases, arrays)


def test_backend_check_runs_every_layer_under_tensorflow(tf_family_results):
    _, results = tf_family_results
    names = {type(case[0]).__name__ for case in backend_cases()}
    assert names == set(OURS)
    assert all(np.all(np.isfinite(v)) for v in results.values())
    assert any(k.startswith("loss8") and v.size == 1 for k, v in results.items())


@pytest.mark.slow
@pytest.mark.backends
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_backend_agrees_with_tensorflow(backend, tf_family_results):
    pytest.importorskip(backend)
    tmp, want = tf_family_results
    out = tmp / f"{backend}.npz"
    env = dict(os.environ, KERAS_BACKEND=backend, CUDA_VISIBLE_DEVICES="",
               JAX_PLATFORMS="cpu", PYTHONPATH=os.pathsep.join([str(ROOT), str(TESTS)]))
    proc = subprocess.run(
        [sys.executable, str(TESTS / "attention_family_backend_check.py"),
         str(tmp / "cases.npz"), str(tmp / "cases.json"), str(out)],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    got = dict(np.load(out))
    assert str(got.pop("backend")) == backend
    assert set(got) == set(want)
    for key in sorted(want):
        np.testing.assert_allclose(got[key], want[key], rtol=1e-5, atol=1e-5, err_msg=key)


def test_ops_only_no_tensorflow_in_the_layers():
    for module in ("weighted", "scaled_dot", "multihead"):
        source = (ROOT / "seqlab" / "layers" / f"{module}.py").read_text()
        assert "tensorflow" not in source and "import tf" not in source, module
