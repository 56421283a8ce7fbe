from pathlib import Path

import pytest

from seqlab.config import apply_override, load_config
from seqlab.errors import SeqlabError

MINIMAL = "data:\n  train: train.txt\n"


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "train.txt").write_text("EU B-ORG\n\n", encoding="utf-8")
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    return path


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
