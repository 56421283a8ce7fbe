import re

import pytest

from seqlab.config import apply_override, load_config
from seqlab.errors import SeqlabError

from conftest import DATA, MINIMAL, ROOT
from conftest import write_config as write


def test_defaults_filled_and_paths_resolved(tmp_path):
    config = load_config(write(tmp_path, MINIMAL))
    assert config.data.train == str((tmp_path / "train.txt").resolve())
    assert config.model.lstm.units == 100
    assert config.model.attention.residual == "concat"
    assert config.seed == 13


def test_unknown_key_is_named(tmp_path):
    with pytest.raises(SeqlabError, match=r"c.yaml: unknown key 'model.lstm.unitz'"):
        load_config(write(tmp_path, MINIMAL + "model:\n  lstm:\n    unitz: 3\n"))


def test_wrong_type_is_named(tmp_path):
    with pytest.raises(SeqlabError, match=r"key 'training.epochs'.*integer.*'many'"):
        load_config(write(tmp_path, MINIMAL + "training:\n  epochs: many\n"))


def test_missing_data_file_is_named(tmp_path):
    path = write(tmp_path, MINIMAL + "  dev: nowhere.txt\n")
    with pytest.raises(SeqlabError, match=r"key 'data.dev': file not found"):
        load_config(path)


def test_overrides_are_validated_like_the_file(tmp_path):
    path = write(tmp_path, MINIMAL)
    config = load_config(path, ["model.lstm.units=64", "model.attention.width=15"])
    assert config.model.lstm.units == 64
    assert config.model.attention.width == 15
    with pytest.raises(SeqlabError, match="unknown key 'model.lsmt'"):
        load_config(path, ["model.lsmt.units=64"])
    with pytest.raises(SeqlabError, match="expected KEY=VALUE"):
        load_config(path, ["model.lstm.units"])


def test_override_into_a_value_is_refused():
    raw = {"seed": 3}
    with pytest.raises(SeqlabError, match="'seed' is a value, not a section"):
        apply_override(raw, "seed.x=1")


def test_yaml_syntax_error_names_line(tmp_path):
    with pytest.raises(SeqlabError, match=r"c.yaml:4: found character"):
        load_config(write(tmp_path, MINIMAL + "model:\n\tlstm: 1\n"))


def test_round_trip_through_yaml(tmp_path):
    config = load_config(write(tmp_path, MINIMAL))
    again = tmp_path / "again.yaml"
    again.write_text(config.to_yaml(), encoding="utf-8")
    assert load_config(again).to_dict() == config.to_dict()


@pytest.mark.parametrize("value, expected", [
    ("true", "key 'training.epochs': expected an integer, got True"),
    ("yes", "key 'training.epochs': expected an integer, got True"),
    ("16.0", "key 'training.epochs': expected an integer, got 16.0"),
    ("'16'", "key 'training.epochs': expected an integer, got '16'"),
])
def test_booleans_and_floats_are_not_integers(tmp_path, value, expected):
    path = write(tmp_path, MINIMAL + f"training:\n  epochs: {value}\n")
    with pytest.raises(SeqlabError) as err:
        load_config(path)
    assert str(err.value) == f"{path}: {expected}"
    with pytest.raises(SeqlabError, match="expected an integer"):
        load_config(write(tmp_path, MINIMAL), [f"training.epochs={value}"])
    with pytest.raises(SeqlabError, match="key 'training.learning_rate': expected a number"):
        load_config(write(tmp_path, MINIMAL), ["training.learning_rate=true"])
    with pytest.raises(SeqlabError, match="key 'vocab.lowercase': expected true or false, got 1"):
        load_config(write(tmp_path, MINIMAL), ["vocab.lowercase=1"])
    # floats still take integers, and YAML's 1e-3 (a string to YAML 1.1)
    config = load_config(write(tmp_path, MINIMAL), ["training.learning_rate=1",
                                                    "model.dropout=0", "training.lr_decay=1e-3"])
    assert config.training.learning_rate == 1.0 and config.training.lr_decay == 0.001


def test_errors_speak_of_keys_not_classes(tmp_path):
    for text, expected in (
        ("model:\n  lstm: 5\n", "key 'model.lstm': expected a section (a mapping of keys), got 5"),
        ("training:\n  optimizer: adamw\n", "key 'training.optimizer': input should be"),
        ("data:\n  train: train.txt\n  encoding: klingon\n",
         "key 'data.encoding': unknown encoding 'klingon'; expected a codec Python knows"),
    ):
        path = write(tmp_path, MINIMAL + text if not text.startswith("data") else text)
        with pytest.raises(SeqlabError) as err:
            load_config(path)
        message = str(err.value)
        assert expected in message, message
        assert "Config" not in message and "instance of" not in message
        assert message.count("got") <= 1, message


def test_paths_on_the_command_line_resolve_against_the_current_directory(tmp_path, monkeypatch):
    config_dir, work = tmp_path / "configs", tmp_path / "work"
    config_dir.mkdir()
    work.mkdir()
    (config_dir / "train.txt").write_text("EU B-ORG\n\n", encoding="utf-8")
    (work / "other.txt").write_text("EU B-ORG\n\n", encoding="utf-8")
    path = config_dir / "c.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    monkeypatch.chdir(work)
    # in the file: against the file's folder
    assert load_config(path).data.train == str(config_dir / "train.txt")
    # typed as an override: against where it was typed
    config = load_config(path, ["data.train=other.txt", "data.dev=../configs/train.txt"])
    assert config.data.train == str(work / "other.txt")
    assert config.data.dev == str(config_dir / "train.txt")
    with pytest.raises(SeqlabError, match="key 'data.test': file not found: .*work/train.txt"):
        load_config(path, ["data.test=train.txt"])


def test_encoding_is_a_data_key(tmp_path):
    config = load_config(write(tmp_path, MINIMAL + "  encoding: latin-1\n"))
    assert config.data.encoding == "latin-1"
    assert load_config(write(tmp_path, MINIMAL)).data.encoding == "utf-8"


def test_token_budget_batches_need_the_corpus_in_memory(tmp_path):
    path = write(tmp_path, MINIMAL + "  stream: true\ntraining:\n  batch_tokens: 1000\n")
    with pytest.raises(SeqlabError) as error:
        load_config(path)
    # The check spans two sections: the message names both keys, without an empty "key ''".
    assert str(error.value) == (f"{path}: training.batch_tokens plans each epoch's batches in "
                                "memory; it does not work with data.stream: true (set "
                                "training.batch_tokens: null to stream)")
    assert load_config(write(tmp_path, MINIMAL), ["training.batch_tokens=1000"]) \
        .training.batch_tokens == 1000


SAMPLE = [f"data.train={DATA / 'train.txt'}", "data.dev=null", "data.test=null"]
SHIPPED = [*ROOT.glob("configs/*.yaml"), *ROOT.glob("bench/*.yaml")]


@pytest.mark.parametrize("name", sorted(str(p.relative_to(ROOT)) for p in SHIPPED))
def test_every_shipped_config_is_valid(name, tmp_path):
    """Each example config, and the benchmarks' own, parses and validates (its data pointed at
    the sample here, and its vectors file at a stand-in, so the test needs no corpus and no
    vectors beside the repository)."""
    sets = list(SAMPLE)
    if re.search(r"^\s*vectors:\s*\S", (ROOT / name).read_text(encoding="utf-8"), re.M):
        stand_in = tmp_path / "vectors.txt"
        stand_in.write_text("the 0.1 0.2\n", encoding="utf-8")
        sets.append(f"vocab.vectors={stand_in}")
    config = load_config(ROOT / name, sets)
    assert config.data.train == str(DATA / "train.txt")


def test_the_fast_ner_config_differs_from_the_ner_config_only_in_the_network():
    """Its comment says only the network differs: data, vocabulary and training stay the same."""
    fast = load_config(ROOT / "configs/conll2003_ner_fast.yaml", SAMPLE).model_dump()
    ner = load_config(ROOT / "configs/conll2003_ner.yaml", SAMPLE).model_dump()
    assert (fast["model"]["lstm"]["units"], fast["model"]["chars"]["filters"]) == (64, 50)
    assert not fast["model"]["attention"]["enabled"] and ner["model"]["attention"]["enabled"]
    for section in (fast, ner):
        section["model"]["lstm"]["units"] = section["model"]["chars"]["filters"] = None
        section["model"]["attention"] = None
    assert fast == ner
