"""Training: checkpoints and resume, char encoders, scheme conversion, mixed precision."""

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import seqlab.training.loop as training
from seqlab.config import load_config
from seqlab.errors import Interrupted
from seqlab.training import checkpoint

from conftest import QUICK, QUIET, ROOT, SEQLAB, TESTS, TINY, interrupt_after, sets

FOUR_EPOCHS = TINY + ["training.epochs=4"]


def weights(run_dir):
    return json.loads((run_dir / "run.json").read_text())["weights_sha256"]


@pytest.mark.slow
def test_resumed_run_ends_with_the_same_weights(tmp_path):
    config = load_config(QUICK, FOUR_EPOCHS)
    straight = training.train(config, tmp_path / "straight", console=QUIET)
    assert straight.metrics["epochs_run"] == 4

    with pytest.raises(Interrupted, match="interrupted after epoch 2") as stopped:
        training.train(config, tmp_path / "resumed", console=QUIET,
                       on_epoch=interrupt_after(2))
    assert stopped.value.epoch == 2
    assert not (tmp_path / "resumed" / "model.keras").exists()
    resumed = training.train(config, tmp_path / "resumed", resume=True, console=QUIET)

    assert [r["epoch"] for r in resumed.history] == [1, 2, 3, 4]
    assert weights(tmp_path / "resumed") == weights(tmp_path / "straight")
    assert resumed.metrics["test"] == straight.metrics["test"]
    assert (tmp_path / "resumed" / "training.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_a_run_resumed_after_its_best_epoch_keeps_the_weight_averages(tmp_path):
    """training.ema: the best epoch's weights are the averages it was scored with, in memory
    and in its checkpoint; resumed after that epoch, a run ends with them as an uninterrupted
    run does (its checkpoint used to keep the raw weights, and the resumed run ended with
    those)."""
    config = load_config(QUICK, TINY + ["training.epochs=2", "training.ema=0.9",
                                        "data.dev=null"])
    straight = training.train(config, tmp_path / "straight", console=QUIET)
    # after the last epoch, the best: its checkpoint is all there is
    with pytest.raises(Interrupted, match="interrupted after epoch 2"):
        training.train(config, tmp_path / "resumed", console=QUIET,
                       on_epoch=interrupt_after(2))
    resumed = training.train(config, tmp_path / "resumed", resume=True, console=QUIET)
    assert resumed.weights_sha256 == straight.weights_sha256


@pytest.mark.slow
def test_resume_refuses_another_config(tmp_path):
    config = load_config(QUICK, TINY + ["training.epochs=1"])
    training.train(config, tmp_path / "run", console=QUIET)
    other = load_config(QUICK, TINY + ["training.epochs=1", "model.lstm.units=12"])
    with pytest.raises(Exception, match="another config"):
        training.train(other, tmp_path / "run", resume=True, console=QUIET)


@pytest.mark.slow
def test_ctrl_c_leaves_a_checkpoint_and_one_line(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, str(SEQLAB), "train", str(QUICK), "--output", str(out),
         # epochs enough to outlast the second run below on a loaded machine: it is
         # interrupted long before the end
         *sets(FOUR_EPOCHS), "--set", "training.epochs=5000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # A shell that starts jobs in the background (CI runners do) makes them ignore
        # SIGINT, and children inherit that: give the trainer Ctrl-C back, as a terminal would.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    state = out / "checkpoints" / "state.json"
    deadline = time.time() + 240
    while not state.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    # While it trains, a second run into the same directory is refused, even with --force.
    second = subprocess.run([sys.executable, str(SEQLAB), "train", str(QUICK), "--output",
                             str(out), "--force"], capture_output=True, text=True, timeout=120)
    proc.send_signal(signal.SIGINT)
    # One Ctrl-C is enough, even when it lands in a finalizer (it once did, and was lost:
    # test_a_ctrl_c_swallowed_while_an_epoch_trains_still_ends_the_run).
    _, stderr = proc.communicate(timeout=120)
    assert second.returncode == 2, second.stderr
    assert "another seqlab train (pid" in second.stderr and "is writing" in second.stderr
    assert len(second.stderr.strip().splitlines()) == 1
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("interrupted after epoch")
    # the hint names the real config and the overrides, so it can be run as it is
    assert f"seqlab train {QUICK} --output {out} --set training.patience=null" in last
    assert last.endswith("--set training.epochs=5000 --resume")
    done = json.loads(state.read_text())["epoch"]
    assert done >= 1 and (out / "checkpoints" / "last.keras").is_file()
    assert not (out / ".seqlab.lock").exists()


def test_ctrl_c_while_a_checkpoint_is_written_waits_for_it(tmp_path):
    """Ctrl-C in the middle of writing an archive used to surface as zipfile's "Can't close
    the ZIP file" error with a traceback; now the checkpoint completes, then it interrupts."""
    import os

    from seqlab.training.rundir import interrupts_deferred

    # Under a shell that starts jobs in the background (CI runners do), Python starts with
    # SIGINT ignored: give this process Ctrl-C as a terminal would, and put back what it had.
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            with interrupts_deferred():
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.05)  # the signal is delivered here, and held
                checkpoint.save_arrays(tmp_path / "a.npz", [np.arange(3)])
        assert checkpoint.load_arrays(tmp_path / "a.npz")[0].tolist() == [0, 1, 2]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        with interrupts_deferred():  # nothing caught: nothing raised
            pass
    finally:
        signal.signal(signal.SIGINT, before)


class _CtrlCInFinalizer:
    """Pressing Ctrl-C while a finalizer runs, as TensorFlow's often do: Python raises the
    KeyboardInterrupt inside ``__del__``, prints "Exception ignored" and goes on."""

    def __del__(self):
        signal.raise_signal(signal.SIGINT)  # its handler runs here, inside __del__


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_ctrl_c_swallowed_by_a_finalizer_is_raised_again():
    from seqlab.training.rundir import interrupts_remembered, raise_lost_interrupt

    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _CtrlCInFinalizer()  # outside: lost, which is the defect
        raise_lost_interrupt()
        with pytest.raises(KeyboardInterrupt):
            with interrupts_remembered():
                _CtrlCInFinalizer()
                raise_lost_interrupt()
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        with interrupts_remembered():
            raise_lost_interrupt()  # none received: nothing raised
    finally:
        signal.signal(signal.SIGINT, before)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_ctrl_c_swallowed_while_an_epoch_trains_still_ends_the_run(tmp_path):
    """It ends the run at the end of the batch, before the first epoch ended (it used to
    train to the end and save, exit 0: CI, 2026-12-07)."""
    import keras

    class Press(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):  # (after each steps_per_execution)
            if batch < 10:
                _CtrlCInFinalizer()

    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        config = load_config(QUICK, TINY + ["training.epochs=2"])
        with pytest.raises(Interrupted, match="interrupted before the first epoch"):
            training.train(config, tmp_path / "run", console=QUIET, callbacks=[Press()])
    finally:
        signal.signal(signal.SIGINT, before)
    assert not (tmp_path / "run").exists()


def _probabilities(model, tagger, sentences):
    from seqlab.batching import padded_batches
    from seqlab.vocab import encode_corpus

    encoded = encode_corpus(tagger.vocab, sentences, chars=tagger.chars)
    (rows, batch), = padded_batches(encoded, batch_size=len(sentences), spread=None)
    out = np.asarray(model.predict_on_batch(batch))
    return out[list(rows).index(0), : len(sentences[0])]


@pytest.mark.slow
@pytest.mark.parametrize("encoder, output", [("none", "softmax"), ("cnn", "crf"),
                                             ("bilstm", "softmax")])
def test_padding_never_changes_a_sentence_result(tmp_path, encoder, output):
    """A sentence gets the same scores alone or padded beside a longer one, whatever the
    char encoder and output layer (Keras' Concatenate would let padding in: see PerToken)."""
    from seqlab.tagger import Tagger

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
    # The tagger runs the char encoder once per distinct token, then the rest of the
    # network: the same tags and probabilities as the whole model on per-token chars.
    sentences = [sentence + ["Maria", ""], [], ["x" * 40, "Oslo", "Maria"], ["Ünï", "😀"],
                 ["Lisbon"] * 9]
    ids, chosen = tagger.predict_ids(sentences, batch_size=2, probs=True)
    for i, (want_ids, want_probs) in _whole_model(tagger, sentences).items():
        np.testing.assert_array_equal(ids[i], want_ids)
        np.testing.assert_allclose(chosen[i], want_probs, atol=1e-6)


def _whole_model(tagger, sentences):
    """Each sentence's tag ids and probabilities from the whole model (`forward_step`), the
    chars given per token, in batches of two."""
    from seqlab.batching import padded_batches
    from seqlab.vocab import encode_corpus

    encoded = encode_corpus(tagger.vocab, sentences, chars=tagger.chars)
    step, out = tagger.forward_step(probs=True), {}
    for rows, batch in padded_batches(encoded, 2):
        best, chosen = (np.asarray(x) for x in step(batch))
        for r, i in enumerate(rows):
            out[int(i)] = best[r, : len(sentences[i])], chosen[r, : len(sentences[i])]
    return out


@pytest.mark.slow
def test_training_in_iobes_writes_iob2_back(tmp_path):
    from seqlab.schemes import invalid_transitions
    from seqlab.tagger import Tagger

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


@pytest.mark.slow
@pytest.mark.parametrize("policy, output", [("mixed_bfloat16", "softmax"),
                                            ("mixed_float16", "crf")])
def test_mixed_precision_trains_end_to_end(tmp_path, policy, output):
    import math

    import keras

    from seqlab.tagger import Tagger

    config = load_config(QUICK, TINY + ["training.epochs=1", f"training.precision={policy}",
                                        f"model.output={output}"])
    run = training.train(config, tmp_path / "run", console=QUIET)
    assert keras.config.dtype_policy().name == "float32"  # restored afterwards
    assert math.isfinite(run.history[0]["loss"])
    # trained in mixed precision, saved computing in float32 (issue 39); run.json says how
    recorded = json.loads((tmp_path / "run" / "run.json").read_text())
    assert recorded["precision"] == policy
    tagger = Tagger.load(tmp_path / "run" / "model.keras")
    assert tagger.model.get_layer("bilstm_1").dtype_policy.name == "float32"
    tags, probs = tagger.predict_ids([["Maria", "flew", "to", "Oslo"]], probs=True)
    assert len(tags[0]) == 4 and all(math.isfinite(p) for p in probs[0])


@pytest.mark.slow
def test_streamed_training_builds_the_same_vocabularies(tmp_path):
    """data.stream reads the training file each epoch; its one-pass vocabularies equal the
    in-memory ones, and the model trains and tags."""
    from seqlab.formats import read_corpus
    from seqlab.tagger import Tagger
    from seqlab.vocab import CharVocabulary, Vocabulary

    config = load_config(QUICK, TINY + ["training.epochs=2", "data.stream=true",
                                        "data.shuffle_buffer=64"])
    run = training.train(config, tmp_path / "run", console=QUIET)
    assert [r["epoch"] for r in run.history] == [1, 2]
    tagger = Tagger.load(tmp_path / "run" / "model.keras")
    tokens = [s.tokens for s in read_corpus(ROOT / "data/train.txt")]
    assert tagger.vocab.tokens == Vocabulary.build(tokens, min_count=2,
                                                   normalize_digits=True).tokens
    assert tagger.chars.chars == CharVocabulary.build(tokens).chars
    assert 0 <= run.metrics["test"]["f1"] <= 100


def test_a_held_directory_is_refused_and_a_killed_holder_frees_it(tmp_path):
    """The run lock is flock: a second run is refused while the first holds it, and a run
    killed with SIGKILL leaves nothing stuck."""
    from typer.testing import CliRunner

    from seqlab.cli import app

    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, str(TESTS / "hold_run_lock.py"), str(out)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        for extra in ([], ["--force"], ["--resume"]):
            result = CliRunner().invoke(app, ["train", str(QUICK), "--output", str(out), *extra])
            assert result.exit_code == 2, result.output
            assert f"another seqlab train (pid {holder.pid}) is writing" in result.stderr
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    from seqlab.training.rundir import RunLock, check_output

    check_output(out, force=True)  # the kernel dropped the killed run's lock
    with RunLock(out):
        pass


def test_ctrl_c_before_the_first_epoch_says_there_is_nothing_to_resume_yet(tmp_path):
    """A real Ctrl-C (SIGINT to this process) soon after the run has locked its directory:
    while it reads the data, builds the model or traces the first epoch."""
    import os
    import threading

    from typer.testing import CliRunner

    from seqlab.cli import app

    out = tmp_path / "run"
    done = threading.Event()

    def press_ctrl_c():
        lock = out / ".seqlab.lock"
        while not done.is_set():
            if lock.exists() and lock.read_text():  # the lock is taken (its pid written last)
                time.sleep(0.2)  # well inside the run, long before the first epoch ends
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.01)

    # As in test_ctrl_c_while_a_checkpoint_is_written_waits_for_it: Ctrl-C raises here.
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    presser = threading.Thread(target=press_ctrl_c)
    presser.start()
    try:
        result = CliRunner().invoke(app, ["train", str(QUICK), "--output", str(out),
                                          "--set", "training.epochs=2"])
    finally:
        done.set()
        presser.join()
        signal.signal(signal.SIGINT, before)
    assert result.exit_code == 130, result.output
    assert "Traceback" not in result.output
    line = result.stderr.strip().splitlines()[-1]  # after what the run said of its data
    assert line == (f"interrupted before the first epoch ended: nothing to resume yet; start "
                    f"again with: seqlab train {QUICK} --output {out} --set training.epochs=2")
    assert not out.exists()  # nothing was written, not even the directory
    result = CliRunner().invoke(app, ["train", str(QUICK), "--output", str(out), "--resume"])
    assert result.exit_code == 2
    assert "nothing to resume yet (no finished epoch in checkpoints/)" in result.stderr


def test_plain_labels_with_a_training_scheme_are_a_one_line_error_in_both_paths(tmp_path):
    """In memory and streamed, the same checks: a train_scheme needs chunk labels, and a label
    that does not fit the files' scheme names its line."""
    from seqlab.errors import SeqlabError

    pos = tmp_path / "pos.txt"
    pos.write_text("EU NNP\nrejects VBZ\n\nit PRP\n", encoding="utf-8")
    mixed = tmp_path / "mixed.txt"
    mixed.write_text("EU B-ORG\nrejects O\n\nit S-PER\nthey E-PER\nthem L-PER\n",
                     encoding="utf-8")
    for stream in ("false", "true"):
        for path, overrides, message in (
            (pos, ["data.train_scheme=iobes"], "key 'data.train_scheme': iobes needs chunk"),
            (mixed, ["data.scheme=iob2"], r"mixed\.txt:4: label 'S-PER' does not fit the "
                                          "declared scheme iob2"),
            (mixed, [], r"mixed\.txt:6: label 'L-PER' does not fit the detected scheme iobes"),
        ):
            config = load_config(QUICK, FOUR_EPOCHS + [f"data.train={path}", "data.dev=null",
                                                "data.test=null", f"data.stream={stream}",
                                                *overrides])
            with pytest.raises(SeqlabError, match=message):
                training.train(config, tmp_path / f"run-{stream}", console=QUIET)
            assert not (tmp_path / f"run-{stream}").exists()


@pytest.mark.slow
def test_weight_averaging_is_what_is_scored_and_saved_and_leaves_training_alone(tmp_path):
    """training.ema: the moving average of the weights is scored and saved, while training
    itself goes on from the raw weights, exactly as without averaging."""
    import keras

    base = TINY + ["training.epochs=1", "data.dev=null", "data.test=null"]
    plain = training.train(load_config(QUICK, base), tmp_path / "plain", console=QUIET)
    averaged = training.train(load_config(QUICK, base + ["training.ema=0.9"]),
                              tmp_path / "ema", console=QUIET)
    assert [r["loss"] for r in averaged.history] == [r["loss"] for r in plain.history]

    def weights(path):
        return keras.models.load_model(path, compile=False).get_weights()

    raw_plain = weights(tmp_path / "plain" / "checkpoints" / "last.keras")
    raw_ema = weights(tmp_path / "ema" / "checkpoints" / "last.keras")
    assert all(np.array_equal(a, b) for a, b in zip(raw_plain, raw_ema))
    saved = weights(tmp_path / "ema" / "model.keras")
    assert not all(np.allclose(a, b) for a, b in zip(saved, raw_ema))
    # with a momentum of almost 0 the average is the last weights themselves
    tiny = training.train(load_config(QUICK, base + ["training.ema=1e-9"]), tmp_path / "tiny",
                          console=QUIET)
    assert tiny.best_epoch == 1
    for a, b in zip(weights(tmp_path / "tiny" / "model.keras"), raw_plain):
        np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("key, expected", [
    ("clipnorm", [[-1.0, 0.0], [0.0, -1.0]]),          # each gradient clipped on its own
    ("global_clipnorm", [[-0.6, 0.0], [0.0, -0.8]]),   # both scaled by 1 / joint norm 5
])
def test_gradient_clipping_per_weight_or_joint(key, expected):
    """Gradients (3, 0) and (0, 4) with a norm limit of 1 and plain SGD at rate 1, worked by
    hand: per weight each becomes a unit vector; jointly (norm 5) both shrink by 5."""
    import keras

    config = load_config(QUICK, ["training.optimizer=sgd", "training.momentum=0",
                                 "training.learning_rate=1", "training.clipnorm=null",
                                 f"training.{key}=1"])
    weights = [keras.Variable(np.zeros(2, "float32")) for _ in range(2)]
    training.make_optimizer(config).apply(
        [np.array([3.0, 0.0], "float32"), np.array([0.0, 4.0], "float32")], weights)
    np.testing.assert_allclose([w.numpy() for w in weights], expected, atol=1e-6)


def test_both_clippings_at_once_are_a_one_line_config_error():
    from seqlab.errors import SeqlabError

    with pytest.raises(SeqlabError, match=r"training\.global_clipnorm and training\.clipnorm "
                                          r"are both set: expected at most one"):
        load_config(QUICK, ["training.clipnorm=5", "training.global_clipnorm=1"])


@pytest.mark.slow
def test_steps_per_execution_changes_nothing_a_run_learns(tmp_path):
    """Several batches a call into TensorFlow (the default 8) give the weights of one a call,
    to the last bit; the data's batches do not divide by 8 here, so the last call is short."""
    base = TINY + ["training.epochs=2"]
    one = training.train(load_config(QUICK, base + ["training.steps_per_execution=1"]),
                         tmp_path / "one", console=QUIET)
    eight = training.train(load_config(QUICK, base), tmp_path / "eight", console=QUIET)
    assert load_config(QUICK, base).training.steps_per_execution == 8
    assert [r["loss"] for r in one.history] == [r["loss"] for r in eight.history]
    assert weights(tmp_path / "one") == weights(tmp_path / "eight")


@pytest.mark.slow
def test_a_token_budget_runs_the_planned_batches(tmp_path):
    """With ``training.batch_tokens`` an epoch runs the batches `plan_batches` cuts by padded
    tokens (in the order of `epoch_seed`): after two epochs the optimizer has taken their
    number of steps, not that of batches of batch_size sentences."""
    from seqlab.batching import plan_batches
    from seqlab.training.checkpoint import load_arrays
    from seqlab.training.data import prepare_data

    config = load_config(QUICK, TINY + ["training.epochs=2", "training.batch_size=64",
                                        "training.batch_tokens=120"])
    training.train(config, tmp_path / "run", console=QUIET)
    lengths = prepare_data(config, lambda *_: None).encoded.lengths

    def steps(max_tokens):
        return sum(len(plan_batches(lengths, 64, shuffle=True, max_tokens=max_tokens,
                                    seed=training.epoch_seed(config.seed, e))[1])
                   for e in range(2))

    iterations = load_arrays(tmp_path / "run" / "checkpoints" / "optimizer.npz")[0]
    assert steps(120) != steps(None)
    assert int(iterations) == steps(120)


@pytest.mark.slow
def test_the_epoch_loop_alone_ends_where_a_run_ends(tmp_path):
    """train_while_improving, consumed by a bare for loop (no checkpoint, table or history),
    yields the epochs `train` records, stops early on patience at the same epoch, and leaves
    the best epoch's weights: the side effects that consume it change nothing it learns. The
    run's files read back through RunDir as train returned them."""
    from seqlab.distribute import setup
    from seqlab.tagger import Tagger
    from seqlab.training.data import prepare_data
    from seqlab.training.progress import Reporter
    from seqlab.training.record import weights_digest
    from seqlab.training.rundir import RunDir

    config = load_config(QUICK, TINY + ["training.epochs=8", "training.patience=1",
                                        "training.learning_rate=0.03"])
    run = training.train(config, tmp_path / "run", console=QUIET)
    assert run.metrics["epochs_run"] < 8  # stopped early: patience is exercised

    prep = prepare_data(config, lambda *_: None)
    training.seed_everything(config.seed)
    model = training.build_compiled(config, prep)
    state = {"epoch": 0, "best_score": None, "best_epoch": 0, "seconds": 0.0}
    epochs = list(training.train_while_improving(
        model, Tagger(model), config, prep, state, setup("none"), Reporter(QUIET, "f1", True),
        [], time.perf_counter()))

    timings = ("tokens_per_second", "train_seconds", "elapsed_seconds", "epoch_seconds")
    assert [{k: v for k, v in e.row.items() if k not in timings} for e in epochs] == \
        [{k: v for k, v in row.items() if k not in timings} for row in run.history]
    assert [bool(e.stop) for e in epochs] == [False] * (len(epochs) - 1) + [True]
    assert state["best_epoch"] == run.best_epoch and epochs[run.best_epoch - 1].improved
    assert weights_digest(model) == run.weights_sha256

    files = RunDir(tmp_path / "run")
    assert all(RunDir.owns(p.name) for p in files.path.iterdir())
    assert files.read_history() == run.history
    assert files.read_record()["weights_sha256"] == run.weights_sha256
    assert files.read_metrics()["dev"] == run.metrics["dev"]
    assert len(files.read_predictions()) == len(prep.dev.tokens)


def test_the_training_modules_import_no_circle():
    """seqlab.training's modules import one another in one direction only (imports inside
    functions too): the loop consumed record, whose ``reproduce`` imported the loop."""
    import ast

    package = ROOT / "seqlab" / "training"
    graph = {}
    for path in package.glob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
                names.update(f"{node.module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
        graph[path.stem] = {n.split(".")[2] for n in names
                            if n.startswith("seqlab.training.") and n.count(".") >= 2} - {
            path.stem}
    assert graph["record"] == set() and "record" in graph["loop"]

    def reaches(start, goal, seen=()):
        return any(m == goal or (m not in seen and reaches(m, goal, (*seen, m)))
                   for m in graph.get(start, ()))

    circles = sorted(m for m in graph if reaches(m, m))
    assert circles == []
