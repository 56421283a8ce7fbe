"""FusedBidirectional: Keras' Bidirectional LSTM computed by TensorFlow's fused kernel.

The oracle is keras.layers.Bidirectional(LSTM) itself, with the same weights: outputs and
gradients at real positions, padding at the end of each row as seqlab's batches have it. Which
computation ran is read from the traced graph's ops (``BlockLSTM``, ``BlockLSTMGrad``).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqlab.layers.bilstm import FusedBidirectional

from conftest import op_types

B, T, D, H = 5, 9, 6, 4


def _pair(implementation="fused", **lstm_kwargs):
    """A Keras Bidirectional LSTM and a FusedBidirectional with the same (large) weights."""
    keras.utils.set_random_seed(3)
    ref = keras.layers.Bidirectional(keras.layers.LSTM(H, return_sequences=True,
                                                       **lstm_kwargs))
    new = FusedBidirectional(keras.layers.LSTM(H, return_sequences=True, **lstm_kwargs),
                             implementation=implementation)
    ref.build((None, None, D))
    new.build((None, None, D))
    # Large weights drive the cell state past +-3, where a clipping kernel would differ.
    new.set_weights([3 * w for w in ref.get_weights()])
    ref.set_weights(new.get_weights())
    return ref, new


def _inputs(lengths):
    x = tf.random.stateless_normal((len(lengths), T, D), seed=[1, 2]) * 2
    mask = tf.constant(np.arange(T)[None, :] < np.asarray(lengths)[:, None])
    return x, mask


def _outputs_and_gradients(layer, x, mask, ops=None):
    """The layer's outputs and gradients; ``ops``, a set, gets the traced graph's op types."""
    real = tf.ones(tf.shape(x)[:2]) if mask is None else tf.cast(mask, tf.float32)

    @tf.function(input_signature=[tf.TensorSpec((None, None, D)),
                                  tf.TensorSpec((None, None), tf.float32)])
    def run(x, real):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, mask=None if mask is None else real > 0)
            loss = tf.reduce_sum(tf.sin(y) * real[:, :, None])
        return y, tape.gradient(loss, [x] + layer.trainable_variables)

    y, grads = run(x, real)
    if ops is not None:
        ops.update(op_types(run, x, real))
    return y.numpy(), [g.numpy() for g in grads]


# Ragged lengths are the quick part (make test-fast); equal lengths and no mask, slow.
@pytest.mark.parametrize("lengths", [[9, 4, 1, 7, 9],
                                     pytest.param([9] * 5, marks=pytest.mark.slow),
                                     pytest.param(None, marks=pytest.mark.slow)])
@pytest.mark.parametrize("implementation", ["fused", "block"])
def test_fused_equals_keras_bidirectional(lengths, implementation):
    """Both fused ways: the forward kernel with seqlab's gradient (the default) or with
    TensorFlow's ``BlockLSTMGrad``."""
    ref, new = _pair(implementation)
    x, mask = _inputs(lengths or [T] * B)
    if lengths is None:
        mask = None
    y_ref, g_ref = _outputs_and_gradients(ref, x, mask)
    ops = set()
    y_new, g_new = _outputs_and_gradients(new, x, mask, ops)
    assert new.fusable and "BlockLSTM" in ops, "the fused path did not run"
    assert ("BlockLSTMGrad" in ops) == (implementation == "block")
    real = np.ones((B, T), bool) if mask is None else mask.numpy()
    assert np.abs(y_ref[real]).max() > 0.5
    np.testing.assert_allclose(y_new[real], y_ref[real], atol=1e-5)
    assert (y_new[~real] == 0).all()
    assert len(g_new) == len(g_ref) == 7
    for a, b in zip(g_new, g_ref):
        np.testing.assert_allclose(a, b, atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("kwargs", [{"dropout": 0.5}, {"activation": "relu"},
                                    {"implementation": "keras"}])
def test_what_the_kernel_cannot_do_runs_keras_code(kwargs):
    ref, new = _pair(**kwargs)
    assert new.fusable == ("implementation" in kwargs)  # a choice, or what the kernel lacks
    x, mask = _inputs([9, 4, 1, 7, 9])
    ops = set()
    y_new, g_new = _outputs_and_gradients(new, x, mask, ops)
    y_ref, g_ref = _outputs_and_gradients(ref, x, mask)
    assert "BlockLSTM" not in ops, "the fused path ran"
    np.testing.assert_allclose(y_new, y_ref, atol=1e-6)
    for a, b in zip(g_new, g_ref, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("implementation", ["fused", "block"])
def test_saves_and_loads_as_itself(tmp_path, implementation):
    """The implementation goes into the config only when it is not the default."""
    _, layer = _pair(implementation)
    assert ("implementation" in layer.get_config()) == (implementation != "fused")
    inputs = keras.Input((None, D))
    model = keras.Model(inputs, layer(inputs))
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.layers[-1], FusedBidirectional)
    assert loaded.layers[-1].implementation == implementation
    x, _ = _inputs([T] * B)
    np.testing.assert_array_equal(loaded(x), model(x))
    with pytest.raises(ValueError, match="implementation must be one of fused, block, keras"):
        FusedBidirectional(keras.layers.LSTM(H), implementation="cudnn")


def test_the_trainer_builds_its_bilstm_fused():
    from seqlab.config import ModelConfig
    from seqlab.model import ModelParts, build_model
    from seqlab.vocab import LabelVocabulary, Vocabulary

    config = ModelConfig.model_validate({"lstm": {"units": 4, "layers": 2}})
    model = build_model(config, Vocabulary(["a"]), LabelVocabulary(["O", "B-X"]))
    kinds = [type(layer) for layer in ModelParts(model).bilstm]
    assert kinds == [FusedBidirectional, FusedBidirectional]
    assert all(layer.fusable for layer in ModelParts(model).bilstm)


@pytest.mark.parametrize("steps", [1, 2])
def test_fused_gradient_at_one_or_two_time_steps(steps):
    """The backward loop at its shortest: one time step (no previous state) and two."""
    ref, new = _pair()
    x = tf.random.stateless_normal((3, steps, D), seed=[4, steps]) * 2
    mask = tf.constant([[True] * steps, [True] + [False] * (steps - 1), [True] * steps])
    y_ref, g_ref = _outputs_and_gradients(ref, x, mask)
    y_new, g_new = _outputs_and_gradients(new, x, mask)
    np.testing.assert_allclose(y_new[mask.numpy()], y_ref[mask.numpy()], atol=1e-5)
    for a, b in zip(g_new, g_ref, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4)


def test_the_reversal_is_tf_reverse_sequence_and_its_own_gradient():
    """`_reverser` against TensorFlow's ReverseSequence: values and gradients, lengths 0 to T."""
    from seqlab.layers.bilstm import _reverser

    rng = np.random.default_rng(3)
    x = tf.constant(rng.normal(size=(6, 5, 3)).astype("float32"))
    lengths = tf.constant([0, 1, 6, 3, 5], tf.int32)
    weights = tf.constant(rng.normal(size=(6, 5, 3)).astype("float32"))
    results = []
    for reverse in (_reverser(lengths, 6, 5),
                    lambda v: tf.reverse_sequence(v, lengths, seq_axis=0, batch_axis=1)):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = reverse(x)
            loss = tf.reduce_sum(out * weights)
        results.append((out.numpy(), tape.gradient(loss, x).numpy()))
    (out, grad), (expected, expected_grad) = results
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(grad, expected_grad)
    assert not np.array_equal(out, x.numpy())
