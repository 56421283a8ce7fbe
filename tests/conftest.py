import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
SEQLAB = Path(sys.executable).parent / "seqlab"


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


# One tiny trained model for the whole test session (shared by test_cli, test_predict,
# test_evaluate and test_attention_view): a few seconds of training on data/.
TINY = ["--set", "training.epochs=5", "--set", "model.lstm.units=16",
        "--set", "model.embedding.dim=16", "--set", "model.attention.units=8"]


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    from typer.testing import CliRunner

    from seqlab.cli import app

    out = tmp_path_factory.mktemp("run") / "quick"
    result = CliRunner().invoke(app, ["train", str(ROOT / "configs/quickstart.yaml"),
                                      "--output", str(out), *TINY])
    assert result.exit_code == 0, result.output + str(result.exception)
    return out


def invoke(*args, input=None):
    """The command line, in process: ``invoke("predict", model, path)``."""
    from typer.testing import CliRunner

    from seqlab.cli import app

    return CliRunner().invoke(app, [str(a) for a in args], input=input)


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
