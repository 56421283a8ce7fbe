"""The CRF layer against brute force (every tag path of short sequences), and in a Keras model."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest
from keras import ops

from seqlab.layers.crf import CRF, CRFLoss

K, T = 3, 4
LENGTHS = [4, 2, 1, 0, 3]  # padding at the end; one empty row


def to_np(x):
    return ops.convert_to_numpy(x)


def random_crf(rng, k=K, **kwargs):
    crf = CRF(**kwargs)
    crf.build((None, None, k))
    for w in (crf.transitions, crf.start, crf.end):
        w.assign(rng.normal(size=w.shape).astype("float32"))
    return crf


def batch(rng, lengths=LENGTHS, t=T, k=K):
    emissions = rng.normal(size=(len(lengths), t, k)).astype("float32")
    mask = np.arange(t)[None, :] < np.asarray(lengths)[:, None]
    tags = rng.integers(0, k, size=(len(lengths), t))
    tags[~mask] = 0  # padded with a real label id: the mask alone must exclude it
    return emissions, mask, tags


def brute_force(crf, emissions, length, constrained=False):
    """Scores of every path of one sequence (and the paths), from the layer's weights."""
    trans, start, end = (ops.convert_to_numpy(w).astype(np.float64)
                         for w in crf.potentials(constrained))
    k = emissions.shape[-1]
    paths = list(itertools.product(range(k), repeat=length))
    scores = np.array([start[p[0]] + end[p[-1]] + sum(emissions[t, y] for t, y in enumerate(p))
                       + sum(trans[a, b] for a, b in itertools.pairwise(p)) for p in paths])
    return paths, scores


def test_nll_equals_brute_force_with_padding():
    rng = np.random.default_rng(0)
    crf = random_crf(rng)
    emissions, mask, tags = batch(rng)
    nll = to_np(crf.nll(tags, emissions, mask))
    assert nll.shape == (len(LENGTHS),)
    for b, length in enumerate(LENGTHS):
        if length == 0:
            assert nll[b] == 0.0
            continue
        paths, scores = brute_force(crf, emissions[b], length)
        gold = scores[paths.index(tuple(tags[b, :length]))]
        expected = np.logaddexp.reduce(scores) - gold
        np.testing.assert_allclose(nll[b], expected, rtol=1e-5, atol=1e-5)
    # Labels padded with -1 instead of a mask give the same values.
    minus = np.where(mask, tags, -1)
    np.testing.assert_allclose(to_np(crf.nll(minus, emissions)), nll, rtol=1e-6)


def test_viterbi_and_marginals_equal_brute_force():
    rng = np.random.default_rng(1)
    crf = random_crf(rng)
    emissions, mask, _ = batch(rng)
    paths_out, best = crf.decode(emissions, mask, return_score=True)
    paths_out, best = to_np(paths_out), to_np(best)
    probs = to_np(crf.marginals(emissions, mask))
    assert paths_out.shape == (len(LENGTHS), T) and probs.shape == (len(LENGTHS), T, K)
    for b, length in enumerate(LENGTHS):
        assert not paths_out[b, length:].any() and not probs[b, length:].any()
        if length == 0:
            continue
        paths, scores = brute_force(crf, emissions[b], length)
        assert tuple(paths_out[b, :length]) == paths[int(scores.argmax())]
        np.testing.assert_allclose(best[b], scores.max(), rtol=1e-5)
        p = np.exp(scores - np.logaddexp.reduce(scores))
        expected = np.zeros((length, K))
        for path, prob in zip(paths, p):
            expected[np.arange(length), path] += prob
        np.testing.assert_allclose(probs[b, :length], expected, atol=1e-5)


def numpy_viterbi(trans, start, end, emissions):
    """Textbook Viterbi of one sequence with numpy's argmax (the first of tied maxima)."""
    delta, backs = start + emissions[0], []
    for e in emissions[1:]:
        scores = delta[:, None] + trans
        backs.append(scores.argmax(axis=0))
        delta = scores.max(axis=0) + e
    path = [int((delta + end).argmax())]
    for back in reversed(backs):
        path.append(int(back[path[-1]]))
    return path[::-1]


def test_viterbi_breaks_ties_as_argmax_does():
    """Potentials of whole numbers tie often: each step keeps the lowest tag of the tied
    best, as numpy's argmax does, and the paths equal a textbook Viterbi's."""
    rng = np.random.default_rng(5)
    k, t, lengths = 5, 7, [7, 3, 1, 0, 6, 7]
    crf = random_crf(rng, k=k)
    for w in (crf.transitions, crf.start, crf.end):
        w.assign(rng.integers(0, 2, size=w.shape).astype("float32"))
    emissions = rng.integers(0, 2, size=(len(lengths), t, k)).astype("float32")
    mask = np.arange(t)[None, :] < np.asarray(lengths)[:, None]
    paths = to_np(crf.decode(emissions, mask))
    trans, start, end = (to_np(w) for w in crf.potentials(False))
    for b, length in enumerate(lengths):
        if length:
            assert list(paths[b, :length]) == numpy_viterbi(trans, start, end,
                                                            emissions[b, :length])


def test_masks_with_holes_skip_positions():
    """A mask with holes links the valid positions around them, as if the holes were cut out."""
    rng = np.random.default_rng(2)
    crf = random_crf(rng)
    emissions, _, tags = batch(rng, lengths=[4], t=6)
    mask = np.array([[False, True, True, False, True, False]])
    cut = emissions[:, mask[0]]
    np.testing.assert_allclose(to_np(crf.nll(tags, emissions, mask)),
                               to_np(crf.nll(tags[:, mask[0]], cut)), rtol=1e-5)
    assert (to_np(crf.decode(emissions, mask))[:, mask[0]]
            == to_np(crf.decode(cut))).all()
    np.testing.assert_allclose(to_np(crf.marginals(emissions, mask))[:, mask[0]],
                               to_np(crf.marginals(cut)), atol=1e-6)



def brute_force_nll_and_gradients(crf, emissions, mask, tags, weights):
    """``sum_b weights[b] * nll_b`` and its gradients w.r.t. (emissions, transitions, start,
    end), in float64 from every path over each sequence's valid positions: the gradient of
    an NLL is the expected count of each feature less its count on the gold path."""
    trans, start, end = (to_np(w).astype(np.float64) for w in crf.potentials(False))
    k = trans.shape[0]
    loss, grads = 0.0, [np.zeros(emissions.shape), np.zeros(trans.shape),
                        np.zeros(start.shape), np.zeros(end.shape)]
    for b, w in enumerate(weights):
        positions = np.flatnonzero(mask[b])
        if not len(positions):
            continue
        paths = np.array(list(itertools.product(range(k), repeat=len(positions))))
        scores = (start[paths[:, 0]] + end[paths[:, -1]]
                  + emissions[b, positions, paths].sum(-1)
                  + trans[paths[:, :-1], paths[:, 1:]].sum(-1))
        gold = (paths == tags[b, positions]).all(-1)
        log_z = np.logaddexp.reduce(scores)
        loss += w * (log_z - scores[gold][0])
        coef = w * (np.exp(scores - log_z) - gold)  # d loss / d score of each path
        for path, c in zip(paths, coef):
            grads[0][b, positions, path] += c
            np.add.at(grads[1], (path[:-1], path[1:]), c)
            grads[2][path[0]] += c
            grads[3][path[-1]] += c
    return loss, grads


@pytest.mark.parametrize("mask", [
    # holes: before, inside and after the valid positions; lengths 1 anywhere; empty rows
    [[1, 1, 1, 1, 1], [0, 1, 0, 1, 1], [1, 0, 0, 1, 0], [0, 1, 1, 1, 0], [0, 0, 0, 0, 0],
     [1, 0, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 0, 1], [1, 0, 1, 0, 1]],
    # prefixes (padding at the end), lengths 0 to 5
    [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0], [0, 0, 0, 0, 0], [1, 1, 0, 0, 0],
     [1, 1, 1, 1, 0]],
])
def test_nll_and_gradients_equal_brute_force(mask):
    import tensorflow as tf

    rng = np.random.default_rng(8)
    crf = random_crf(rng)
    mask = np.array(mask, dtype=bool)
    emissions = rng.normal(size=(*mask.shape, K)).astype("float32")
    tags = rng.integers(0, K, size=mask.shape)
    tags[~mask & (rng.random(mask.shape) < 0.5)] = -1  # masked positions: real ids or -1
    weights = rng.uniform(0.5, 2.0, size=len(mask))
    expected, expected_grads = brute_force_nll_and_gradients(crf, emissions, mask, tags,
                                                             weights)
    variables = [tf.Variable(emissions), crf.transitions, crf.start, crf.end]
    with tf.GradientTape() as tape:
        loss = ops.sum(crf.nll(tags, variables[0], mask) * weights.astype("float32"))
    grads = tape.gradient(loss, variables)
    assert float(loss) == pytest.approx(expected, rel=1e-5)
    for grad, want in zip(grads, expected_grads):
        np.testing.assert_allclose(to_np(grad), want, atol=2e-5)
    # Masked positions get no gradient at all.
    assert not to_np(grads[0])[~mask].any()


IOB2 = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def test_constraints_forbid_invalid_iob2_paths():
    rng = np.random.default_rng(3)
    crf = random_crf(rng, k=5, labels=IOB2, scheme="iob2",
                     forbidden=[("<start>", "B-LOC"), (1, "B-PER")])
    start, allowed, end = crf._allowed
    assert not start[3] and not allowed[1, 1]
    # Emissions that push hard for I-* everywhere: unconstrained, Viterbi would take them.
    emissions = rng.normal(size=(6, T, 5)).astype("float32")
    emissions[..., 2] += 4.0
    emissions[..., 4] += 4.0
    lengths = [4, 3, 2, 1, 4, 4]
    mask = np.arange(T)[None] < np.asarray(lengths)[:, None]
    paths = to_np(crf.decode(emissions, mask))
    probs = to_np(crf.marginals(emissions, mask))
    for b, length in enumerate(lengths):
        path = paths[b, :length].tolist()
        assert start[path[0]] and end[path[-1]]
        assert all(allowed[i, j] for i, j in itertools.pairwise(path)), path
        ok = [p for p in itertools.product(range(5), repeat=length)
              if start[p[0]] and all(allowed[i, j] for i, j in itertools.pairwise(p))]
        all_paths, scores = brute_force(crf, emissions[b], length, constrained=True)
        valid = np.array([p in ok for p in all_paths])
        assert tuple(path) == all_paths[int(np.where(valid, scores, -np.inf).argmax())]
        # The marginals give forbidden paths no mass and stay finite.
        assert np.isfinite(probs[b]).all()
        assert probs[b, 0, 2] == 0 and probs[b, 0, 4] == 0 and probs[b, 0, 3] == 0
        np.testing.assert_allclose(probs[b, :length].sum(-1), 1.0, atol=1e-5)
    # Training ignores the constraints unless asked to.
    tags = np.array([[0, 2, 2, 0]])  # I-PER after O: invalid in IOB2
    loose = float(to_np(crf.nll(tags, emissions[:1]))[0])
    assert 0 < loose < 100
    strict = random_crf(np.random.default_rng(3), k=5, labels=IOB2, scheme="iob2",
                        constrain_training=True)
    assert np.isfinite(to_np(strict.nll(tags, emissions[:1]))).all()
    assert float(to_np(strict.nll(tags, emissions[:1]))[0]) > 1e4


@pytest.mark.slow
def test_graph_mode_with_unknown_time():
    import tensorflow as tf

    rng = np.random.default_rng(4)
    crf = random_crf(rng)
    spec = [tf.TensorSpec((None, None, K), tf.float32), tf.TensorSpec((None, None), tf.bool),
            tf.TensorSpec((None, None), tf.int32)]

    @tf.function(input_signature=spec)
    def run(emissions, mask, tags):
        with tf.GradientTape() as tape:
            nll = crf.nll(tags, emissions, mask)
            total = ops.sum(nll)
        grads = tape.gradient(total, crf.trainable_weights)
        return nll, crf.decode(emissions, mask), crf.marginals(emissions, mask), grads

    for lengths, t in (([4, 2, 0], 4), ([1, 3], 3)):
        emissions, mask, tags = batch(rng, lengths, t)
        nll, paths, probs, grads = run(emissions, mask, tags.astype("int32"))
        np.testing.assert_allclose(nll.numpy(), to_np(crf.nll(tags, emissions, mask)),
                                   rtol=1e-5)
        assert (paths.numpy() == to_np(crf.decode(emissions, mask))).all()
        assert probs.shape == (len(lengths), t, K)
        assert all(g is not None and np.isfinite(g.numpy()).all() for g in grads)


def test_config_round_trip():
    crf = CRF(labels=IOB2, scheme="iob2", forbidden=[("O", "<end>")], constrain_training=True,
              transitions_regularizer="l2", name="crf")
    config = crf.get_config()
    clone = CRF.from_config(config)
    assert clone.get_config() == config
    assert clone.labels == IOB2 and clone.scheme == "iob2" and clone.constrain_training
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(crf))
    assert isinstance(restored, CRF) and restored.forbidden == [["O", "<end>"]]
    with pytest.raises(ValueError, match="needs labels"):
        CRF(scheme="iob2")
    with pytest.raises(ValueError, match="5 labels but its input has 3"):
        CRF(labels=IOB2).build((None, None, 3))


def toy_data(rng, n=64, t=7):
    """Word 2 ('A') is tagged B (1) when it starts a run of A's and I (2) inside one; word 1 is
    O (0). The model sees one word at a time, so only the CRF's transitions can tell B from I."""
    words = np.zeros((n, t), dtype="int32")
    tags = np.zeros((n, t), dtype="int32")
    for i in range(n):
        length = rng.integers(2, t + 1)
        w = rng.integers(1, 3, size=length)
        words[i, :length] = w
        for j in range(length):
            if w[j] == 2:
                tags[i, j] = 2 if j and w[j - 1] == 2 else 1
    return words, tags


def varying_batches(words, tags, size=16):
    """A tf.data pipeline whose batches are cut to their longest sentence, as seqlab's are, so
    the traced train step sees an unknown time length."""
    import tensorflow as tf

    batches = []
    for i in range(0, len(words), size):
        width = int((words[i:i + size] > 0).sum(axis=1).max())
        batches.append((words[i:i + size, :width], tags[i:i + size, :width]))
    spec = tf.TensorSpec((None, None), tf.int32)
    return tf.data.Dataset.from_generator(lambda: iter(batches), output_signature=(spec, spec))


def toy_model(labels=("O", "B-A", "I-A"), scheme="iob2"):
    words = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(3, 8, mask_zero=True)(words)
    x = keras.layers.Dense(3)(x)
    crf = CRF(labels=list(labels), scheme=scheme, name="crf")
    model = keras.Model(words, crf(x))
    return model, crf


@pytest.mark.slow
def test_model_trains_masks_padding_and_saves(tmp_path):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(5)
    words, tags = toy_data(rng)
    model, crf = toy_model(scheme=None)  # no constraints: the transitions must be learnt
    model.compile(optimizer=keras.optimizers.Adam(0.1), loss=crf.loss)
    before = model.evaluate(words, tags, verbose=0)
    with warnings.catch_warnings():  # unknown epoch size: Keras warns that data "ran out"
        warnings.simplefilter("ignore")
        history = model.fit(varying_batches(words, tags), epochs=6, verbose=0, shuffle=False)
    losses = history.history["loss"]
    after = model.evaluate(words, tags, verbose=0)
    assert losses[-1] < losses[0] and after < 0.5 * before

    # Padding does not count: three more padded columns (label 0 there, a real id) and
    # -1 labels give the same loss.
    padded_words = np.pad(words, ((0, 0), (0, 3)))
    padded_tags = np.pad(tags, ((0, 0), (0, 3)))
    assert model.evaluate(padded_words, padded_tags, verbose=0) == pytest.approx(after, rel=1e-5)
    minus = np.where(padded_words > 0, padded_tags, -1)
    assert model.evaluate(padded_words, minus, verbose=0) == pytest.approx(after, rel=1e-5)

    # The learnt chain solves what a per-token classifier cannot.
    mask = words > 0
    emissions = model.predict(words, verbose=0)
    paths = to_np(crf.decode(emissions, mask))
    assert (paths[mask] == tags[mask]).mean() > 0.98
    assert (paths[~mask] == 0).all()

    path = tmp_path / "model.keras"
    model.save(path)
    import seqlab.layers  # noqa: F401  (what seqlab's loader imports)

    loaded = keras.models.load_model(path, compile=False)
    loaded_crf = loaded.get_layer("crf")
    assert isinstance(loaded_crf, CRF) and loaded_crf.labels == ["O", "B-A", "I-A"]
    again = loaded.predict(words, verbose=0)
    np.testing.assert_allclose(again, emissions, rtol=1e-6)
    assert (to_np(loaded_crf.decode(again, mask)) == paths).all()
    # The loaded layer trains again with its own loss.
    loaded.compile(optimizer="adam", loss=loaded_crf.loss)
    assert loaded.evaluate(words, tags, verbose=0) == pytest.approx(after, rel=1e-4)


def test_loss_reductions_and_sample_weights():
    rng = np.random.default_rng(6)
    crf = random_crf(rng)
    emissions, mask, tags = batch(rng)
    nll = to_np(crf.nll(tags, emissions, mask))
    lengths = np.asarray(LENGTHS, dtype="float32")
    weights = rng.uniform(0.5, 2.0, size=len(LENGTHS)).astype("float32")
    token = CRFLoss(crf, normalize="token")
    for loss, expected in (
        (crf.loss(tags, emissions, mask=mask), nll.mean()),
        (crf.loss(tags, emissions, weights, mask=mask), (nll * weights).mean()),
        (token(tags, emissions, mask=mask), nll.sum() / lengths.sum()),
        (token(tags, emissions, weights[:, None], mask=mask),
         (nll * weights).sum() / (lengths * weights).sum()),
    ):
        assert float(to_np(loss)) == pytest.approx(expected, rel=1e-5)
    per_sentence = to_np(CRFLoss(crf, reduction=None)(tags, emissions, mask=mask))
    np.testing.assert_allclose(per_sentence, nll, rtol=1e-6)
    with pytest.raises(ValueError, match="per sentence"):
        crf.loss(tags, emissions, np.ones(tags.shape), mask=mask)
    restored = CRFLoss.from_config(crf.loss.get_config())
    with pytest.raises(ValueError, match="compile again"):
        restored(tags, emissions)


@pytest.mark.slow
def test_mixed_float16_computes_in_float32():
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        keras.utils.set_random_seed(1)
        words, tags = toy_data(np.random.default_rng(7), n=16)
        model, crf = toy_model()
        assert crf.transitions.dtype == "float32"
        model.compile(optimizer="adam", loss=crf.loss)
        history = model.fit(words, tags, batch_size=16, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"]).all()
        out = model(words)
        assert keras.backend.standardize_dtype(out.dtype) == "float32"
        paths = to_np(crf.decode(out, words > 0))
        assert paths.shape == words.shape
    finally:
        keras.config.set_dtype_policy(policy)


@pytest.mark.slow
@pytest.mark.backends
@pytest.mark.skipif(not os.environ.get("SEQLAB_CRF_BACKENDS"),
                    reason="set SEQLAB_CRF_BACKENDS=1 to rerun the brute-force checks under "
                           "JAX and PyTorch (about 20 s more)")
def test_brute_force_under_jax_and_torch():
    tests = [f"{__file__}::{name}" for name in (
        "test_nll_equals_brute_force_with_padding", "test_viterbi_and_marginals_equal_brute_force",
        "test_viterbi_breaks_ties_as_argmax_does", "test_constraints_forbid_invalid_iob2_paths")]
    runs = {name: subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                    *tests],
                                   env={**os.environ, "KERAS_BACKEND": name},
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for name in ("jax", "torch")}
    for name, proc in runs.items():
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"{name}:\n{out[-3000:]}"
