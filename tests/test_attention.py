"""SeqSelfAttention (issue 3): parity with keras-self-attention 0.51, masking, errors, saving.

Oracles: the original package (``keras_self_attention``), the NumPy implementation of the
equations in ``attention_oracle.py`` and a few hand-computed numbers.
"""

import inspect
import json
import os
import subprocess
import sys

import keras
import keras_self_attention as orig
import numpy as np
import pytest
import tensorflow as tf
from attention_oracle import seq_self_attention as np_attention

import seqlab.layers
from seqlab.layers import SeqSelfAttention

from conftest import ROOT, TESTS

Original = orig.SeqSelfAttention

TOL = {"rtol": 1e-5, "atol": 1e-5}

# Configurations covering both types, odd and even widths, history with and without
# width, activations and the biases switched off.
CONFIGS = [
    {},
    {"attention_type": "multiplicative"},
    {"attention_width": 3},
    {"attention_width": 4},
    {"attention_width": 1},
    {"attention_width": 4, "attention_type": "multiplicative"},
    {"attention_width": 5, "attention_type": "multiplicative"},
    {"attention_width": 3, "history_only": True},
    {"attention_width": 4, "history_only": True, "attention_type": "multiplicative"},
    {"history_only": True},
    {"history_only": True, "attention_type": "multiplicative"},
    {"attention_activation": "sigmoid"},
    {"attention_activation": "tanh", "attention_width": 6},
    {"attention_activation": "relu", "attention_type": "multiplicative", "attention_width": 2},
    {"use_additive_bias": False, "use_attention_bias": False},
    {"use_additive_bias": False, "attention_width": 5},
    {"use_attention_bias": False, "attention_type": "multiplicative"},
    {"attention_width": 40},  # wider than the sequence
    {"attention_width": 7, "attention_regularizer_weight": 0.1},
    {"attention_width": 2, "history_only": True, "attention_regularizer_weight": 0.3},
    {"attention_regularizer_weight": 0.1, "attention_type": "multiplicative"},
    {"attention_regularizer_weight": 0.2, "history_only": True},
]


def cfg_id(cfg):
    return ",".join(f"{k}={v}" for k, v in cfg.items()) or "defaults"


def random_weights(layer, seed):
    rs = np.random.RandomState(seed)
    return [rs.normal(0.0, 0.5, size=w.shape).astype("float32") for w in layer.get_weights()]


def make_pair(cfg, d, units=5, seed=0, return_attention=True, switches=None):
    """The original and our layer (with ``switches`` too), built for d features, with the
    same random weights."""
    o = Original(units=units, return_attention=return_attention, **cfg)
    o.build((None, None, d))
    o.set_weights(random_weights(o, seed))
    s = SeqSelfAttention(units=units, return_attention=return_attention, **cfg,
                         **(switches or {}))
    s.build((None, None, d))
    s.set_weights(o.get_weights())
    return o, s


# Global attention in blocks of 8 queries, to test the blocked path.
SMALL_BLOCKS = {"block_elements": 1}
# The switches that pick a computation, not what is computed: ours alone (see
# test_switches_pick_the_computation_and_are_saved_only_when_set).
SWITCHES = {"dense_max_length": 48, "block_elements": 1 << 21}


# ---------------------------------------------------------------- API, constants
def test_constructor_defaults_match_original():
    ours = inspect.signature(SeqSelfAttention.__init__).parameters
    theirs = inspect.signature(Original.__init__).parameters
    # The original's arguments in its order, then our switches, then **kwargs.
    assert list(ours) == list(theirs)[:-1] + list(SWITCHES) + ["kwargs"]
    for name, default in SWITCHES.items():
        assert ours[name].default == default, name
    for name, param in theirs.items():
        assert ours[name].default == param.default, name
    assert SeqSelfAttention.ATTENTION_TYPE_ADD == "additive"
    assert SeqSelfAttention.ATTENTION_TYPE_MUL == "multiplicative"
    layer = SeqSelfAttention()
    assert layer.units == 32 and layer.attention_width is None
    assert layer.attention_type == "additive" and layer.supports_masking


def test_custom_objects_lists_every_seqlab_layer():
    objects = SeqSelfAttention.get_custom_objects()
    assert objects["SeqSelfAttention"] is SeqSelfAttention
    assert seqlab.layers.get_custom_objects() == objects
    assert keras.saving.get_registered_name(SeqSelfAttention) == "seqlab>SeqSelfAttention"

    @keras.saving.register_keras_serializable(package="seqlab")
    class _ProbeLayerForTest(keras.layers.Layer):
        pass

    try:
        assert SeqSelfAttention.get_custom_objects()["_ProbeLayerForTest"] is _ProbeLayerForTest
    finally:
        keras.saving.get_custom_objects().pop("seqlab>_ProbeLayerForTest")


@pytest.mark.parametrize(
    "cfg",
    [{}, {"use_additive_bias": False}, {"use_attention_bias": False},
     {"attention_type": "multiplicative"},
     {"attention_type": "multiplicative", "use_attention_bias": False}],
    ids=cfg_id,
)
def test_weights_same_order_shapes_and_names(cfg):
    o = Original(units=7, name="att", **cfg)
    o.build((None, None, 6))
    s = SeqSelfAttention(units=7, name="att", **cfg)
    s.build((None, None, 6))
    assert [w.shape for w in s.weights] == [w.shape for w in o.weights]
    assert [w.name for w in s.weights] == [w.name for w in o.weights]
    assert [w.path for w in s.weights] == [w.path for w in o.weights]


# ---------------------------------------------------------------- parity
@pytest.fixture(params=["default", "band"])
def local_path(request):
    """Local attention over short sequences the default way (dense, window masked), or
    on the band path at every length: the layer's keyword arguments."""
    return {"band": {"dense_max_length": 0}, "default": {}}[request.param]


@pytest.mark.parametrize("t_len", [1, 10, 33])
@pytest.mark.parametrize("cfg", CONFIGS, ids=cfg_id)
def test_parity_with_original(cfg, t_len, local_path):
    x = np.random.RandomState(t_len).normal(size=(3, t_len, 6)).astype("float32")
    o, s = make_pair(cfg, 6, switches=local_path)
    out_o, att_o = o(x)
    out_s, att_s = s(x)
    np.testing.assert_allclose(out_s, out_o, **TOL)
    np.testing.assert_allclose(att_s, att_o, **TOL)
    assert len(s.losses) == len(o.losses)
    for ls, lo in zip(s.losses, o.losses):
        np.testing.assert_allclose(float(ls), float(lo), rtol=1e-5)


@pytest.mark.parametrize(
    "cfg", [c for c in CONFIGS if "attention_width" not in c], ids=cfg_id
)
def test_parity_blocked_global_path(cfg):
    x = np.random.RandomState(1).normal(size=(2, 21, 6)).astype("float32")
    o, s = make_pair(cfg, 6, switches=SMALL_BLOCKS)
    assert s._query_block(21) == (8, True)
    for ret in (True, False):
        s.return_attention = o.return_attention = ret
        out_o, out_s = o(x), s(x)
        for a, b in zip(keras.tree.flatten(out_s), keras.tree.flatten(out_o)):
            np.testing.assert_allclose(a, b, **TOL)


@pytest.mark.parametrize(
    "cfg",
    [{}, {"history_only": True, "attention_activation": "sigmoid"},
     {"attention_width": 4}, {"attention_width": 5, "history_only": True},
     {"attention_type": "multiplicative", "attention_width": 3},
     {"attention_type": "multiplicative"},
     {"attention_regularizer_weight": 0.3},
     {"attention_width": 6, "attention_regularizer_weight": 0.3}],
    ids=cfg_id,
)
def test_gradients_match_original(cfg):
    x = tf.constant(np.random.RandomState(2).normal(size=(2, 19, 6)).astype("float32"))

    def grads(layer):
        @tf.function
        def f(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x)
                loss = tf.reduce_sum(tf.sin(y)) + tf.add_n([tf.constant(0.0)] + layer.losses)
            return [y, loss] + tape.gradient(loss, [x] + layer.trainable_weights)

        return [v.numpy() for v in f(x)]

    o, s = make_pair(cfg, 6, return_attention=False, switches=SMALL_BLOCKS)
    for got, want in zip(grads(s), grads(o)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=2e-5)


@pytest.mark.parametrize("t_len", [9, 60])
@pytest.mark.parametrize(
    "cfg", [{"attention_width": 5}, {"attention_width": 4, "history_only": True},
            {"attention_width": 3, "attention_type": "multiplicative"}], ids=cfg_id)
def test_unknown_length_takes_the_path_its_length_needs(cfg, t_len):
    """Traced with the time dimension unknown (as in training), a short batch goes the dense
    way and a long one the band way, chosen when run: both give the original's numbers and
    gradients, and with padding the NumPy equations' numbers."""
    rs = np.random.RandomState(t_len)
    x = tf.constant(rs.normal(size=(2, t_len, 6)).astype("float32"))
    o, s = make_pair(cfg, 6, return_attention=False)

    def grads(layer, signature):
        @tf.function(input_signature=signature)
        def f(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x)
                loss = tf.reduce_sum(tf.sin(y))
            return [y] + tape.gradient(loss, [x] + layer.trainable_weights)

        return [v.numpy() for v in f(x)]

    for got, want in zip(grads(s, [tf.TensorSpec((None, None, 6))]), grads(o, None)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=2e-5)

    mask = np.arange(t_len)[None, :] < np.array([[t_len], [t_len - 3]])
    masked = tf.function(lambda x, m: s(x, mask=m), input_signature=[
        tf.TensorSpec((None, None, 6)), tf.TensorSpec((None, None), tf.bool)])
    want, _, _ = np_attention(x.numpy(), s.get_weights(), cfg, mask)
    np.testing.assert_allclose(masked(x, tf.constant(mask)), want, **TOL)


@pytest.mark.parametrize("cfg", CONFIGS[:12], ids=cfg_id)
def test_matches_numpy_equations(cfg):
    x = np.random.RandomState(3).normal(size=(2, 12, 5)).astype("float32")
    s = SeqSelfAttention(units=4, return_attention=True, **cfg)
    s.build(x.shape)
    s.set_weights(random_weights(s, 4))
    out, att = s(x)
    want_out, want_att, _ = np_attention(x, s.get_weights(), cfg)
    np.testing.assert_allclose(att, want_att, **TOL)
    np.testing.assert_allclose(out, want_out, **TOL)


def test_hand_computed_numbers():
    # d = 1, multiplicative, Wa = [[1]], ba = 0: e[t, t'] = x_t * x_t'.
    x = np.array([[[1.0], [2.0]]], "float32")
    s = SeqSelfAttention(attention_type="multiplicative", return_attention=True)
    s.build(x.shape)
    s.set_weights([np.ones((1, 1), "float32"), np.zeros((1,), "float32")])
    out, att = s(x)
    # Row 0: softmax([1, 2]); row 1: softmax([2, 4]).
    a0 = np.exp([1.0, 2.0]) / np.exp([1.0, 2.0]).sum()
    a1 = np.exp([2.0, 4.0]) / np.exp([2.0, 4.0]).sum()
    np.testing.assert_allclose(att[0], [a0, a1], rtol=1e-6)
    np.testing.assert_allclose(out[0, :, 0], [a0 @ [1, 2], a1 @ [1, 2]], rtol=1e-6)
    # history_only, width 1: each token attends to itself only.
    s1 = SeqSelfAttention(attention_type="multiplicative", history_only=True,
                          attention_width=1, return_attention=True)
    s1.build(x.shape)
    s1.set_weights(s.get_weights())
    out1, att1 = s1(x)
    np.testing.assert_array_equal(att1[0], np.eye(2))
    np.testing.assert_array_equal(out1, x)


# ---------------------------------------------------------------- masking
def _masked_case(seed=5):
    rs = np.random.RandomState(seed)
    x = rs.normal(size=(3, 11, 5)).astype("float32")
    mask = np.ones((3, 11), bool)
    mask[0, 7:] = False  # right padding
    mask[1, :3] = False  # left padding
    mask[2, 4:6] = False  # a hole
    return x, mask


MASK_CONFIGS = [
    {}, {"attention_type": "multiplicative"}, {"attention_width": 3},
    {"attention_width": 4, "attention_type": "multiplicative"},
    {"history_only": True}, {"attention_width": 2, "history_only": True},
    {"attention_width": 1}, {"attention_regularizer_weight": 0.5},
    {"attention_width": 3, "attention_regularizer_weight": 0.5},
    {"attention_width": 2, "history_only": True, "attention_regularizer_weight": 0.5,
     "attention_type": "multiplicative"},
]


@pytest.mark.parametrize("blocked", [False, True], ids=["direct", "blocked"])
@pytest.mark.parametrize("cfg", MASK_CONFIGS, ids=cfg_id)
def test_mask_matches_numpy(cfg, blocked):
    x, mask = _masked_case()
    s = SeqSelfAttention(units=4, return_attention=True, **cfg,
                         **(SMALL_BLOCKS if blocked else {}))
    s.build(x.shape)
    s.set_weights(random_weights(s, 6))
    out, att = s(x, mask=mask)
    want_out, want_att, want_reg = np_attention(x, s.get_weights(), cfg, mask)
    np.testing.assert_allclose(att, want_att, **TOL)
    np.testing.assert_allclose(out, want_out, **TOL)
    att = np.asarray(att)
    # A padded key gets exactly 0 weight from every query.
    assert np.all(att.transpose(0, 2, 1)[~mask] == 0.0)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(att))
    if cfg.get("attention_regularizer_weight"):
        assert len(s.losses) == 1
        np.testing.assert_allclose(float(s.losses[0]), want_reg, rtol=1e-5)
    # The regulariser without return_attention (band / blocked paths) agrees.
    s.return_attention = False
    s(x, mask=mask)
    if cfg.get("attention_regularizer_weight"):
        np.testing.assert_allclose(float(s.losses[0]), want_reg, rtol=1e-5)


def test_empty_window_gives_zeros_not_nan():
    x = np.random.RandomState(7).normal(size=(1, 6, 4)).astype("float32")
    mask = np.array([[False, True, True, False, False, False]])
    for cfg in ({"attention_width": 1}, {"attention_width": 2, "history_only": True},
                {"history_only": True}):
        s = SeqSelfAttention(units=3, return_attention=True, **cfg)
        out, att = s(x, mask=mask)
        out, att = np.asarray(out), np.asarray(att)
        assert np.all(np.isfinite(out)) and np.all(np.isfinite(att)), cfg
        assert np.all(att[0, 0] == 0.0) and np.all(out[0, 0] == 0.0), cfg  # nothing before 0
        if cfg != {"history_only": True}:  # positions 4, 5 see only padding
            assert np.all(att[0, 4:] == 0.0) and np.all(out[0, 4:] == 0.0), cfg
    # Fully padded sequence, gradients finite too.
    s = SeqSelfAttention(units=3, attention_regularizer_weight=0.1)
    xv = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xv)
        y = s(xv, mask=np.zeros((1, 6), bool))
        loss = tf.reduce_sum(y) + tf.add_n(s.losses)
    g = tape.gradient(loss, [xv] + s.trainable_weights)
    assert np.all(np.asarray(y) == 0.0)
    assert all(np.all(np.isfinite(v)) for v in g)


@pytest.mark.parametrize(
    "cfg",
    [{}, {"attention_type": "multiplicative"}, {"attention_width": 5},
     {"attention_width": 4, "history_only": True}, {"history_only": True}],
    ids=cfg_id,
)
def test_appending_padding_does_not_change_real_tokens(cfg):
    rs = np.random.RandomState(8)
    x = rs.normal(size=(2, 7, 5)).astype("float32")
    x_pad = np.concatenate([x, rs.normal(size=(2, 6, 5)).astype("float32")], axis=1)
    mask = np.zeros((2, 13), bool)
    mask[:, :7] = True
    s = SeqSelfAttention(units=4, return_attention=True, **cfg)
    s.build(x.shape)
    s.set_weights(random_weights(s, 9))
    out, att = s(x)
    out_p, att_p = s(x_pad, mask=mask)
    np.testing.assert_allclose(np.asarray(out_p)[:, :7], out, **TOL)
    np.testing.assert_allclose(np.asarray(att_p)[:, :7, :7], att, **TOL)
    assert np.all(np.asarray(att_p)[:, :, 7:] == 0.0)


def test_original_leaks_padding_and_we_do_not():
    """The one deliberate difference: the original lets real tokens attend to padding."""
    x, mask = _masked_case()
    o, s = make_pair({}, 5)
    _, att_o = o(x, mask=mask)
    _, att_s = s(x, mask=mask)
    leak_o = np.asarray(att_o).transpose(0, 2, 1)[~mask].sum()
    leak_s = np.asarray(att_s).transpose(0, 2, 1)[~mask].sum()
    assert leak_o > 0.1 and leak_s == 0.0


def test_compute_mask_passes_the_mask_on():
    inputs = keras.Input((None,), dtype="int32")
    emb = keras.layers.Embedding(10, 4, mask_zero=True)(inputs)
    att_layer = SeqSelfAttention(units=3, return_attention=True)
    out, att = att_layer(emb)
    probe = keras.layers.Lambda(lambda t: t, name="probe")
    model = keras.Model(inputs, [out, att])
    tokens = np.array([[3, 4, 0, 0]])
    mask = np.array([[True, True, False, False]])
    e = model.layers[1](tokens)
    got = att_layer.compute_mask(e, mask)
    assert isinstance(got, list) and got[1] is None
    np.testing.assert_array_equal(got[0], mask)
    plain = SeqSelfAttention(units=3)
    np.testing.assert_array_equal(plain.compute_mask(e, mask), mask)
    assert plain.compute_mask(e, None) is None
    del probe
    # The mask reaches the next layer: an LSTM after the layer skips padded steps.
    inputs = keras.Input((None,), dtype="int32")
    h = keras.layers.Embedding(10, 4, mask_zero=True)(inputs)
    h = SeqSelfAttention(units=3)(h)
    h = keras.layers.LSTM(2)(h)
    model = keras.Model(inputs, h)
    np.testing.assert_allclose(model(np.array([[3, 4, 0, 0]])), model(np.array([[3, 4]])),
                               atol=1e-6)


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 4, 5)])
def test_wrong_rank_is_a_clear_error(shape):
    s = SeqSelfAttention()
    with pytest.raises(ValueError, match=r"\(batch, time, features\)") as err:
        s(np.zeros(shape, "float32"))
    assert str(shape) in str(err.value) or str(list(shape)) in str(err.value)


@pytest.mark.parametrize(
    "kwargs, names",
    [({"attention_type": "dot"}, ["attention_type", "'additive'", "'multiplicative'", "'dot'"]),
     ({"attention_width": 0}, ["attention_width", "None", ">= 1", "0"]),
     ({"attention_width": -3}, ["attention_width", "-3"]),
     ({"attention_width": 2.5}, ["attention_width", "2.5"]),
     ({"attention_regularizer_weight": -0.1}, ["attention_regularizer_weight", ">= 0", "-0.1"]),
     ({"units": 0}, ["units", ">= 1"])],
)
def test_bad_arguments_are_clear_errors(kwargs, names):
    with pytest.raises(ValueError) as err:
        SeqSelfAttention(**kwargs)
    for name in names:
        assert name in str(err.value)


# ---------------------------------------------------------------- mixed precision
@pytest.mark.parametrize("policy, tol", [("mixed_float16", 2e-2), ("mixed_bfloat16", 8e-2)])
@pytest.mark.parametrize(
    "cfg",
    [{}, {"attention_width": 3}, {"attention_type": "multiplicative"},
     {"attention_type": "multiplicative", "attention_width": 4, "history_only": True,
      "attention_regularizer_weight": 0.1}],
    ids=cfg_id,
)
def test_mixed_precision(policy, tol, cfg):
    x, mask = _masked_case()
    x = 4.0 * x  # large scores: must not overflow in half precision
    ref = SeqSelfAttention(units=4, return_attention=True, **cfg)
    ref.build(x.shape)
    ref.set_weights(random_weights(ref, 10))
    low = SeqSelfAttention(units=4, return_attention=True, dtype=policy, **cfg)
    low.build(x.shape)
    low.set_weights(ref.get_weights())
    assert all(w.dtype == "float32" for w in low.weights)
    out, att = low(x, mask=mask)
    want_out, want_att = ref(x, mask=mask)
    assert out.dtype == low.compute_dtype and att.dtype == low.compute_dtype
    out, att = np.asarray(out, "float32"), np.asarray(att, "float32")
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(att))
    assert np.all(att.transpose(0, 2, 1)[~mask] == 0.0)
    np.testing.assert_allclose(att, want_att, atol=tol)
    np.testing.assert_allclose(out, want_out, atol=tol * np.abs(x).max())
    if cfg.get("attention_regularizer_weight"):
        assert np.isfinite(float(low.losses[0]))


def test_mixed_precision_trains():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None,), dtype="int32")
    h = keras.layers.Embedding(20, 8, mask_zero=True, dtype="mixed_float16")(inputs)
    h = SeqSelfAttention(units=4, attention_width=3, dtype="mixed_float16",
                         attention_regularizer_weight=1e-3)(h)
    h = keras.layers.Dense(3, dtype="float32")(h)
    model = keras.Model(inputs, h)
    model.compile("adam", "sparse_categorical_crossentropy")
    x = np.random.RandomState(0).randint(1, 20, size=(8, 9))
    x[:, 6:] = 0
    hist = model.fit(x, np.zeros((8, 9)), epochs=2, batch_size=4, verbose=0)
    assert all(np.isfinite(hist.history["loss"]))


# ---------------------------------------------------------------- config, saving
FULL_CONFIG = {
    "units": 7, "attention_width": 6, "attention_type": "multiplicative",
    "return_attention": True, "history_only": True, "kernel_initializer": "he_uniform",
    "bias_initializer": "ones", "kernel_regularizer": keras.regularizers.L2(1e-3),
    "bias_regularizer": keras.regularizers.L1(2e-3),
    "kernel_constraint": keras.constraints.MaxNorm(2.0),
    "bias_constraint": keras.constraints.NonNeg(), "use_additive_bias": False,
    "use_attention_bias": False, "attention_activation": "sigmoid",
    "attention_regularizer_weight": 0.25, "name": "att",
}


def test_get_config_round_trips_every_argument():
    layer = SeqSelfAttention(**FULL_CONFIG)
    config = layer.get_config()
    params = set(inspect.signature(SeqSelfAttention.__init__).parameters) - {"self", "kwargs"}
    assert params - set(SWITCHES) <= set(config)
    clone = SeqSelfAttention.from_config(config)
    assert clone.get_config() == config
    json.dumps(keras.saving.serialize_keras_object(layer))  # JSON-able
    assert config["units"] == 7 and config["attention_width"] == 6
    assert config["history_only"] is True and config["attention_activation"] == "sigmoid"
    assert config["kernel_regularizer"]["config"]["l2"] == pytest.approx(1e-3)
    assert config["bias_constraint"]["class_name"] == "NonNeg"
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is SeqSelfAttention and restored.get_config() == config
    # Defaults too (attention_width None, no activation).
    default = SeqSelfAttention().get_config()
    assert SeqSelfAttention.from_config(default).get_config() == default


def test_switches_pick_the_computation_and_are_saved_only_when_set():
    """dense_max_length and block_elements choose how, not what: a config keeps the
    original's keys at their defaults and carries a switch that is set."""
    assert not set(SWITCHES) & set(SeqSelfAttention(units=3).get_config())
    layer = SeqSelfAttention(units=3, attention_width=3, dense_max_length=0, block_elements=1)
    config = layer.get_config()
    assert (config["dense_max_length"], config["block_elements"]) == (0, 1)
    clone = SeqSelfAttention.from_config(config)
    assert (clone.dense_max_length, clone.block_elements) == (0, 1)
    assert clone._query_block(40) == (8, True)
    assert SeqSelfAttention(units=3)._query_block(40) == (17472, False)  # 2**21 // (40 * 3)
    for bad in ({"dense_max_length": -1}, {"block_elements": 0}, {"dense_max_length": 2.5},
                {"block_elements": True}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            SeqSelfAttention(**bad)


def test_original_history_config_loads():
    """The original stores attention_width=1e9 for history_only without a width."""
    o = Original(history_only=True, units=4, return_attention=True)
    o.build((None, None, 5))
    o.set_weights(random_weights(o, 11))
    s = SeqSelfAttention.from_config(o.get_config())
    s.build((None, None, 5))
    s.set_weights(o.get_weights())
    x = np.random.RandomState(12).normal(size=(2, 9, 5)).astype("float32")
    for a, b in zip(s(x), o(x)):
        np.testing.assert_allclose(a, b, **TOL)


def _small_model(layer_cls, **cfg):
    inputs = keras.Input((None, 6), name="x")
    h = layer_cls(units=5, name="att", **cfg)(inputs)
    if isinstance(h, list):
        h = h[0]
    outputs = keras.layers.Dense(3, name="dense")(h)
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("ext", ["keras", "h5"])
@pytest.mark.parametrize(
    "cfg",
    [{"attention_activation": "sigmoid"},
     {"attention_type": "multiplicative", "attention_width": 4,
      "kernel_regularizer": "l2", "attention_regularizer_weight": 1e-3},
     {"history_only": True}],
    ids=cfg_id,
)
def test_loads_models_saved_by_original(tmp_path, ext, cfg):
    keras.utils.set_random_seed(1)
    model = _small_model(Original, bias_initializer="glorot_uniform", **cfg)
    path = str(tmp_path / f"orig.{ext}")
    model.save(path)
    x = np.random.RandomState(13).normal(size=(2, 10, 6)).astype("float32")
    want = model.predict(x, verbose=0)
    loaded = keras.models.load_model(path, custom_objects=SeqSelfAttention.get_custom_objects())
    assert type(loaded.get_layer("att")) is SeqSelfAttention
    np.testing.assert_allclose(loaded.predict(x, verbose=0), want, **TOL)


@pytest.mark.slow
def test_keras_file_loads_in_fresh_process_with_only_import_seqlab(tmp_path):
    keras.utils.set_random_seed(2)
    model = _small_model(SeqSelfAttention, attention_width=3, attention_activation="tanh",
                         attention_regularizer_weight=0.01)
    path = tmp_path / "ours.keras"
    model.save(path)
    x = np.random.RandomState(14).normal(size=(2, 8, 6)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "want.npy", model.predict(x, verbose=0))
    env = dict(os.environ, KERAS_BACKEND="tensorflow")
    subprocess.run([sys.executable, str(TESTS / "load_attention_model.py"), str(tmp_path)],
                   check=True, cwd=ROOT, env=env, timeout=120)
    np.testing.assert_allclose(np.load(tmp_path / "got.npy"), np.load(tmp_path / "want.npy"),
                               **TOL)


# ---------------------------------------------------------------- training, shapes
@pytest.mark.slow
@pytest.mark.parametrize(
    "cfg",
    [{"attention_width": 3}, {},
     {"attention_type": "multiplicative", "attention_regularizer_weight": 1e-3},
     {"attention_width": 4, "history_only": True, "attention_regularizer_weight": 1e-3}],
    ids=cfg_id,
)
def test_trains_on_variable_length_batches(cfg):
    """Time dimension unknown while tracing (tf.data padded batches)."""
    keras.utils.set_random_seed(3)
    inputs = keras.Input((None,), dtype="int32")
    h = keras.layers.Embedding(20, 8, mask_zero=True)(inputs)
    h = SeqSelfAttention(units=4, **cfg, **SMALL_BLOCKS)(h)
    h = keras.layers.Dense(3)(h)
    model = keras.Model(inputs, h)
    model.compile("adam", "sparse_categorical_crossentropy")
    rs = np.random.RandomState(0)
    lengths = [3, 9, 5, 12, 7, 4]
    seqs = [rs.randint(1, 20, size=n) for n in lengths]
    ds = tf.data.Dataset.from_generator(
        lambda: ((s, np.zeros_like(s)) for s in seqs),
        output_signature=(tf.TensorSpec((None,), tf.int32), tf.TensorSpec((None,), tf.int32)),
    ).padded_batch(2).apply(tf.data.experimental.assert_cardinality(3))
    hist = model.fit(ds, epochs=2, verbose=0, shuffle=False)  # a dataset is not shuffled by fit
    assert all(np.isfinite(hist.history["loss"]))


def test_compute_output_shape():
    s = SeqSelfAttention(return_attention=True)
    assert s.compute_output_shape((2, 7, 5)) == [(2, 7, 5), (2, 7, 7)]
    assert SeqSelfAttention().compute_output_shape((None, None, 5)) == (None, None, 5)
    out, att = s(keras.Input((None, 5)))
    assert tuple(out.shape) == (None, None, 5) and tuple(att.shape) == (None, None, None)


# ---------------------------------------------------------------- memory
@pytest.mark.slow
@pytest.mark.parametrize(
    "args, limit_mb",
    [(["band", "additive"], 400), (["band", "multiplicative"], 400),
     (["global", "additive"], 400)],
)
def test_memory_stays_small(args, limit_mb):
    """Forward+backward peak memory: no (T x T) tensor for bands, no (T x T x units) tanh.

    band: T=16384, width 9: one float32 (T x T) matrix alone would be 1 GiB.
    global additive: batch 2, T=1024, units 64: the (batch, T, T, units) tanh is 512 MiB.
    """
    proc = subprocess.run(
        [sys.executable, str(TESTS / "attention_memory.py"), *args],
        capture_output=True, text=True, cwd=ROOT, timeout=180, check=False,
        env=dict(os.environ, KERAS_BACKEND="tensorflow"),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    grown_mb = float(proc.stdout.split()[-1])
    assert grown_mb < limit_mb, proc.stdout
