"""Training under hostile conditions (issue 37): nothing lost, nothing silently wrong.

--force never loses the old run (or set) before the new one has finished, a resume refuses
changed data, a diverging loss and an out-of-memory stop with one line, invalid IOB2
transitions are said once, SIGTERM ends a run as Ctrl-C does."""

import json
import math
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import seqlab.training.loop as training
from seqlab.config import load_config
from seqlab.errors import Interrupted, SeqlabError
from seqlab.training import checkpoint

from conftest import DATA, QUICK, QUIET, SEQLAB, TESTS, TINY, interrupt_after, invoke, sets

TWO_EPOCHS = TINY + ["training.epochs=2"]
SETS = sets(TWO_EPOCHS)


def snapshot(path):
    """Every file under ``path`` with its bytes."""
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*"))
            if p.is_file()}


def siblings(path):
    return sorted(p.name for p in path.parent.iterdir() if p.name != path.name)


@pytest.fixture
def old_run(trained, tmp_path):
    """A copy of a finished run, to be replaced."""
    run = tmp_path / "work" / "run"
    shutil.copytree(trained, run)
    return run


@pytest.fixture
def bad_train(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("EU NNP B-NP B-ORG\nrejects\n", encoding="utf-8")  # a one-column line
    return bad


# -- item 1: --force keeps the old run until the new one has something to put there ----------

def test_force_with_bad_data_leaves_the_old_run_whole(old_run, bad_train):
    before = snapshot(old_run)
    result = invoke("train", QUICK, "--output", old_run, "--force", *SETS,
                    "--set", f"data.train={bad_train}")
    assert result.exit_code == 2, result.output
    assert "bad.txt:2" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert snapshot(old_run) == before
    assert siblings(old_run) == []  # no sibling left behind


@pytest.mark.slow
def test_an_interrupted_forced_run_keeps_the_old_run_and_resumes(old_run):
    before = snapshot(old_run)
    new = old_run.parent / "run.seqlab-new"

    def locked():  # while the new run trains, the directory is locked against a second run
        from seqlab.training.rundir import check_output

        for flags in ({"force": True}, {"resume": True}):
            with pytest.raises(SeqlabError, match="another seqlab train"):
                check_output(old_run, **flags)

    config = load_config(QUICK, TWO_EPOCHS)
    with pytest.raises(Interrupted) as stopped:
        training.train(config, old_run, force=True, console=QUIET,
                       on_epoch=interrupt_after(1, first=locked))
    assert str(stopped.value) == (f"interrupted after epoch 1 ({old_run} keeps the previous "
                                  f"run until this one finishes; its checkpoints are in {new})")
    assert snapshot(old_run) == before
    assert siblings(old_run) == ["run.seqlab-new"]
    assert (new / "checkpoints" / "state.json").is_file()

    # a fresh run into it is refused while the forced one waits
    fresh = invoke("train", QUICK, "--output", old_run.parent / "run", *SETS)
    assert fresh.exit_code == 2 and "unfinished forced run" in fresh.stderr

    result = invoke("train", QUICK, "--output", old_run, "--resume", *SETS)
    assert result.exit_code == 0, result.output
    assert "resuming after epoch 1" in result.stderr
    record = json.loads((old_run / "run.json").read_text())
    assert record["config"]["model"]["lstm"]["units"] == 8  # the new run is in place
    assert [r["epoch"] for r in json.loads(
        (old_run / "checkpoints" / "state.json").read_text())["history"]] == [1, 2]
    assert siblings(old_run) == [] and not (old_run / ".seqlab.lock").exists()


def test_a_forced_set_with_bad_data_keeps_the_old_set(old_run, bad_train):
    out = old_run.parent / "set"
    shutil.copytree(old_run, out / "seed-13")
    shutil.copyfile(old_run / "model.keras", out / "model.keras")
    (out / "summary.json").write_text("{}\n")
    before = snapshot(out)
    result = invoke("train", QUICK, "--output", out, "--seeds", "13,14", "--force", *SETS,
                    "--set", f"data.train={bad_train}")
    assert result.exit_code == 2, result.output
    assert "bad.txt:2" in result.stderr and "keeps the previous set" in result.stderr
    assert snapshot(out) == before
    assert "set.seqlab-new" not in siblings(out)


# -- item 2: a resume refuses data that changed ----------------------------------------------

@pytest.mark.slow
def test_resume_refuses_a_changed_training_file(tmp_path):
    data = tmp_path / "train.txt"
    shutil.copyfile(DATA / "train.txt", data)
    config = load_config(QUICK, TWO_EPOCHS + [f"data.train={data}"])
    with pytest.raises(Interrupted):
        training.train(config, tmp_path / "run", console=QUIET, on_epoch=interrupt_after(1))
    state = json.loads((tmp_path / "run" / "checkpoints" / "state.json").read_text())
    assert set(state["data_sha256"]) == {"train", "dev", "test"}

    text = data.read_text(encoding="utf-8")
    data.write_text(text.replace("B-ORG", "B-XXX").replace("B-MISC", "B-ORG")
                    .replace("B-XXX", "B-MISC"), encoding="utf-8")  # same labels, other ids
    with pytest.raises(SeqlabError, match=rf"^{data}: data.train changed since the run"):
        training.train(config, tmp_path / "run", resume=True, console=QUIET)
    assert not (tmp_path / "run" / "model.keras").exists()


# -- item 3: a loss that is not a number stops the run ---------------------------------------

@pytest.mark.slow
def test_a_diverging_loss_stops_with_one_line_and_keeps_the_last_good_checkpoint(old_run):
    """Forced over an old run: the old run stays whole too."""
    import keras

    class Poison(keras.callbacks.Callback):
        """Weights that are no longer numbers from the second epoch on: its loss is NaN."""

        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                self.model.set_weights([np.full_like(w, np.nan)
                                        for w in self.model.get_weights()])

    before = snapshot(old_run)
    config = load_config(QUICK, TWO_EPOCHS + ["training.epochs=3"])
    with pytest.raises(SeqlabError) as failed:
        training.train(config, old_run, force=True, console=QUIET, callbacks=[Poison()])
    message = str(failed.value)
    assert message.startswith("epoch 2: the training loss is nan")
    assert "lower training.learning_rate (now 0.003)" in message
    assert "the last good checkpoint (epoch 1)" in message and "no model was saved" in message
    assert "\n" not in message
    assert snapshot(old_run) == before
    new = old_run.parent / "run.seqlab-new"
    assert f"the new run's last checkpoint is in {new}" in message
    assert json.loads((new / "checkpoints" / "state.json").read_text())["epoch"] == 1
    assert not (new / "model.keras").exists()
    assert all(math.isfinite(float(np.sum(w))) for w in
               checkpoint.load_arrays(new / "checkpoints" / "best.npz"))


# -- item 7: out of memory is one line naming the sizes --------------------------------------

@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_out_of_memory_while_building_names_the_sizes_to_lower(tmp_path):
    """A real one: the model is built in a process whose address space is capped."""
    proc = subprocess.run([sys.executable, str(TESTS / "build_out_of_memory.py"),
                           str(tmp_path / "a")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1].startswith(
        "out of memory while building the model: lower model.lstm.units (4096), "
        "model.embedding.dim (8)"), proc.stdout
    assert not (tmp_path / "a").exists()


def test_out_of_memory_in_an_epoch_names_the_sizes_to_lower(tmp_path):
    import keras

    class NoMemory(keras.callbacks.Callback):
        """What runs out inside fit is the host's memory (Keras' or TensorFlow's)."""

        def on_train_batch_begin(self, batch, logs=None):
            raise MemoryError

    config = load_config(QUICK, TWO_EPOCHS)
    with pytest.raises(SeqlabError, match=r"^out of memory in epoch 1: lower "
                                          r"training\.batch_size \(16\), model\.lstm\.units"):
        training.train(config, tmp_path / "b", console=QUIET, callbacks=[NoMemory()])


# -- item 20: invalid IOB2 transitions are said once -----------------------------------------

def test_invalid_iob2_transitions_are_said_once_in_both_paths(tmp_path):
    from seqlab.training.data import prepare_data

    data = tmp_path / "t.txt"
    data.write_text("EU B-ORG\nin O\nParis I-LOC\n\nBonn B-LOC\nand O\nRome I-LOC\n"
                    "is O\n\nok O\n", encoding="utf-8")
    for stream in ("false", "true"):
        config = load_config(QUICK, TWO_EPOCHS + [f"data.train={data}", "data.dev=null",
                                            "data.test=null", f"data.stream={stream}",
                                            "data.label_column=1", "data.scheme=iob2"])
        said = []
        prepare_data(config, said.append)
        warnings = [line for line in said if line.startswith("warning:")]
        assert warnings == [f"warning: {data}: 2 invalid iob2 transitions (first at line 3, "
                            "e.g. I-X after O); training keeps them, read as conlleval reads "
                            "them (an I-X that does not continue a chunk starts one); `seqlab "
                            "data stats` lists them"], said


# -- item 21: SIGTERM ends a run as Ctrl-C does, even with SIGINT ignored --------------------

@pytest.mark.slow
def test_sigterm_leaves_a_checkpoint_and_the_resume_command(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, str(SEQLAB), "train", str(QUICK), "--output", str(out), *SETS,
         "--set", "training.epochs=50"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # started as a background job: SIGINT ignored
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    state = out / "checkpoints" / "state.json"
    deadline = time.time() + 240
    while not state.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stderr
    assert "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("terminated (SIGTERM) after epoch"), last
    assert last.endswith("--set training.epochs=50 --resume")
    done = json.loads(state.read_text())["epoch"]
    assert done >= 1 and (out / "checkpoints" / "last.keras").is_file()
    assert not (out / ".seqlab.lock").exists()


def test_a_training_file_with_one_label_is_refused_in_one_line(tmp_path):
    """One label (a two-column file read with label_column -1 whose last column is constant,
    or the wrong column) used to crash in the loss with a traceback; the old run stays."""
    from seqlab.config import load_config
    from seqlab.errors import SeqlabError
    from seqlab.training.data import prepare_data

    data = tmp_path / "one.txt"
    data.write_text("a O\nb O\n\nc O\n", encoding="utf-8")
    config = load_config(QUICK, [f"data.train={data}", "data.dev=null", "data.test=null"])
    with pytest.raises(SeqlabError, match=r"one\.txt: every token has the label 'O'; a tagger "
                                          r"learns from at least two labels"):
        prepare_data(config, say=lambda *a: None)


def test_every_epoch_reads_the_same_corpus_tensors():
    """A tf.constant made anew each epoch was a copy the finished epoch never gave back: a
    frozen transformer's features (4.6 GB for MiniLM on CoNLL-2003) grew the process by that
    much a epoch until the OOM killer stopped it in epoch 5. The constants are made once."""
    from seqlab.config import load_config
    from seqlab.training.data import prepare_data

    config = load_config(QUICK, ["data.dev=null", "data.test=null"])
    prep = prepare_data(config, say=lambda *a: None)
    first = prep.dataset(16, seed=1)
    tensors = prep.tensors[1]
    second = prep.dataset(16, seed=2)
    assert prep.tensors[1] is tensors and tensors["words"] is prep.tensors[1]["words"]
    batches = [b for b in first.take(2)], [b for b in second.take(2)]
    assert all(len(epoch) == 2 for epoch in batches)
