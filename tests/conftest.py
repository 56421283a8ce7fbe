import contextlib
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from rich.console import Console

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

TESTS = Path(__file__).resolve().parent      # the test files and the scripts they run
ROOT = TESTS.parent
DATA = ROOT / "data"
QUICK = ROOT / "configs" / "quickstart.yaml"
SEQLAB = Path(sys.executable).parent / "seqlab"


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def sets(overrides) -> list[str]:
    """Config overrides as command-line flags: ``["a=1", "b=2"]`` -> ``--set a=1 --set b=2``."""
    return [arg for override in overrides for arg in ("--set", override)]


# The smallest network worth training, as config overrides; each test adds its epochs:
# ``load_config(QUICK, TINY + ["training.epochs=2"])``, ``invoke("train", ..., *sets(...))``.
TINY = ["training.patience=null", "model.lstm.units=8", "model.embedding.dim=8",
        "model.attention.units=4", "model.chars.filters=8", "model.chars.dim=8"]

# A console that prints nothing: ``train(config, out, console=QUIET)``.
QUIET = Console(stderr=True, quiet=True)

def interrupt_after(epoch: int, first=None):
    """An ``on_epoch`` hook for ``train``: Ctrl-C as soon as epoch ``epoch`` (from 1) has
    ended and its checkpoint is written (``first()``, if given, runs just before, while the run
    still holds its directory's lock). ``train`` then raises Interrupted, as after a real
    Ctrl-C at that moment."""

    def on_epoch(finished):
        if finished.row["epoch"] == epoch:
            if first is not None:
                first()
            raise KeyboardInterrupt

    return on_epoch


# One tiny trained model for the whole test session (shared by test_cli, test_predict,
# test_evaluate, test_attention_view and others): a few seconds of training on data/, a
# little more than TINY so that it tags something.
TRAINED = sets(["training.epochs=5", "model.lstm.units=16", "model.embedding.dim=16",
                "model.attention.units=8"])


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    from typer.testing import CliRunner

    from seqlab.cli import app

    out = tmp_path_factory.mktemp("run") / "quick"
    result = CliRunner().invoke(app, ["train", str(ROOT / "configs/quickstart.yaml"),
                                      "--output", str(out), *TRAINED])
    assert result.exit_code == 0, result.output + str(result.exception)
    return out


def invoke(*args, input=None):
    """The command line, in process: ``invoke("predict", model, path)``."""
    from typer.testing import CliRunner

    from seqlab.cli import app

    return CliRunner().invoke(app, [str(a) for a in args], input=input)


def ok(result) -> str:
    """The stdout of a command that must have exited 0 (its output and exception if not)."""
    assert result.exit_code == 0, (result.exit_code, result.output, result.exception)
    return result.stdout


def one_line_error(result, *expected):
    """Exit 2, no traceback, one line holding each of ``expected``."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


# The smallest valid config: a training file of one sentence beside it.
MINIMAL = "data:\n  train: train.txt\n"


def write_config(tmp_path: Path, text: str) -> Path:
    """``text`` as ``tmp_path/c.yaml``, with the one-sentence ``train.txt`` it names."""
    (tmp_path / "train.txt").write_text("EU B-ORG\n\n", encoding="utf-8")
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def op_types(function, *args) -> set[str]:
    """The types of the ops a ``tf.function`` traces (for ``args``, or its input signature),
    its inner functions' (loops, conditionals, gradients) included: which computation ran."""
    graph = function.get_concrete_function(*args).graph.as_graph_def()
    return {node.op for node in graph.node} | {
        node.op for inner in graph.library.function for node in inner.node_def}


@contextlib.contextmanager
def live_process(*args, seconds: float = 240):
    """A fresh ``seqlab ARGS`` process with text pipes, line-buffered, for tests that talk to
    it as a person at a terminal would; killed after ``seconds`` if still running, its pipes
    closed at the end."""
    proc = subprocess.Popen([sys.executable, str(SEQLAB), *map(str, args)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, bufsize=1)
    timer = threading.Timer(seconds, proc.kill)
    timer.start()
    try:
        yield proc
    finally:
        timer.cancel()
        proc.kill()
        proc.wait()
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            pipe.close()

