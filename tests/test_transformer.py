"""Transformer word features (seqlab.transformer, seqlab.layers.transformer) on tiny checkpoints
made here: a random keras-hub BertBackbone saved with save_to_preset, and a Hugging Face
directory written with safetensors.numpy (no torch). Nothing is downloaded."""

from __future__ import annotations

import json
import shutil
import socket
import sys

import numpy as np
import pytest

keras_hub = pytest.importorskip("keras_hub")
safetensors_numpy = pytest.importorskip("safetensors.numpy")

import keras  # noqa: E402

from seqlab.errors import SeqlabError  # noqa: E402
from seqlab.layers.transformer import ScalarMix, TransformerWords  # noqa: E402
from seqlab.transformer import (  # noqa: E402
    Encoder,
    load_checkpoint,
    plan_windows,
    pool_subwords,
    resolve_layers,
)

WORDS = ["the", "a", "eu", "rejects", "german", "call", "to", "boycott", "british", "lamb",
         "peter", "black", "burn", "in", "of", "and", "new", "york", "city", "naive", "u", "s",
         ".", ",", "-", "(", ")", "'", "play", "is", "was", "good", "bad", "on"]
PIECES = ["##s", "##ing", "##ed", "##er", "##burn", "##a", "##b", "##c", "##d", "##e", "##x"]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *PIECES, "x", "b", "c", "d", "e"]
HIDDEN, LAYERS, HEADS, INTERMEDIATE, POSITIONS = 8, 2, 2, 16, 32


def _write_vocab(path):
    path.write_text("\n".join(VOCAB) + "\n", encoding="utf-8")


def _hf_tensors(seed=0):
    rng = np.random.default_rng(seed)

    def r(*shape):
        return (rng.standard_normal(shape) * 0.3).astype(np.float32)

    t = {
        "embeddings.word_embeddings.weight": r(len(VOCAB), HIDDEN),
        "embeddings.position_embeddings.weight": r(POSITIONS, HIDDEN),
        "embeddings.token_type_embeddings.weight": r(2, HIDDEN),
        "embeddings.LayerNorm.weight": 1 + r(HIDDEN),
        "embeddings.LayerNorm.bias": r(HIDDEN),
        "pooler.dense.weight": r(HIDDEN, HIDDEN),
        "pooler.dense.bias": r(HIDDEN),
    }
    for i in range(LAYERS):
        p = f"encoder.layer.{i}."
        for name in ("query", "key", "value"):
            t[p + f"attention.self.{name}.weight"] = r(HIDDEN, HIDDEN)
            t[p + f"attention.self.{name}.bias"] = r(HIDDEN)
        t[p + "attention.output.dense.weight"] = r(HIDDEN, HIDDEN)
        t[p + "attention.output.dense.bias"] = r(HIDDEN)
        t[p + "attention.output.LayerNorm.weight"] = 1 + r(HIDDEN)
        t[p + "attention.output.LayerNorm.bias"] = r(HIDDEN)
        t[p + "intermediate.dense.weight"] = r(INTERMEDIATE, HIDDEN)
        t[p + "intermediate.dense.bias"] = r(INTERMEDIATE)
        t[p + "output.dense.weight"] = r(HIDDEN, INTERMEDIATE)
        t[p + "output.dense.bias"] = r(HIDDEN)
        t[p + "output.LayerNorm.weight"] = 1 + r(HIDDEN)
        t[p + "output.LayerNorm.bias"] = r(HIDDEN)
    return t


def make_hf_dir(path, model_type="bert"):
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({
        "architectures": ["BertModel"], "model_type": model_type, "vocab_size": len(VOCAB),
        "hidden_size": HIDDEN, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
        "intermediate_size": INTERMEDIATE, "max_position_embeddings": POSITIONS,
        "type_vocab_size": 2, "layer_norm_eps": 1e-12,
    }))
    (path / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True}))
    _write_vocab(path / "vocab.txt")
    tensors = _hf_tensors()
    safetensors_numpy.save_file(tensors, str(path / "model.safetensors"))
    return tensors


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("hf") / "tiny-bert"
    tensors = make_hf_dir(path)
    return path, tensors


@pytest.fixture(scope="module")
def preset_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("preset")
    _write_vocab(root / "vocab.txt")
    keras.utils.set_random_seed(1)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(VOCAB), num_layers=LAYERS, num_heads=HEADS, hidden_dim=HIDDEN,
        intermediate_dim=INTERMEDIATE, max_sequence_length=POSITIONS,
    )
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=str(root / "vocab.txt"),
                                               lowercase=True)
    path = root / "tiny-preset"
    backbone.save_to_preset(str(path))
    tokenizer.save_to_preset(str(path))
    return path


@pytest.fixture(scope="module")
def checkpoint(hf_dir):
    return load_checkpoint(hf_dir[0])


SENTENCES = [
    ["EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", "."],
    ["Peter", "Blackburn"],
    ["Naïve", "", "\x07", "\u200b", "U.S.", "playing"],
    [],
]


def _layer_norm(x, gamma, beta, eps=1e-12):
    mean = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def test_import_is_light():
    import subprocess

    code = ("import sys, seqlab, seqlab.transformer; "
            "assert not {'keras', 'keras_hub', 'tensorflow'} & set(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)


# -- loading ----------------------------------------------------------------------------------
def test_loads_both_kinds_with_sockets_blocked(hf_dir, preset_dir, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network access in a test")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    hf = load_checkpoint(hf_dir[0])
    preset = load_checkpoint(str(preset_dir))
    assert (hf.source, preset.source) == ("huggingface", "keras-hub")
    for ck in (hf, preset):
        assert (ck.num_layers, ck.hidden_dim, ck.max_length) == (LAYERS, HIDDEN, POSITIONS)
        features = Encoder(ck.backbone, ck.tokenizer, layers="all").word_features(SENTENCES)
        assert [f.shape for f in features] == [(len(s), LAYERS + 1, HIDDEN) for s in SENTENCES]
    embedding = hf.backbone.get_layer("token_embedding").embeddings.numpy()
    np.testing.assert_array_equal(embedding, hf_dir[1]["embeddings.word_embeddings.weight"])


def _bad(path, *pieces):
    with pytest.raises(SeqlabError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith("model.transformer.path:"), message
    for piece in pieces:
        assert piece in message, message
    return message


def test_bad_paths_and_hub_names(tmp_path):
    _bad(tmp_path / "missing", "does not exist")
    _bad("bert_base_en", "never downloaded")
    _bad("hf://x/y", "hub address", "never downloads")
    _bad("kaggle://keras/bert/keras/bert_base_en", "hub address")
    (tmp_path / "file.bin").write_text("x")
    _bad(tmp_path / "file.bin", "is a file")
    (tmp_path / "empty").mkdir()
    _bad(tmp_path / "empty", "holds no checkpoint")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json")
    _bad(tmp_path / "broken", "cannot read")


def test_bad_checkpoints(tmp_path, hf_dir, preset_dir):
    for model_type, piece in [("nonsense", "keras-hub cannot convert"),
                              ("gpt2", "expected a WordPiece encoder")]:
        path = tmp_path / model_type
        shutil.copytree(hf_dir[0], path)
        config = json.loads((path / "config.json").read_text())
        (path / "config.json").write_text(json.dumps({**config, "model_type": model_type}))
        _bad(path, piece, model_type)
    no_vocab = tmp_path / "no-vocab"
    shutil.copytree(hf_dir[0], no_vocab)
    (no_vocab / "vocab.txt").unlink()
    _bad(no_vocab, "vocab.txt")
    no_weights = tmp_path / "no-weights"
    shutil.copytree(hf_dir[0], no_weights)
    (no_weights / "model.safetensors").unlink()
    _bad(no_weights, "model.safetensors")
    preset = tmp_path / "preset-no-vocab"
    shutil.copytree(preset_dir, preset)
    (preset / "assets" / "tokenizer" / "vocabulary.txt").unlink()
    _bad(preset, "vocabulary")


def test_keras_hub_missing(hf_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "keras_hub", None)
    _bad(hf_dir[0], "install seqlab[pretrained]")


def test_layers_and_pooling_validated(checkpoint):
    assert resolve_layers("last", 6) == [6]
    assert resolve_layers("all", 2) == [0, 1, 2]
    assert resolve_layers([-1, -2, 0], 6) == [6, 5, 0]
    for bad in ([3], [-4], [], [1, 1], ["x"], "some", [True]):
        with pytest.raises(SeqlabError, match="^model.transformer.layers:"):
            resolve_layers(bad, LAYERS)
    with pytest.raises(SeqlabError, match="^model.transformer.pooling:"):
        Encoder(checkpoint.backbone, checkpoint.tokenizer, pooling="max")
    with pytest.raises(SeqlabError, match="^model.transformer.max_length:"):
        Encoder(checkpoint.backbone, checkpoint.tokenizer, max_length=POSITIONS + 1)


# -- words to subwords ------------------------------------------------------------------------
def test_every_word_gets_subwords(checkpoint):
    encoder = Encoder(checkpoint.backbone, checkpoint.tokenizer)
    ids = encoder.subwords(["Naïve", "", "\x07", "\u200b", "U.S.", "Blackburn"])
    unk = VOCAB.index("[UNK]")
    assert ids[0] == (VOCAB.index("naive"),)  # accents stripped as Hugging Face's BERT does
    assert ids[1] == ids[2] == ids[3] == (unk,)
    assert ids[4] == tuple(VOCAB.index(p) for p in ("u", ".", "s", "."))
    assert ids[5] == (VOCAB.index("black"), VOCAB.index("##burn"))
    narrow = Encoder(checkpoint.backbone, checkpoint.tokenizer, max_length=8)
    assert narrow.max_word_subwords == 3
    # a word longer than half a window keeps its first subwords and its last one
    assert narrow.subwords(["xbcde"])[0] == tuple(VOCAB.index(p) for p in ("x", "##b", "##e"))
    assert narrow.capped_words == 1
    batch = encoder.encode([["Peter", ""]])
    assert batch["token_ids"][0, 0, :4].tolist() == [VOCAB.index(t) for t in
                                                     ("[CLS]", "peter", "[UNK]", "[SEP]")]


# -- pooling and layers against NumPy ------------------------------------------------------------
@pytest.mark.parametrize("pooling", ["first", "last", "mean"])
def test_pooling_against_numpy(checkpoint, hf_dir, pooling):
    encoder = Encoder(checkpoint.backbone, checkpoint.tokenizer, layers=[0, -1], pooling=pooling)
    features = encoder.word_features(SENTENCES, batch_size=2)
    tensors = hf_dir[1]
    for sentence, got in zip(SENTENCES, features):
        if not sentence:
            assert got.shape == (0, 2, HIDDEN)
            continue
        pieces = encoder.subwords(sentence)
        ids = [VOCAB.index("[CLS]")] + [p for w in pieces for p in w] + [VOCAB.index("[SEP]")]
        out = checkpoint.backbone({"token_ids": np.array([ids]),
                                   "padding_mask": np.ones((1, len(ids)), "int32"),
                                   "segment_ids": np.zeros((1, len(ids)), "int32")})
        last = np.asarray(out["sequence_output"])[0]
        embedded = _layer_norm(
            tensors["embeddings.word_embeddings.weight"][ids]
            + tensors["embeddings.position_embeddings.weight"][: len(ids)]
            + tensors["embeddings.token_type_embeddings.weight"][0],
            tensors["embeddings.LayerNorm.weight"], tensors["embeddings.LayerNorm.bias"],
        )
        start = 1
        for i, word in enumerate(pieces):
            span = slice(start, start + len(word))
            start += len(word)
            for layer, states in ((0, embedded), (1, last)):
                chosen = states[span]
                expected = {"first": chosen[0], "last": chosen[-1],
                            "mean": chosen.mean(0)}[pooling]
                np.testing.assert_allclose(got[i, layer], expected, atol=2e-5)


def test_blocks_above_the_highest_state_chosen_are_not_run(checkpoint):
    # States 0 and 1 (the embeddings' output and the first block's) need the first block
    # only: the second is never run, and the states are those of the whole backbone.
    low = Encoder(checkpoint.backbone, checkpoint.tokenizer, layers=[0, 1], pooling="mean")
    every = Encoder(checkpoint.backbone, checkpoint.tokenizer, layers="all", pooling="mean")
    first, second = checkpoint.backbone.transformer_layers
    run = low.hidden_model().layers
    assert any(layer is first for layer in run)
    assert not any(layer is second for layer in run)
    assert any(layer is second for layer in every.hidden_model().layers)
    for got, full in zip(low.word_features(SENTENCES), every.word_features(SENTENCES)):
        np.testing.assert_allclose(got, full[:, :2], atol=1e-6)


@pytest.mark.parametrize("pooling", ["first", "last", "mean"])
def test_pool_subwords_against_numpy(pooling):
    """Random states, several rows, words of 0-3 subwords anywhere in their row."""
    rng = np.random.default_rng(7)
    batch, positions, words, k = 3, 9, 4, 3
    hidden = rng.standard_normal((batch, positions, 2, 5)).astype(np.float32)
    count = rng.integers(0, k + 1, (batch, words)).astype(np.int32)
    index = np.zeros((batch, words, k), np.int32)
    for b in range(batch):
        for w in range(words):
            index[b, w, :count[b, w]] = rng.choice(positions, count[b, w], replace=False)
    got = np.asarray(pool_subwords(hidden, index, count, pooling))
    assert got.shape == (batch, words, 2, 5)
    for b in range(batch):
        for w in range(words):
            chosen = hidden[b, index[b, w, :count[b, w]]]
            if not count[b, w]:
                expected = np.zeros((2, 5), np.float32)
            else:
                expected = {"first": chosen[0], "last": chosen[-1],
                            "mean": chosen.mean(0)}[pooling]
            np.testing.assert_allclose(got[b, w], expected, atol=1e-6)


def test_deterministic_and_batching_free(checkpoint):
    encoder = Encoder(checkpoint.backbone, checkpoint.tokenizer, layers="all", pooling="mean")
    seen = []
    one = encoder.word_features(SENTENCES, batch_size=1, progress=lambda d, t: seen.append(d))
    many = encoder.word_features(SENTENCES, batch_size=8)
    again = encoder.word_features(SENTENCES, batch_size=8)
    assert seen == [1, 2, 3, 4]
    for a, b, c in zip(one, many, again):
        np.testing.assert_allclose(a, b, atol=1e-5)
        np.testing.assert_array_equal(b, c)
    half = encoder.word_features(SENTENCES, dtype="float16")
    assert half[0].dtype == np.float16
    flat = encoder.word_features(SENTENCES, batch_size=8, flat=True)
    np.testing.assert_array_equal(flat, np.concatenate(again))
    assert flat.ctypes.data % 64 == 0  # for TensorFlow to read in place


# -- windows ----------------------------------------------------------------------------------
def test_plan_windows():
    assert plan_windows([1, 2, 1], 10) == ([(0, 3)], [0, 0, 0])
    lengths = [1, 2, 1, 3, 1, 1, 2, 1, 1, 3, 1, 1]
    windows, owner = plan_windows(lengths, 6)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    assert windows[0][0] == 0 and windows[-1][1] == len(lengths)
    for (a, b), (c, _) in zip(windows, windows[1:]):
        assert a < c < b  # overlapping, moving on
    for a, b in windows:
        assert offsets[b] - offsets[a] <= 6
    for word, w in enumerate(owner):
        a, b = windows[w]
        assert a <= word < b
        # the most central of the windows holding it
        score = min(offsets[word] - offsets[a], offsets[b] - offsets[word + 1])
        for c, d in windows:
            if c <= word < d:
                assert score >= min(offsets[word] - offsets[c], offsets[d] - offsets[word + 1])


def test_long_sentence_windows_match_one_pass_of_each_window(checkpoint):
    sentence = ["the", "eu", "rejects", "german", "call", "to", "boycott", "british", "lamb",
                "in", "new", "york", "city", "and", "peter", "blackburn", "was", "good", "."]
    encoder = Encoder(checkpoint.backbone, checkpoint.tokenizer, layers="all",
                      pooling="mean", max_length=8)
    lengths = [len(p) for p in encoder.subwords(sentence)]
    windows, owner = plan_windows(lengths, 6)
    assert len(windows) > 2
    got = encoder.word_features([sentence])[0]
    assert got.shape == (len(sentence), LAYERS + 1, HIDDEN)
    alone = encoder.word_features([sentence[a:b] for a, b in windows])
    for word, w in enumerate(owner):
        np.testing.assert_allclose(got[word], alone[w][word - windows[w][0]], atol=1e-5)
    # a sentence that fits is one window, whatever the limit
    wide = Encoder(checkpoint.backbone, checkpoint.tokenizer, layers="all", pooling="mean")
    short = sentence[:4]
    np.testing.assert_allclose(encoder.word_features([short])[0],
                               wide.word_features([short])[0], atol=1e-5)


# -- layers -------------------------------------------------------------------------------------
def test_scalar_mix_against_numpy():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 5, 3, 4)).astype("float32")
    mix = ScalarMix(3, initial_scalar_parameters=[0.5, -1.0, 2.0])
    got = np.asarray(mix(x))
    mix.gamma.assign(1.7)
    got2 = np.asarray(mix(x))
    w = np.exp([0.5, -1.0, 2.0])
    w = w / w.sum()
    expected = np.einsum("bwlh,l->bwh", x, w)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    np.testing.assert_allclose(got2, 1.7 * expected, atol=1e-5)
    assert mix.compute_output_shape((None, None, 3, 4)) == (None, None, 4)
    clone = ScalarMix.from_config(mix.get_config())
    assert clone.get_config() == mix.get_config()



def test_mix_in_numpy_is_the_layer_whatever_the_batching():
    """``mix_layers`` with ``ScalarMix.coefficients`` (what prediction mixes with, before the
    network) against the layer itself; a word's mixed vector the same to the bit in any
    batch (the frozen pass's batches, the feature cache's sentences)."""
    from seqlab.transformer import mix_layers

    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 5, 3, 4)).astype("float32")
    mix = ScalarMix(3, initial_scalar_parameters=[0.5, -1.0, 2.0])
    mix.build(x.shape)
    mix.gamma.assign(1.7)
    mixed = mix_layers(x, mix.coefficients())
    assert mixed.shape == (6, 5, 1, 4) and mixed.dtype == np.float32
    np.testing.assert_allclose(mixed[..., 0, :], np.asarray(mix(x)), atol=1e-5)
    np.testing.assert_array_equal(
        np.concatenate([mix_layers(x[i:i + 1, 1:4], mix.coefficients()) for i in range(6)]),
        mixed[:, 1:4])
    one = ScalarMix(1)
    one.build((2, 1, 4))
    one.gamma.assign(0.5)
    np.testing.assert_array_equal(mix_layers(x[:, :, :1], one.coefficients()), 0.5 * x[:, :, :1])
    with pytest.raises(ValueError, match="2 coefficients for 3 layers"):
        mix_layers(x, [0.5, 0.5])
    np.testing.assert_array_equal(mix.combine()(x), mixed)


def test_layers_side_by_side():
    """``ConcatLayers`` (``combine: concat``) against NumPy's concatenation of the layers, in
    the layer and in its NumPy form; the mask passes through; the config round-trips."""
    from seqlab.layers.transformer import ConcatLayers, combining_layer

    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 5, 3, 4)).astype("float32")
    expected = np.concatenate([x[:, :, 0], x[:, :, 1], x[:, :, 2]], axis=-1)
    layer = ConcatLayers(3)
    np.testing.assert_array_equal(np.asarray(layer(x)), expected)
    np.testing.assert_array_equal(layer.combine()(x)[:, :, 0], expected)
    assert layer.combine()(x).shape == (2, 5, 1, 12) and layer.output_width(4) == 12
    assert layer.compute_output_shape((None, None, 3, 4)) == (None, None, 12)
    mask = np.array([[True] * 3 + [False] * 2] * 2)
    assert np.array_equal(np.asarray(layer.compute_mask(x, mask)), mask)
    assert ConcatLayers.from_config(layer.get_config()).get_config() == layer.get_config()
    assert isinstance(combining_layer("mix", 3, name="m"), ScalarMix)
    with pytest.raises(ValueError, match="mix or concat"):
        combining_layer("sum", 3, name="m")

def _model(words):
    inputs = {
        "token_ids": keras.Input((None, None), dtype="int32", name="token_ids"),
        "padding_mask": keras.Input((None, None), dtype="int32", name="padding_mask"),
        "subword_index": keras.Input((None, None), dtype="int32", name="subword_index"),
        "subword_count": keras.Input((None,), dtype="int32", name="subword_count"),
    }
    x = ScalarMix(words.num_outputs)(words(inputs))
    return keras.Model(inputs, keras.layers.Dense(1)(x))


@pytest.mark.slow
def test_saved_model_is_self_contained(tmp_path, hf_dir):
    copy = tmp_path / "checkpoint"
    shutil.copytree(hf_dir[0], copy)
    ck = load_checkpoint(copy)
    words = TransformerWords(ck.backbone, ck.tokenizer, layers=[-1, -2], pooling="last",
                             trainable=False)
    model = _model(words)
    batch = words.encode(SENTENCES[:3])
    before = np.asarray(model(batch))
    features = words.word_features(SENTENCES)
    model.save(tmp_path / "model.keras")
    shutil.rmtree(copy)
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    again = next(layer for layer in loaded.layers if isinstance(layer, TransformerWords))
    assert again.trainable is False and again.pooling == "last"
    np.testing.assert_array_equal(again.encode(SENTENCES[:3])["token_ids"], batch["token_ids"])
    np.testing.assert_allclose(np.asarray(loaded(batch)), before, atol=1e-6)
    for a, b in zip(again.word_features(SENTENCES), features):
        np.testing.assert_allclose(a, b, atol=1e-6)


def _pad(features):
    out = np.zeros((len(features), max(len(f) for f in features)) + features[0].shape[1:],
                   "float32")
    for i, f in enumerate(features):
        out[i, :len(f)] = f
    return out


@pytest.mark.slow
def test_frozen_model_takes_features_and_carries_the_checkpoint(tmp_path, hf_dir):
    copy = tmp_path / "checkpoint"
    shutil.copytree(hf_dir[0], copy)
    ck = load_checkpoint(copy)
    words = TransformerWords(ck.backbone, ck.tokenizer, layers="all", pooling="first",
                             trainable=False)
    features = keras.Input((None, words.num_outputs, words.hidden_dim))
    model = keras.Model(features, keras.layers.Dense(2)(ScalarMix(3)(words(features))))
    x = _pad(words.word_features(SENTENCES[:3]))
    before = np.asarray(model(x))
    # the in-graph pass gives the frozen pass's features
    np.testing.assert_allclose(np.asarray(words(words.encode(SENTENCES[:3]))), x, atol=1e-5)
    model.save(tmp_path / "frozen.keras")
    shutil.rmtree(copy)
    loaded = keras.saving.load_model(tmp_path / "frozen.keras")
    again = next(layer for layer in loaded.layers if isinstance(layer, TransformerWords))
    again_x = _pad(again.word_features(SENTENCES[:3]))
    np.testing.assert_allclose(again_x, x, atol=1e-6)
    np.testing.assert_allclose(np.asarray(loaded(again_x)), before, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("trainable", [False, True])
def test_frozen_weights_stay_and_trainable_weights_move(checkpoint, trainable):
    backbone = type(checkpoint.backbone).from_config(checkpoint.backbone.get_config())
    backbone.set_weights(checkpoint.backbone.get_weights())
    words = TransformerWords(backbone, checkpoint.tokenizer, layers="all", pooling="mean",
                             trainable=trainable)
    model = _model(words)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    batch = words.encode(SENTENCES[:3])
    target = np.ones(batch["subword_count"].shape + (1,), "float32")
    start = [w.numpy().copy() for w in backbone.weights]
    model.fit(batch, target, epochs=1, batch_size=3, verbose=0)
    moved = [not np.array_equal(a, w.numpy()) for a, w in zip(start, backbone.weights)]
    assert any(moved) is trainable
