"""Configs as the most hostile user writes them (issue 37): non-finite and absurd numbers,
YAML bombs, unbounded values in messages, sizes without limits, errors of `--set` blamed on
the file, duplicate keys. Each answers with one line naming the key (or line), quickly."""

import time

import pytest
from typer.testing import CliRunner

from seqlab.cli import app
from seqlab.config import load_config
from seqlab.errors import SeqlabError

from conftest import MINIMAL
from conftest import write_config as write


def refused(path, overrides=None) -> str:
    with pytest.raises(SeqlabError) as err:
        load_config(path, overrides)
    message = str(err.value)
    assert "\n" not in message and len(message) < 400, message
    return message


# -- item 3: non-finite and absurd numbers ------------------------------------------------

@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", ".NaN", "+.Inf", "1e400",
                                   "-1e400", "1.0e+400"])
def test_non_finite_numbers_are_refused_naming_the_key(tmp_path, value):
    path = write(tmp_path, MINIMAL + f"training:\n  learning_rate: {value}\n")
    assert refused(path).startswith(
        f"{path}: key 'training.learning_rate': expected a finite number, got ")


@pytest.mark.parametrize("key", ["training.learning_rate", "training.clipnorm",
                                 "training.lr_decay", "model.dropout",
                                 "model.attention.regularizer_weight", "training.ema"])
@pytest.mark.parametrize("value", ["inf", ".inf", "nan", "-Infinity", "1e400"])
def test_non_finite_numbers_from_set_are_refused(tmp_path, key, value):
    message = refused(write(tmp_path, MINIMAL), [f"{key}={value}"])
    assert message.startswith(f"--set {key}={value}: key '{key}': expected a finite number")


def test_learning_rate_has_a_sane_upper_bound(tmp_path):
    path = write(tmp_path, MINIMAL + "training:\n  learning_rate: 1e30\n")
    assert refused(path) == f"{path}: key 'training.learning_rate': expected at most 10, " \
                            "got '1e30'"
    assert refused(path, ["training.learning_rate=1.0e+30"]).startswith(
        "--set training.learning_rate=1.0e+30: key 'training.learning_rate': expected at most 10")
    assert load_config(path, ["training.learning_rate=10"]).training.learning_rate == 10


# -- item 5: YAML bombs and unbounded values in messages ------------------------------------

LAUGHS = """\
data: {train: train.txt}
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


@pytest.mark.parametrize("where", ["top", "known key", "set"])
def test_billion_laughs_is_refused_quickly_in_one_line(tmp_path, where):
    text = LAUGHS if where == "top" else LAUGHS + "training: {epochs: *i}\n"
    path = write(tmp_path, text if where != "set" else MINIMAL)
    overrides = None
    if where == "set":
        flow = "{" + ", ".join(line.split(": ", 1)[0] + ": " + line.split(": ", 1)[1]
                               for line in LAUGHS.splitlines()[1:]) + "}"
        overrides = [f"model.lstm={flow}"]
    start = time.perf_counter()
    message = refused(path, overrides)
    assert time.perf_counter() - start < 2
    assert "more than 10000 values once its aliases are expanded" in message, message
    if where != "set":
        assert message.startswith(f"{path}:6: ")  # the first value past the limit
    else:
        assert message.startswith("--set model.lstm={a: &a [")


def test_an_alias_inside_itself_is_refused(tmp_path):
    path = write(tmp_path, MINIMAL + "training: &t {epochs: 2, x: *t}\n")
    assert refused(path) == f"{path}:3: an alias refers to the value that holds it"


def test_deep_nesting_is_refused_in_one_line(tmp_path):
    path = write(tmp_path, MINIMAL + "model: " + "[" * 5000 + "]" * 5000 + "\n")
    assert refused(path) == f"{path}: nested too deeply; a config is a few sections deep"


def test_aliases_within_reason_still_work(tmp_path):
    path = write(tmp_path, MINIMAL + "model:\n  embedding: {dim: &d 64}\n  chars: {dim: *d}\n"
                                     "training: &t {epochs: 3}\n")
    config = load_config(path)
    assert config.model.embedding.dim == config.model.chars.dim == 64


@pytest.mark.parametrize("text", [
    MINIMAL + "  format: " + "x" * 100_000 + "\n",
    MINIMAL + "training:\n  epochs: [" + ", ".join(["12345"] * 5000) + "]\n",
    "data:\n  train: train.txt\n  encoding: " + "u" * 100_000 + "\n",
    MINIMAL + "seed: " + "9" * 4000 + "\n",
    MINIMAL + "seed: " + "9" * 5000 + "\n",     # past Python's int conversion limit
])
def test_messages_bound_the_value_they_show(tmp_path, text):
    message = refused(write(tmp_path, text))
    assert len(message) < 300 and ("…" in message or "..." in message), message


def test_a_value_yaml_cannot_build_is_one_line(tmp_path):
    path = write(tmp_path, MINIMAL + "seed: 2001-13-01\n")
    assert refused(path).startswith(f"{path}:3: cannot read '2001-13-01': month must be")


def test_a_long_path_or_set_argument_is_bounded_too(tmp_path):
    path = write(tmp_path, MINIMAL)
    assert "…" in refused(path, ["data.dev=" + "x" * 10_000])
    assert "…" in refused(path, ["model.lstm.units=" + "9" * 10_000])
    assert "…" in refused(path, ["model." + "x" * 10_000])
    assert refused(path, ["training." + "k" * 10_000 + "=1"]).startswith(
        "--set training.kkk")
    assert "unknown key 'training.kkkk" in refused(path, ["training." + "k" * 10_000 + "=1"])


# -- item 7: sizes with upper bounds ---------------------------------------------------------

@pytest.mark.parametrize("key, limit", [
    ("model.embedding.dim", 4096), ("model.chars.dim", 1024), ("model.chars.filters", 4096),
    ("model.chars.kernel_size", 64), ("model.chars.units", 4096),
    ("model.chars.max_length", 1024), ("model.lstm.units", 8192),
    ("model.attention.heads", 64), ("model.attention.units", 8192),
    ("model.attention.width", 100_000), ("training.epochs", 10_000),
    ("training.batch_size", 65_536), ("training.batch_tokens", 1_000_000),
    ("training.steps_per_execution", 10_000), ("data.shuffle_buffer", 10_000_000),
])
def test_sizes_have_upper_bounds_that_name_the_key(tmp_path, key, limit):
    section, *middle, name = key.split(".")
    text = f"{section}:\n" + "".join(f"{'  ' * (i + 1)}{part}:\n" for i, part in
                                     enumerate(middle)) + f"{'  ' * (len(middle) + 1)}{name}: "
    if section == "data":
        path = write(tmp_path, MINIMAL + f"  {name}: 1000000000\n")
    else:
        path = write(tmp_path, MINIMAL + text + "1000000000\n")
    assert refused(path) == (f"{path}: key '{key}': expected at most {limit}, "
                             "got 1000000000")
    assert refused(path, [f"{key}={limit + 1}"]) == (
        f"--set {key}={limit + 1}: key '{key}': expected at most {limit}, got {limit + 1}")
    assert load_config(path, [f"{key}={limit}"]) is not None


def test_lower_bounds_speak_plainly(tmp_path):
    path = write(tmp_path, MINIMAL)
    assert refused(path, ["model.lstm.units=0"]) == \
        "--set model.lstm.units=0: key 'model.lstm.units': expected at least 1, got 0"
    assert refused(path, ["model.dropout=1"]) == \
        "--set model.dropout=1: key 'model.dropout': expected less than 1, got 1"


# -- item 17: errors of --set name the --set argument --------------------------------------

def test_errors_of_set_name_the_set_argument(tmp_path):
    path = write(tmp_path, MINIMAL)
    assert refused(path, ["a.b.c="]) == "--set a.b.c=: unknown key 'a'"
    assert refused(path, ["model.lstm.unitz=3"]) == \
        "--set model.lstm.unitz=3: unknown key 'model.lstm.unitz'"
    assert refused(path, ["model.lstm=5"]) == \
        "--set model.lstm=5: key 'model.lstm': expected a section (a mapping of keys), got 5"
    assert refused(path, ["model.lstm={units: x}"]) == \
        "--set model.lstm={units: x}: key 'model.lstm.units': expected an integer, got 'x'"
    assert refused(path, ["model.lstm.units"]).startswith(
        "--set model.lstm.units: expected KEY=VALUE")
    assert refused(path, ["model.lstm.units=[1,"]).startswith(
        "--set model.lstm.units=[1,: not valid YAML")
    assert refused(path, ["data.test=nowhere.txt"]).startswith(
        "--set data.test=nowhere.txt: key 'data.test': file not found: ")
    # the later of two --set of one key is the one that counts, and is named
    assert refused(path, ["model.lstm.units=0", "model.lstm.units=-1"]).startswith(
        "--set model.lstm.units=-1: ")
    # an error in the file is still the file's, whatever else is set
    bad = write(tmp_path, MINIMAL + "model:\n  lstm: {unitz: 3}\n")
    assert refused(bad, ["training.epochs=2"]) == f"{bad}: unknown key 'model.lstm.unitz'"


def test_set_errors_through_the_cli(tmp_path):
    path = write(tmp_path, MINIMAL)
    for args, expected in (
        (["--set", "a.b.c="], "error: --set a.b.c=: unknown key 'a'"),
        (["--set", "nothing"], "error: --set nothing: expected KEY=VALUE"),
        (["--set", "training.learning_rate=inf"],
         "error: --set training.learning_rate=inf: key 'training.learning_rate': expected a "
         "finite number"),
    ):
        result = CliRunner().invoke(app, ["train", str(path), "-o", str(tmp_path / "run"),
                                          *args])
        assert result.exit_code == 2, result.output
        assert result.output.startswith(expected), result.output
        assert len(result.output.strip().splitlines()) == 1
        assert not (tmp_path / "run").exists()


# -- item 20: duplicate keys ---------------------------------------------------------------

@pytest.mark.parametrize("text, line, key, first", [
    ("seed: 3\n" + MINIMAL + "seed: 4\n", 4, "seed", 1),
    (MINIMAL + "training:\n  epochs: 3\n  batch_size: 8\n  epochs: 4\n", 6, "training.epochs",
     4),
    (MINIMAL + "  train: other.txt\n", 3, "data.train", 2),
    (MINIMAL + "model:\n  lstm: {units: 3, units: 4}\n", 4, "model.lstm.units", 4),
    (MINIMAL + "training: {}\ntraining: {epochs: 2}\n", 4, "training", 3),
])
def test_a_duplicate_key_is_refused_naming_both_lines(tmp_path, text, line, key, first):
    path = write(tmp_path, text)
    assert refused(path) == f"{path}:{line}: key '{key}' repeats the key of line {first}"


def test_a_duplicate_key_in_a_set_value_is_refused(tmp_path):
    path = write(tmp_path, MINIMAL)
    assert refused(path, ["model.lstm={units: 3, units: 4}"]) == \
        "--set model.lstm={units: 3, units: 4}: key 'model.lstm.units' repeats the key of line 1"


def test_merge_keys_override_without_being_duplicates(tmp_path):
    path = write(tmp_path, MINIMAL + "model:\n  lstm: &l {units: 8, layers: 2}\n"
                                     "  chars: {encoder: cnn}\n"
                                     "x: {<<: *l, units: 4}\n")
    assert "unknown key 'x'" in refused(path)   # merged and read, not a duplicate
