"""`seqlab export MODEL OUT --format saved_model`: a SavedModel that tags string tokens with
TensorFlow alone (vocabulary lookup, char ids, decoding and scheme conversion inside)."""

import json
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from seqlab.cli import app

from conftest import DATA, TESTS


def _predicted(path):
    """The last column of `seqlab predict -i conll` output, sentence by sentence."""
    sentences, tags = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            tags.append(line.split()[-1])
        elif tags:
            sentences.append(tags)
            tags = []
    return sentences + ([tags] if tags else [])


@pytest.mark.slow
def test_saved_model_tags_like_seqlab_predict_with_tensorflow_only(trained, tmp_path):
    runner = CliRunner()
    saved = tmp_path / "tagger"
    result = runner.invoke(app, ["export", str(trained / "model.keras"), str(saved),
                                 "--format", "saved_model"])
    assert result.exit_code == 0, result.output + str(result.exception)
    assert (saved / "saved_model.pb").is_file()
    predictions = tmp_path / "pred.conll"
    result = runner.invoke(app, ["predict", str(trained / "model.keras"), str(DATA / "test.txt"),
                                 "-i", "conll", "-o", str(predictions)])
    assert result.exit_code == 0, result.output
    expected = _predicted(predictions)

    proc = subprocess.run([sys.executable, str(TESTS / "export_load_and_tag.py"), str(saved),
                           str(DATA / "test.txt")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["imported"] == []
    assert len(got["tags"]) == len(expected) == 100
    assert got["tags"] == expected
    assert got["served"] == expected
    assert any(t != "O" for tags in expected for t in tags)
    assert got["scheme"] == "iob2" and got["labels"][0] == "O"

    # Nothing is overwritten silently; a wrong format is one line.
    for args, message in ((["export", str(trained / "model.keras"), str(saved)], "--force"),
                          (["export", str(trained / "model.keras"), str(tmp_path / "x"),
                            "--format", "onnx"], "expected one of saved_model")):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and message in result.output, result.output
    not_saved = tmp_path / "notes"
    not_saved.mkdir()
    (not_saved / "keep.txt").write_text("mine")
    result = runner.invoke(app, ["export", str(trained / "model.keras"), str(not_saved),
                                 "--force"])
    assert result.exit_code == 2 and "not one" in result.output
    assert (not_saved / "keep.txt").read_text() == "mine"


@pytest.mark.slow
def test_crf_iobes_model_with_normalised_words_exports_exactly(tmp_path):
    """CRF Viterbi, IOBES tags written back as IOB2, lower-cased words with digits as 0, and
    char ids of long words cut to their first and last halves, all inside the SavedModel."""
    import keras
    import tensorflow as tf

    from seqlab.config import ModelConfig
    from seqlab.export import export_saved_model
    from seqlab.formats import read_corpus
    from seqlab.model import build_model
    from seqlab.schemes import convert
    from seqlab.tagger import Tagger
    from seqlab.vocab import CharVocabulary, LabelVocabulary, Vocabulary

    train = read_corpus(str(DATA / "train.txt"))
    tokens = [s.tokens for s in train]
    labels = LabelVocabulary.build([convert(s.labels, "iobes", source="iob2") for s in train])
    vocab = Vocabulary.build(tokens, min_count=2, lowercase=True, normalize_digits=True)
    chars = CharVocabulary.build(tokens, max_length=5)
    config = ModelConfig.model_validate({
        "embedding": {"dim": 8}, "lstm": {"units": 8}, "attention": {"units": 4},
        "chars": {"encoder": "bilstm", "dim": 4, "units": 4, "max_length": 5},
        "output": "crf"})
    keras.utils.set_random_seed(3)
    model = build_model(config, vocab, labels, scheme="iobes", source_scheme="iob2",
                        chars=chars)
    # An untrained model: make the emissions large enough that the tags vary.
    tags_layer = model.get_layer("tags")
    kernel = tags_layer.get_weights()
    tags_layer.set_weights([w * 20 for w in kernel])
    path = tmp_path / "model.keras"
    model.save(path)
    export_saved_model(path, tmp_path / "saved")

    sentences = [s.tokens for s in read_corpus(str(DATA / "test.txt"))][:40] + [
        ["ZÜRICH", "1996", "Straßenbahnhaltestelle", "x"], [], ["ÉTÉ", "été", "2,5"]]
    expected = Tagger.load(path, max_length=0).tag(sentences)
    loaded = tf.saved_model.load(str(tmp_path / "saved"))
    got = [[t.decode() for t in row] for row in loaded.tag(tf.ragged.constant(
        sentences, dtype=tf.string, ragged_rank=1)).to_list()]
    assert got == expected
    assert any(t.startswith("B-") for tags in got for t in tags)
    assert not any(t[:2] in ("E-", "S-") for tags in got for t in tags)


@pytest.mark.parametrize("source", ["iob1", "iob2", "iobes", "bilou"])
def test_scheme_conversion_in_tensorflow_matches_schemes_convert(source):
    """Random tag sequences, invalid transitions included, converted to every chunk scheme by
    TF ops equal seqlab.schemes.convert (the conlleval reading of chunks)."""
    from seqlab.export import convert_ids
    from seqlab.schemes import convert

    prefixes = {"iob1": "BI", "iob2": "BI", "iobes": "BIES", "bilou": "BILU"}[source]
    labels = ["O"] + [f"{p}-{t}" for t in ("PER", "LOC") for p in prefixes]
    rng = np.random.default_rng(7)
    lengths = rng.integers(0, 9, size=300)
    ids = rng.integers(0, len(labels), size=(300, 9))
    for target in ("iob1", "iob2", "iobes", "bilou"):
        out = convert_ids(ids, lengths, labels, target).numpy()
        for row, n, got in zip(ids, lengths, out):
            tags = [labels[i] for i in row[:n]]
            want = convert(tags, target, source=source)
            assert [t.decode() for t in got[:n]] == want, (tags, target)
            assert all(t == b"" for t in got[n:])
