"""CharCNN against the char CNN it replaces: PerToken(Sequential([Conv1D, GlobalMaxPooling1D]))."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqlab.layers.chars import CharCNN, PerToken

from conftest import op_types

B, T, C, D, F = 4, 7, 20, 5, 8


def reference(kernel_size, filters=F):
    """The char encoder before CharCNN."""
    return PerToken(keras.Sequential([
        keras.layers.Conv1D(filters, kernel_size, padding="same", activation="tanh"),
        keras.layers.GlobalMaxPooling1D(),
    ]))


def embedded(rng, kernel_size):
    """Embedded chars whose padding positions all hold one vector, as an embedding row gives,
    with lengths 0 (padding tokens), 1, C - 1, C and around C - kernel_size."""
    k = kernel_size
    lengths = rng.integers(0, C + 1, size=B * T)
    lengths[:8] = [0, 1, C - 1, C, C - k - 1, C - k, C - k + 1, 2]
    lengths = rng.permutation(lengths).reshape(B, T)
    mask = np.arange(C) < lengths[..., None]
    x = rng.normal(size=(B, T, C, D)).astype("float32")
    x[~mask] = rng.normal(size=D).astype("float32")
    return x, mask, lengths


def outputs_and_gradients(layer, conv, training=None):
    @tf.function(input_signature=[tf.TensorSpec((None, None, C, D)),
                                  tf.TensorSpec((None, None, C), tf.bool)])
    def run(x, mask):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = layer(x, mask=mask, training=training)
            # Weigh the outputs at real tokens, so that every filter's gradient differs.
            real = tf.cast(tf.reduce_any(mask, axis=-1), out.dtype)[..., None]
            loss = tf.reduce_sum(out * real * tf.range(1.0, F + 1))
        return out, tape.gradient(loss, [conv.kernel, conv.bias, x])

    return run


@pytest.mark.parametrize("training", [False, True], ids=["predicting", "training"])
@pytest.mark.parametrize("widths", [
    pytest.param(None, id="default"),
    pytest.param(range(1, C + 1), id="exact", marks=pytest.mark.slow),  # C groups: C convolutions
])
@pytest.mark.parametrize("kernel_size", [3, 5, 2])
def test_outputs_and_gradients_equal_the_full_computation(kernel_size, widths, training):
    """With ``exact`` widths every token is cut to exactly min(C, length + kernel_size); in
    training each group's rows are padded to a bucket size (and the padding dropped). The
    traced graph shows the way taken: the groups' results scattered into place
    (``TensorScatterUpdate``), their rows padded to a bucket size (``Pad``)."""
    rng = np.random.default_rng(kernel_size)
    layer = CharCNN(F, kernel_size, widths=widths)
    layer.build((None, None, C, D))
    layer.conv.bias.assign(rng.normal(size=F).astype("float32") * 0.5)
    ref = reference(kernel_size)
    ref.build((None, None, C, D))
    ref.layer.layers[0].set_weights(layer.conv.get_weights())
    x, mask, lengths = embedded(rng, kernel_size)

    run = outputs_and_gradients(layer, layer.conv, training)
    out, (kernel, bias, dx) = run(x, mask)
    ops = op_types(run)
    assert "TensorScatterUpdate" in ops, "the grouped computation did not run"
    assert ("Pad" in ops) is training  # bucketed in training only
    ref_out, (ref_kernel, ref_bias, ref_dx) = outputs_and_gradients(ref, ref.layer.layers[0])(
        x, mask)

    real = lengths > 0
    np.testing.assert_allclose(out.numpy()[real], ref_out.numpy()[real], atol=1e-5)
    assert not out.numpy()[~real].any()
    # Gradients reach a few hundred: float32 round-off of their sums scales with them.
    np.testing.assert_allclose(kernel, ref_kernel, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(bias, ref_bias, rtol=1e-5, atol=1e-4)
    # At real chars the input gradients are equal; tied padding windows share theirs
    # differently among padding positions, and what reaches the padding embedding row, the
    # sum over a token's padding positions, is equal.
    dx, ref_dx = dx.numpy(), ref_dx.numpy()
    np.testing.assert_allclose(dx[mask], ref_dx[mask], atol=1e-4)
    pad = ~mask[..., None]
    np.testing.assert_allclose((dx * pad).sum(axis=2), (ref_dx * pad).sum(axis=2), atol=1e-4)


def test_output_mask_marks_tokens_with_characters():
    rng = np.random.default_rng(0)
    layer = CharCNN(F, 3)
    x, mask, lengths = embedded(rng, 3)
    out = layer(x, mask=mask)
    assert out.shape == (B, T, F)
    np.testing.assert_array_equal(layer.compute_mask(x, mask), lengths > 0)
    assert layer.compute_output_shape((None, None, C, D)) == (None, None, F)


def test_save_and_load_give_the_same_outputs(tmp_path):
    rng = np.random.default_rng(1)
    ids = keras.Input((None, C), dtype="int32")
    x = keras.layers.Embedding(30, D, mask_zero=True)(ids)
    model = keras.Model(ids, CharCNN(F, 3, widths=(5, 9), name="char_encoder")(x))
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    layer = loaded.get_layer("char_encoder")
    assert isinstance(layer, CharCNN) and layer.widths == (5, 9)
    lengths = rng.integers(0, C + 1, size=(B, T, 1))
    batch = np.where(np.arange(C) < lengths, rng.integers(1, 30, size=(B, T, C)), 0)
    np.testing.assert_array_equal(loaded(batch), model(batch))


def test_the_model_builds_a_char_cnn_initialised_as_before():
    from seqlab.config import CharsConfig, ModelConfig
    from seqlab.layers.lookup import CharEmbedding
    from seqlab.model import CHAR_EMBEDDING, build_model, char_features
    from seqlab.vocab import CharVocabulary, LabelVocabulary, Vocabulary

    chars = CharVocabulary.build([["ab", "cd"]])
    config = ModelConfig.model_validate({"chars": {"encoder": "cnn", "filters": 6}})
    model = build_model(config, Vocabulary(["ab"]), LabelVocabulary(["O", "B-X"]), chars=chars)
    assert isinstance(model.get_layer("char_encoder"), CharCNN)

    cnn = CharsConfig(encoder="cnn", dim=4, filters=6, kernel_size=3)
    keras.utils.set_random_seed(5)
    embedding = CharEmbedding(len(chars), cnn.dim, mask_zero=True)
    old = reference(cnn.kernel_size, cnn.filters)
    old(embedding(keras.Input((None, chars.max_length), dtype="int32")))
    keras.utils.set_random_seed(5)
    new = keras.Model(*char_features(cnn, chars))
    new_weights = new.get_layer(CHAR_EMBEDDING).weights + new.get_layer("char_encoder").weights
    for a, b in zip(embedding.weights + old.weights, new_weights, strict=True):
        assert a.shape == b.shape
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("bucket", [True, False])
def test_bucketing_is_a_switch_saved_only_when_off(bucket):
    """``bucket=False`` computes the same numbers in training without rounding the groups'
    rows up (no ``Pad`` in the graph); the config carries it only when off."""
    rng = np.random.default_rng(7)
    layer = CharCNN(F, 3, bucket=bucket)
    layer.build((None, None, C, D))
    assert ("bucket" in layer.get_config()) is not bucket
    assert CharCNN.from_config(layer.get_config()).bucket is bucket
    ref = reference(3)
    ref.build((None, None, C, D))
    ref.layer.layers[0].set_weights(layer.conv.get_weights())
    x, mask, lengths = embedded(rng, 3)
    run = outputs_and_gradients(layer, layer.conv, True)
    out, _ = run(x, mask)
    assert ("Pad" in op_types(run)) is bucket
    ref_out, _ = outputs_and_gradients(ref, ref.layer.layers[0])(x, mask)
    np.testing.assert_allclose(out.numpy()[lengths > 0], ref_out.numpy()[lengths > 0],
                               atol=1e-5)


def test_bucket_sizes_add_fewer_than_16_rows_or_an_eighth():
    from seqlab.layers.chars import _bucket

    counts = np.arange(1, 5000, dtype="int32")  # at once: _bucket is elementwise
    buckets = np.asarray(_bucket(keras.ops.convert_to_tensor(counts)))
    assert int(_bucket(keras.ops.convert_to_tensor(37, "int32"))) == buckets[36]  # a scalar too
    sizes = dict(zip(counts.tolist(), buckets.tolist()))
    assert all(0 <= b - n < max(16, n / 8) for n, b in sizes.items())
    assert all(sizes[n] == 16 for n in range(1, 17))
    assert len(set(sizes.values())) < 90  # a few shapes, not thousands
