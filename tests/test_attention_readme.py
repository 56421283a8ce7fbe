# ruff: noqa: I001  (the README's import blocks are kept as written)
"""Every code example of keras-self-attention 0.51's README, with only the import changed.

``from keras_self_attention import SeqSelfAttention`` became
``from seqlab.layers import SeqSelfAttention``; everything else is the README's code
(the models are then run briefly so that the examples are exercised, not just built).
"""

import numpy as np
import pytest


def test_basic():
    import keras
    from seqlab.layers import SeqSelfAttention

    model = keras.models.Sequential()
    model.add(keras.layers.Embedding(input_dim=10000,
                                     output_dim=300,
                                     mask_zero=True))
    model.add(keras.layers.Bidirectional(keras.layers.LSTM(units=128,
                                                           return_sequences=True)))
    model.add(SeqSelfAttention(attention_activation='sigmoid'))
    model.add(keras.layers.Dense(units=5))
    model.compile(
        optimizer='adam',
        loss='categorical_crossentropy',
        metrics=['categorical_accuracy'],
    )
    model.summary()

    # Not in the README: run it.
    x = np.array([[5, 6, 7, 0], [8, 9, 0, 0]])
    out = model.predict(x, verbose=0)
    assert out.shape == (2, 4, 5) and np.all(np.isfinite(out))
    assert isinstance(model.layers[2], SeqSelfAttention)


def test_local_attention():
    from seqlab.layers import SeqSelfAttention

    layer = SeqSelfAttention(
        attention_width=15,
        attention_activation='sigmoid',
        name='Attention',
    )

    out = layer(np.random.RandomState(0).normal(size=(2, 40, 8)).astype("float32"))
    assert out.shape == (2, 40, 8) and layer.attention_width == 15


def test_multiplicative_attention():
    import keras  # the README's snippet uses keras from its first example
    from seqlab.layers import SeqSelfAttention

    layer = SeqSelfAttention(
        attention_width=15,
        attention_type=SeqSelfAttention.ATTENTION_TYPE_MUL,
        attention_activation=None,
        kernel_regularizer=keras.regularizers.l2(1e-6),
        use_attention_bias=False,
        name='Attention',
    )

    out = layer(np.random.RandomState(0).normal(size=(2, 20, 8)).astype("float32"))
    assert out.shape == (2, 20, 8)
    assert [w.name for w in layer.weights] == ['Attention_Mul_Wa']
    assert len(layer.losses) == 1  # the kernel regulariser


@pytest.mark.slow
def test_regularizer_and_load(tmp_path):
    import keras
    from seqlab.layers import SeqSelfAttention

    inputs = keras.layers.Input(shape=(None,))
    embd = keras.layers.Embedding(input_dim=32,
                                  output_dim=16,
                                  mask_zero=True)(inputs)
    lstm = keras.layers.Bidirectional(keras.layers.LSTM(units=16,
                                                        return_sequences=True))(embd)
    att = SeqSelfAttention(attention_type=SeqSelfAttention.ATTENTION_TYPE_MUL,
                           kernel_regularizer=keras.regularizers.l2(1e-4),
                           bias_regularizer=keras.regularizers.l1(1e-4),
                           attention_regularizer_weight=1e-4,
                           name='Attention')(lstm)
    dense = keras.layers.Dense(units=5, name='Dense')(att)
    model = keras.models.Model(inputs=inputs, outputs=[dense])
    model.compile(
        optimizer='adam',
        loss={'Dense': 'sparse_categorical_crossentropy'},
        metrics={'Dense': 'categorical_accuracy'},
    )
    model.summary(line_length=100)

    # Not in the README: train it with sparse_categorical_crossentropy, then save it.
    rs = np.random.RandomState(0)
    x = rs.randint(1, 32, size=(16, 7))
    x[:8, 5:] = 0
    # Labels as (batch, T, 1), like the original's own test: the README's
    # 'categorical_accuracy' metric needs y_true to have a last axis.
    y = rs.randint(0, 5, size=(16, 7, 1))
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert all(np.isfinite(history.history['loss']))
    model_path = str(tmp_path / 'model.keras')
    model.save(model_path)
    want = model.predict(x, verbose=0)

    # "Load the Model"
    import keras

    loaded = keras.models.load_model(model_path,
                                     custom_objects=SeqSelfAttention.get_custom_objects())

    np.testing.assert_allclose(loaded.predict(x, verbose=0), want, rtol=1e-5, atol=1e-5)


def test_history_only():
    from seqlab.layers import SeqSelfAttention

    layer = SeqSelfAttention(
        attention_width=3,
        history_only=True,
        name='Attention',
    )

    x = np.random.RandomState(0).normal(size=(1, 6, 4)).astype("float32")
    out = np.asarray(layer(x))
    # Causal: changing the future does not change the past.
    x2 = x.copy()
    x2[0, 4:] += 1.0
    np.testing.assert_allclose(np.asarray(layer(x2))[0, :4], out[0, :4], rtol=1e-6)
