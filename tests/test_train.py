"""Training: checkpoints and resume, char encoders, scheme conversion, mixed precision."""

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from rich.console import Console

import seqlab.train as training
from seqlab.config import load_config
from seqlab.errors import Interrupted

from conftest import ROOT, SEQLAB

QUICK = ROOT / "configs/quickstart.yaml"
TINY = ["training.epochs=4", "training.patience=null", "model.lstm.units=16",
        "model.embedding.dim=16", "model.attention.units=8", "model.chars.filters=8",
        "model.chars.dim=8"]
QUIET = Console(stderr=True, quiet=True)


def weights(run_dir):
    return json.loads((run_dir / "run.json").read_text())["weights_sha256"]


def test_resumed_run_ends_with_the_same_weights(tmp_path, monkeypatch):
    config = load_config(QUICK, TINY)
    straight = training.train(config, tmp_path / "straight", console=QUIET)
    assert straight.metrics["epochs_run"] == 4

    real_save = training.save_checkpoint

    def save_then_stop(folder, model, state, improved):
        real_save(folder, model, state, improved)
        if state["epoch"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(training, "save_checkpoint", save_then_stop)
    with pytest.raises(Interrupted, match="interrupted after epoch 2.*--resume"):
        training.train(config, tmp_path / "resumed", console=QUIET)
    assert not (tmp_path / "resumed" / "model.keras").exists()
    monkeypatch.setattr(training, "save_checkpoint", real_save)
    resumed = training.train(config, tmp_path / "resumed", resume=True, console=QUIET)

    assert [r["epoch"] for r in resumed.history] == [1, 2, 3, 4]
    assert weights(tmp_path / "resumed") == weights(tmp_path / "straight")
    assert resumed.metrics["test"] == straight.metrics["test"]
    assert (tmp_path / "resumed" / "training.png").read_bytes()[:4] == b"\x89PNG"


def test_resume_refuses_another_config(tmp_path):
    config = load_config(QUICK, TINY + ["training.epochs=1"])
    training.train(config, tmp_path / "run", console=QUIET)
    other = load_config(QUICK, TINY + ["training.epochs=1", "model.lstm.units=12"])
    with pytest.raises(Exception, match="another config"):
        training.train(other, tmp_path / "run", resume=True, console=QUIET)


def test_ctrl_c_leaves_a_checkpoint_and_one_line(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, str(SEQLAB), "train", str(QUICK), "--output", str(out),
         *[x for kv in TINY for x in ("--set", kv)], "--set", "training.epochs=50"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # A shell that starts jobs in the background (CI runners do) makes them ignore
        # SIGINT, and children inherit that: give the trainer Ctrl-C back, as a terminal would.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    state = out / "checkpoints" / "state.json"
    deadline = time.time() + 240
    while not state.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("interrupted after epoch") and "--resume" in last
    done = json.loads(state.read_text())["epoch"]
    assert done >= 1 and (out / "checkpoints" / "last.keras").is_file()


def _probabilities(model, tagger, sentences):
    from seqlab.vocab import encode_corpus, padded_batches

    encoded = encode_corpus(tagger.vocab, sentences, chars=tagger.chars)
    (rows, batch), = padded_batches(encoded, batch_size=len(sentences))
    out = np.asarray(model.predict_on_batch(batch))
    return out[list(rows).index(0), : len(sentences[0])]


@pytest.mark.parametrize("encoder, output", [("none", "softmax"), ("cnn", "crf"),
                                             ("bilstm", "softmax")])
def test_padding_never_changes_a_sentence_result(tmp_path, encoder, output):
    """A sentence gets the same scores alone or padded beside a longer one, whatever the
    char encoder and output layer (Keras' Concatenate would let padding in: see PerToken)."""
    from seqlab.predict import Tagger

    config = load_config(QUICK, TINY + ["training.epochs=1", f"model.chars.encoder={encoder}",
                                        f"model.output={output}"])
    training.train(config, tmp_path / "run", console=QUIET)
    tagger = Tagger.load(tmp_path / "run" / "model.keras")
    assert (tagger.chars is None) == (encoder == "none")
    assert (tagger.crf is None) == (output == "softmax")
    sentence = ["Maria", "flew", "to", "Oslo", "."]
    alone = _probabilities(tagger.model, tagger, [sentence])
    padded = _probabilities(tagger.model, tagger, [sentence, ["Lisbon"] * 40])
    np.testing.assert_allclose(alone, padded, atol=1e-5)
    tags, probs = tagger.predict_ids([sentence, [], ["x"]], probs=True)
    assert [len(t) for t in tags] == [5, 0, 1]
    assert all(((p > 0) & (p <= 1 + 1e-6)).all() for p in probs)


def test_training_in_iobes_writes_iob2_back(tmp_path):
    from seqlab.predict import Tagger
    from seqlab.schemes import invalid_transitions

    config = load_config(QUICK, TINY + ["training.epochs=2", "data.train_scheme=iobes"])
    run = training.train(config, tmp_path / "run", console=QUIET)
    tagger = Tagger.load(tmp_path / "run" / "model.keras")
    assert tagger.scheme == "iobes" and tagger.source_scheme == "iob2"
    assert any(label.startswith(("S-", "E-")) for label in tagger.labels)
    tagged = tagger.tag([line.split() for line in
                         (ROOT / "data/sample_input.txt").read_text().splitlines()])
    for tags in tagged:
        assert not any(t.startswith(("S-", "E-")) for t in tags)
        assert invalid_transitions(tags, "iob2") == []
    assert 0 <= run.metrics["test"]["f1"] <= 100


@pytest.mark.parametrize("policy, output", [("mixed_bfloat16", "softmax"),
                                            ("mixed_float16", "crf")])
def test_mixed_precision_trains_end_to_end(tmp_path, policy, output):
    import math

    import keras

    from seqlab.predict import Tagger

    config = load_config(QUICK, TINY + ["training.epochs=1", f"training.precision={policy}",
                                        f"model.output={output}"])
    run = training.train(config, tmp_path / "run", console=QUIET)
    assert keras.config.dtype_policy().name == "float32"  # restored afterwards
    assert math.isfinite(run.history[0]["loss"])
    tagger = Tagger.load(tmp_path / "run" / "model.keras")
    assert tagger.model.get_layer("bilstm_1").dtype_policy.name == policy
    tags, probs = tagger.predict_ids([["Maria", "flew", "to", "Oslo"]], probs=True)
    assert len(tags[0]) == 4 and all(math.isfinite(p) for p in probs[0])


def test_streamed_training_builds_the_same_vocabularies(tmp_path):
    """data.stream reads the training file each epoch; its one-pass vocabularies equal the
    in-memory ones, and the model trains and tags."""
    from seqlab.data import read_conll
    from seqlab.predict import Tagger
    from seqlab.vocab import CharVocabulary, Vocabulary

    config = load_config(QUICK, TINY + ["training.epochs=2", "data.stream=true",
                                        "data.shuffle_buffer=64"])
    run = training.train(config, tmp_path / "run", console=QUIET)
    assert [r["epoch"] for r in run.history] == [1, 2]
    tagger = Tagger.load(tmp_path / "run" / "model.keras")
    tokens = [s.tokens for s in read_conll(ROOT / "data/train.txt")]
    assert tagger.vocab.tokens == Vocabulary.build(tokens, min_count=2,
                                                   normalize_digits=True).tokens
    assert tagger.chars.chars == CharVocabulary.build(tokens).chars
    assert 0 <= run.metrics["test"]["f1"] <= 100
