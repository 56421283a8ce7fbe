"""WordEmbedding with frozen rows for the words only a vectors file brought: the same model as
one trainable table (those rows never get a gradient), at the cost of the trained rows only."""

import keras
import numpy as np
import pytest

from seqlab.layers.lookup import WordEmbedding


def _model(rows, trainable_rows, matrix):
    words = keras.Input((None,), dtype="int32")
    emb = WordEmbedding(rows, matrix.shape[1], vocabulary=[f"w{i}" for i in range(rows)],
                        trainable_rows=trainable_rows, name="emb")
    x = emb(words)
    x = keras.layers.LSTM(4, return_sequences=True)(x)
    out = keras.layers.Dense(3, activation="softmax")(x)
    model = keras.Model(words, out)
    emb.set_matrix(matrix)
    return model, emb


def _batches():
    rng = np.random.default_rng(0)
    # training ids stay below 6 (the rows "seen in training"); 0 is padding
    x = rng.integers(1, 6, size=(8, 5)).astype("int32")
    x[:, -1] = 0
    y = rng.integers(0, 3, size=(8, 5))
    return x, y


@pytest.mark.slow
def test_same_outputs_and_same_training_as_one_table():
    rows, dim = 12, 4
    matrix = np.random.default_rng(1).normal(size=(rows, dim)).astype("float32")
    x, y = _batches()
    trained = []
    for split in (None, 6):
        keras.utils.set_random_seed(3)
        model, emb = _model(rows, split, matrix)
        probe = np.arange(rows, dtype="int32")[None]
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(emb(probe))[0], matrix)
        assert [tuple(w.shape) for w in emb.trainable_weights] == [(split or rows, dim)]
        model.compile(keras.optimizers.Adam(0.1), "sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
        trained.append(emb.matrix())
    np.testing.assert_allclose(trained[1], trained[0], rtol=1e-6, atol=1e-7)
    assert not np.allclose(trained[1][1:6], matrix[1:6])  # the seen rows did train
    np.testing.assert_array_equal(trained[1][6:], matrix[6:])  # the others never move


def test_saved_as_one_matrix_and_loaded(tmp_path):
    rows, dim = 10, 3
    matrix = np.arange(rows * dim, dtype="float32").reshape(rows, dim)
    model, _ = _model(rows, 4, matrix)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    emb = loaded.get_layer("emb")
    assert emb.trainable_rows == 4
    np.testing.assert_array_equal(emb.matrix(), matrix)
    probe = np.array([[0, 3, 4, 9]], "int32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(emb(probe))[0], matrix[[0, 3, 4, 9]])
    # the file holds the same single (rows, dim) array as a plain table would
    plain, _ = _model(rows, None, matrix)
    plain.load_weights(path)
    np.testing.assert_array_equal(plain.get_layer("emb").matrix(), matrix)


def test_trainable_rows_out_of_range():
    with pytest.raises(ValueError, match="trainable_rows must be 2 to input_dim"):
        WordEmbedding(5, 2, trainable_rows=6)
