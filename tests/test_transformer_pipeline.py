"""A frozen transformer in the pipeline (model.transformer): config, features computed once a
run, the model that stacks them with the word embedding and chars, a model.keras that
predicts with the checkpoint directory gone, reproducible runs. Tiny checkpoints are written
here (test_transformer.make_hf_dir); nothing is downloaded."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest

pytest.importorskip("keras_hub")
pytest.importorskip("safetensors.numpy")

from test_transformer import HIDDEN, LAYERS, make_hf_dir  # noqa: E402

from seqlab.config import load_config  # noqa: E402
from seqlab.errors import SeqlabError  # noqa: E402

from conftest import QUICK, ROOT, TINY, interrupt_after, invoke, sets  # noqa: E402

TWO_EPOCHS = TINY + ["training.epochs=2"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One run on data/ with a tiny Hugging Face checkpoint (layers: all, chars on), the
    frozen passes it said it ran: (run dir, checkpoint dir, `passes`)."""
    root = tmp_path_factory.mktemp("tf-run")
    checkpoint = root / "tiny-bert"
    make_hf_dir(checkpoint)
    result = invoke("train", QUICK, "--output", root / "run",
                    *sets(TWO_EPOCHS + [f"model.transformer.path={checkpoint}",
                                        "model.transformer.layers=all"]))
    assert result.exit_code == 0, result.output + repr(result.exception)
    return root / "run", checkpoint, passes(result.stderr.splitlines())


def passes(said) -> list[int]:
    """The sentences of each frozen transformer pass a run said it made ("transformer
    features (train): 400 sentences, ..."), in order."""
    return [int(m.group(1)) for line in said
            if (m := re.match(r"transformer features \(\w+\): (\d+) sentences", line))]


def test_config_resolves_the_path_and_refuses_bad_values(tmp_path):
    config_file = tmp_path / "c.yaml"
    config_file.write_text(QUICK.read_text().replace("../data/", f"{ROOT}/data/")
                           .replace("model:\n", "model:\n  transformer: {path: m/ckpt}\n"))
    config = load_config(config_file)
    assert config.model.transformer.path == str(tmp_path / "m/ckpt")  # as data paths
    # A bare name that is no folder there stays as typed: refused later as a hub name.
    assert load_config(config_file, ["model.transformer.path=bert_base_en"]
                       ).model.transformer.path == "bert_base_en"
    assert config.model.transformer.layers == "last"
    assert config.model.transformer.trainable is False
    for setting, words in [
        ("model.transformer.pooling=max", "model.transformer.pooling"),
        ("model.transformer.layers=[0, 0]", "model.transformer.layers"),
        ("model.transformer.layers=every", "model.transformer.layers"),
        ("model.transformer.learning_rate=0", "model.transformer.learning_rate"),
        ("model.transformer.combine=sum", "model.transformer.combine"),
        ("data.stream=true", "data.stream"),
    ]:
        with pytest.raises(SeqlabError, match=words.replace(".", r"\.")) as error:
            load_config(QUICK, ["model.transformer.path=x", setting])
        assert "\n" not in str(error.value)


@pytest.mark.slow
def test_bad_checkpoint_and_layers_fail_before_training(tmp_path, trained):
    _, checkpoint, _ = trained
    for overrides, words in [
        ([f"model.transformer.path={tmp_path / 'nowhere'}"], "model.transformer.path"),
        (["model.transformer.path=bert_base_en"], "never downloaded"),
        ([f"model.transformer.path={checkpoint}", "model.transformer.layers=[7]"],
         "model.transformer.layers: layer 7 is out of range"),
    ]:
        result = invoke("train", QUICK, "--output", tmp_path / "run", *sets(TWO_EPOCHS + overrides))
        assert result.exit_code == 2, result.output
        assert words in result.output and not (tmp_path / "run" / "model.keras").exists()


@pytest.mark.slow
def test_stacked_model_and_frozen_pass_once(trained):
    from seqlab.model import TRANSFORMER, TRANSFORMER_MIX, ModelParts
    from seqlab.tagger import load_model

    run, _, said = trained
    parts = ModelParts(load_model(run / "model.keras"))
    assert parts.transformer is not None and not parts.transformer.trainable
    assert parts.input_names == ("words", "chars", TRANSFORMER)
    mix = parts.model.get_layer(TRANSFORMER_MIX)
    assert mix.num_layers == LAYERS + 1
    features = parts.model.get_layer(TRANSFORMER).output
    assert tuple(features.shape[2:]) == (LAYERS + 1, HIDDEN)
    # The frozen pass ran once for train, dev and test, however many epochs scored dev.
    assert said == [400, 100, 100]



def test_prediction_mixes_the_layers_before_the_network(trained):
    """Prediction feeds the network one mixed vector a word (`ModelParts.inference_model`):
    the whole model's outputs on the unmixed features; the frozen pass mixing as it goes and
    the feature cache (training's dev scoring) give the same outputs to the bit."""
    run, _, _ = trained
    _prediction_is_the_whole_models(run, HIDDEN)


@pytest.fixture(scope="module")
def concatenated(tmp_path_factory):
    """A run whose transformer's last two layers are put side by side (combine: concat)."""
    root = tmp_path_factory.mktemp("tf-concat")
    checkpoint = root / "tiny-bert"
    make_hf_dir(checkpoint)
    result = invoke("train", QUICK, "--output", root / "run",
                    *sets(TWO_EPOCHS + [f"model.transformer.path={checkpoint}",
                                        "model.transformer.layers=[-1, -2]",
                                        "model.transformer.combine=concat"]))
    assert result.exit_code == 0, result.output + repr(result.exception)
    return root / "run"


def test_layers_side_by_side_predict_as_the_whole_model(concatenated):
    """combine: concat gives the BiLSTM each word's two layers side by side (2 x hidden),
    saved and loaded; prediction concatenates them before the network and gets the whole
    model's outputs."""
    from seqlab.layers.transformer import ConcatLayers
    from seqlab.model import TRANSFORMER_MIX, ModelParts
    from seqlab.tagger import load_model

    parts = ModelParts(load_model(concatenated / "model.keras"))
    layer = parts.model.get_layer(TRANSFORMER_MIX)
    assert isinstance(layer, ConcatLayers) and parts.mixed_width == 2 * HIDDEN
    assert tuple(layer.output.shape[2:]) == (2 * HIDDEN,)
    _prediction_is_the_whole_models(concatenated, 2 * HIDDEN)


def _prediction_is_the_whole_models(run, width):
    from seqlab.batching import padded_batches
    from seqlab.formats import read_corpus
    from seqlab.tagger import Tagger
    from seqlab.transformer import feature_keys

    tagger = Tagger.load(run / "model.keras")
    tokens = [s.tokens for s in read_corpus(ROOT / "data/test.txt")][:40]
    ids, outputs = tagger.outputs(tokens)
    whole = [None] * len(tokens)
    for rows, batch in padded_batches(tagger.encode(tokens), 16):
        out = np.asarray(tagger.model(batch, training=False))
        for r, i in enumerate(rows):
            whole[i] = out[r, :len(tokens[i])]
    for got, expected in zip(outputs, whole, strict=True):
        np.testing.assert_allclose(got, expected, atol=1e-4)
    layer = tagger.parts.transformer
    combining = tagger.parts.transformer_mix()
    unmixed = layer.word_features(tokens)
    combined = layer.word_features(tokens, combine=combining.combine())
    # The NumPy combination is the layer's, on the unmixed features.
    for a, b in zip(combined, unmixed, strict=True):
        assert a.shape == (len(b), 1, width)
        np.testing.assert_allclose(a[:, 0], np.asarray(combining(b[None]))[0], atol=1e-6)
    tagger.feature_cache.update(zip(feature_keys(tokens), unmixed))
    cached_ids, cached = tagger.outputs(tokens)
    for a, b in zip(cached, outputs, strict=True):
        np.testing.assert_array_equal(a, b)
    assert [list(a) for a in cached_ids] == [list(a) for a in ids]


def test_padding_stays_masked_after_the_stacked_features(trained):
    """A Keras input carries no mask and Keras' Concatenate ORs its inputs' masks: the frozen
    features must bring their own (`feature_mask`), or the BiLSTM, the attention and the CRF
    loss run over padding and a sentence's tags depend on the batch it is in."""
    import keras

    from seqlab.batching import padded_batches
    from seqlab.compat import keras_mask
    from seqlab.formats import read_corpus
    from seqlab.tagger import Tagger

    run, _, _ = trained
    tagger = Tagger.load(run / "model.keras")
    tokens = [s.tokens for s in read_corpus(ROOT / "data/test.txt")][:24]
    (rows, batch), = padded_batches(tagger.encode(tokens), len(tokens), spread=None)
    assert (batch["words"] == 0).any()  # sentences of several lengths: padding in the batch
    stacked = keras.Model(tagger.model.input,
                          tagger.model.get_layer("stacked_embeddings").output)(batch)
    np.testing.assert_array_equal(np.asarray(keras_mask(stacked)), batch["words"] != 0)
    together = np.asarray(tagger.model(batch, training=False))
    for r, i in enumerate(rows):
        (_, alone), = padded_batches(tagger.encode([tokens[i]]), 1)
        np.testing.assert_allclose(np.asarray(tagger.model(alone, training=False))[0],
                                   together[r, :len(tokens[i])], atol=1e-5)

@pytest.mark.slow
def test_runs_of_one_process_share_the_frozen_pass(trained):
    """`--seeds` trains in one process: the second run of the same checkpoint, settings and
    data reuses the first's features; another setting (pooling) computes its own."""
    from seqlab.training.data import prepare_data

    _, checkpoint, _ = trained
    overrides = TWO_EPOCHS + [f"model.transformer.path={checkpoint}"]
    said = [], [], []
    first = prepare_data(load_config(QUICK, overrides), say=said[0].append)
    assert passes(said[0]) == [400, 100, 100]
    again = prepare_data(load_config(QUICK, overrides + ["seed=7"]), say=said[1].append)
    assert passes(said[1]) == [] and "transformer features: the previous run's " \
        "(same checkpoint and data)" in said[1]
    np.testing.assert_array_equal(again.encoded.transformer, first.encoded.transformer)
    assert first.encoded.transformer.shape == (len(first.encoded.words), 1, HIDDEN)
    prepare_data(load_config(QUICK, overrides + ["model.transformer.pooling=mean"]),
                 say=said[2].append)
    assert passes(said[2]) == [400, 100, 100]


@pytest.mark.slow
def test_frozen_backbone_is_the_checkpoint_after_training(trained):
    from seqlab.model import ModelParts
    from seqlab.tagger import load_model
    from seqlab.transformer import load_checkpoint

    run, checkpoint, _ = trained
    trained_backbone = ModelParts(load_model(run / "model.keras")).transformer.backbone
    original = load_checkpoint(checkpoint).backbone
    for a, b in zip(original.get_weights(), trained_backbone.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_model_keras_predicts_without_the_checkpoint(trained, tmp_path):
    run, checkpoint, _ = trained
    model = run / "model.keras"
    test = ROOT / "data/test.txt"
    before = invoke("predict", model, test)
    scored = invoke("evaluate", model, test, "--json")
    assert before.exit_code == 0 and scored.exit_code == 0, before.output + scored.output
    moved = tmp_path / "moved"
    shutil.move(str(checkpoint), moved)
    try:
        after = invoke("predict", model, test)
        rescored = invoke("evaluate", model, test, "--json")
        attention = invoke("attention", model, "EU rejects German call")
    finally:
        shutil.move(str(moved), checkpoint)
    assert after.exit_code == 0, after.output
    assert after.stdout == before.stdout
    assert json.loads(rescored.stdout) == json.loads(scored.stdout)
    assert attention.exit_code == 0 and "German" in attention.stdout


@pytest.mark.slow
def test_export_refuses_in_one_line(trained, tmp_path):
    run, _, _ = trained
    result = invoke("export", run / "model.keras", tmp_path / "served")
    assert result.exit_code == 2
    assert "cannot be exported to a SavedModel" in result.output
    assert not (tmp_path / "served").exists()


@pytest.mark.slow
def test_interrupted_run_resumes_to_the_same_weights(trained, tmp_path):
    """A second run of the fixture's config, interrupted after epoch 1 and resumed, ends
    with the same weights to the bit: runs are reproducible, resumed or not."""
    from rich.console import Console

    import seqlab.training.loop as training
    from seqlab.errors import Interrupted

    run, checkpoint, _ = trained
    config = load_config(QUICK, TWO_EPOCHS + [f"model.transformer.path={checkpoint}",
                                        "model.transformer.layers=all"])
    quiet = Console(stderr=True, quiet=True)
    with pytest.raises(Interrupted, match="interrupted after epoch 1"):
        training.train(config, tmp_path / "resumed", console=quiet,
                       on_epoch=interrupt_after(1))
    resumed = training.train(config, tmp_path / "resumed", resume=True, console=quiet)
    assert [r["epoch"] for r in resumed.history] == [1, 2]
    assert resumed.weights_sha256 == json.loads((run / "run.json").read_text())[
        "weights_sha256"]


@pytest.mark.slow
def test_fine_tuned_run_moves_the_backbone_and_serves_alone(trained, tmp_path):
    """trainable: true: the backbone runs in the graph on encode()'s batches and trains (not
    its pooler, which word features never use); model.keras still predicts alone."""
    from seqlab.model import ENCODED, ModelParts
    from seqlab.tagger import load_model
    from seqlab.transformer import load_checkpoint

    _, checkpoint, _ = trained
    run = tmp_path / "tuned"
    result = invoke("train", QUICK, "--output", run,
                  *sets(TWO_EPOCHS + [f"model.transformer.path={checkpoint}",
                                 "model.transformer.trainable=true",
                                 "model.transformer.learning_rate=0.01"]))
    assert result.exit_code == 0, result.output + repr(result.exception)
    parts = ModelParts(load_model(run / "model.keras"))
    assert parts.fine_tuned and parts.input_names == ("words", "chars", *ENCODED)
    original = load_checkpoint(checkpoint).backbone
    moved = {w.path: not np.array_equal(a, w.numpy()) for a, w in
             zip(original.get_weights(), parts.transformer.backbone.weights, strict=True)}
    assert sum(moved.values()) > len(moved) // 2
    assert not any(v for k, v in moved.items() if "pooled_dense" in k)
    test = ROOT / "data/test.txt"
    before = invoke("predict", run / "model.keras", test)
    moved_dir = tmp_path / "moved"
    shutil.move(str(checkpoint), moved_dir)
    try:
        after = invoke("predict", run / "model.keras", test)
    finally:
        shutil.move(str(moved_dir), checkpoint)
    assert before.exit_code == 0 and after.stdout == before.stdout


@pytest.mark.parametrize("name", ["FusedAdam", "SGD"])
def test_some_variables_train_at_their_own_rate(name):
    import keras

    from seqlab.training import optimizers

    optimizer = getattr(optimizers, name)(learning_rate=0.1)
    fast, slow = keras.Variable(np.zeros(3, np.float32)), keras.Variable(np.zeros(3, np.float32))
    optimizer.build([fast, slow])
    optimizer.scale_learning_rate([slow], 0.01)
    gradient = np.ones(3, np.float32)
    optimizer.apply([gradient, gradient], [fast, slow])
    np.testing.assert_allclose(slow.numpy(), fast.numpy() * 0.01, rtol=1e-4)
    assert fast.numpy()[0] == pytest.approx(-0.1, rel=1e-3)


def test_batches_carry_the_features_padded():
    from seqlab.batching import make_dataset, padded_batches
    from seqlab.vocab import Encoded

    lengths = np.array([3, 1, 2])
    features = np.arange(6 * 2 * 3, dtype=np.float32).reshape(6, 2, 3) + 1
    encoded = Encoded(np.arange(1, 7, dtype=np.int32), lengths,
                      labels=np.zeros(6, np.int32), transformer=features)
    offsets = encoded.offsets
    seen = 0
    for inputs, _ in make_dataset(encoded, batch_size=2, shuffle=True, seed=3):
        words, got = inputs["words"].numpy(), inputs["transformer"].numpy()
        assert got.shape == (*words.shape, 2, 3)
        for row, ids in zip(got, words):
            i = int(ids[0]) - 1  # word ids are token positions + 1 here
            n = int((ids > 0).sum())
            np.testing.assert_array_equal(row[:n], features[i:i + n])
            assert not row[n:].any()
            seen += 1
    assert seen == 3
    rows = []
    for indices, inputs in padded_batches(encoded, 2, spread=None):
        for r, s in enumerate(indices):
            n = lengths[s]
            np.testing.assert_array_equal(inputs["transformer"][r, :n],
                                          features[offsets[s]:offsets[s] + n])
            assert not inputs["transformer"][r, n:].any()
            rows.append(s)
    assert sorted(rows) == [0, 1, 2]


def test_the_frozen_pass_runs_in_bfloat16(trained):
    """Issue 39: a Tagger in bfloat16 runs the backbone in bfloat16 too; its features come
    back as float32 arrays, near the float32 pass's but not equal to them."""
    import numpy as np

    from seqlab.tagger import Tagger

    run, _, _ = trained
    words = [["EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", "."]]
    plain = Tagger.load(run / "model.keras").parts.transformer
    tagger = Tagger.load(run / "model.keras", precision="bfloat16")
    layer = tagger.parts.transformer
    assert "bfloat16" in {sub.compute_dtype for sub in layer.backbone.layers}
    a, b = plain.word_features(words)[0], layer.word_features(words)[0]
    assert b.dtype == np.float32 and b.shape == a.shape
    assert not np.array_equal(a, b)  # bfloat16 ran
    np.testing.assert_allclose(b, a, atol=0.05 * np.abs(a).max())
    assert len(tagger.tag(words)[0]) == len(words[0])
