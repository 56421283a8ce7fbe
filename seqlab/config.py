"""The training config: YAML in, a validated `Config` out.

Validation is pydantic's (unknown keys and wrong types are errors that name the dotted key);
paths are resolved against the folder of the config file, and `--set a.b.c=VALUE` overrides are
applied to the raw mapping before validation so they are checked like the file itself.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from seqlab.errors import SeqlabError


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(_Section):
    train: str
    dev: str | None = None
    test: str | None = None
    format: Literal["conll", "conllu"] | None = None
    token_column: int = 0
    label_column: int = -1
    label_field: str = "upos"
    scheme: Literal["auto", "iob1", "iob2", "iobes", "bilou", "plain"] = "auto"
    # The scheme the model trains in (null: the files' scheme); predictions are written
    # back in the files' scheme.
    train_scheme: Literal["iob1", "iob2", "iobes", "bilou"] | None = None
    # Read the training file from disk every epoch instead of holding it in memory (for
    # corpora larger than memory): vocabularies in one pass, batches encoded on the fly.
    stream: bool = False
    shuffle_buffer: int = Field(8192, ge=1)   # sentences, when streaming


class VocabConfig(_Section):
    min_count: int = Field(1, ge=1)
    max_size: int | None = Field(None, ge=1)
    lowercase: bool = False
    normalize_digits: bool = False
    vectors: str | None = None           # GloVe / word2vec / fastText text file (.gz too)
    vectors_add_words: bool = False      # also add vector-file words never seen in train


class EmbeddingConfig(_Section):
    dim: int = Field(100, ge=1)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    # Drop whole word vectors (not single units) in training, so the tagger also learns to
    # read a word from its characters and context: what it must do for unseen names.
    word_dropout: float = Field(0.0, ge=0.0, lt=1.0)
    trainable: bool = True


class CharsConfig(_Section):
    encoder: Literal["none", "cnn", "bilstm"] = "none"
    dim: int = Field(30, ge=1)
    filters: int = Field(50, ge=1)       # cnn
    kernel_size: int = Field(3, ge=1)    # cnn
    units: int = Field(25, ge=1)         # bilstm, per direction
    max_length: int = Field(20, ge=2)
    min_count: int = Field(1, ge=1)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)


class LstmConfig(_Section):
    units: int = Field(100, ge=1)
    layers: int = Field(1, ge=1, le=3)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    recurrent_dropout: float = Field(0.0, ge=0.0, lt=1.0)


class AttentionConfig(_Section):
    enabled: bool = True
    units: int = Field(32, ge=1)
    type: Literal["additive", "multiplicative"] = "additive"
    width: int | None = Field(None, ge=1)
    history_only: bool = False
    activation: str | None = None
    regularizer_weight: float = Field(0.0, ge=0.0)
    use_additive_bias: bool = True
    use_attention_bias: bool = True
    residual: Literal["concat", "add", "none"] = "concat"


class ModelConfig(_Section):
    embedding: EmbeddingConfig = EmbeddingConfig()
    chars: CharsConfig = CharsConfig()
    lstm: LstmConfig = LstmConfig()
    attention: AttentionConfig = AttentionConfig()
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    output: Literal["softmax", "crf"] = "softmax"


class TrainingConfig(_Section):
    epochs: int = Field(10, ge=1)
    batch_size: int = Field(32, ge=1)
    optimizer: Literal["adam", "nadam", "sgd"] = "adam"
    learning_rate: float = Field(0.001, gt=0.0)
    momentum: float = Field(0.9, ge=0.0, lt=1.0)
    clipnorm: float | None = Field(None, gt=0.0)
    patience: int | None = Field(None, ge=1)
    metric: Literal["auto", "f1", "accuracy"] = "auto"
    lr_decay: float = Field(0.0, ge=0.0)  # learning_rate / (1 + lr_decay * epoch)
    precision: Literal["float32", "mixed_float16", "mixed_bfloat16"] = "float32"


class LoggingConfig(_Section):
    tensorboard: bool = False            # DIR/logs for TensorBoard
    plot: bool = True                    # DIR/training.png


class DistributionConfig(_Section):
    # none: one device; mirrored: every local GPU (or SEQLAB_CPU_DEVICES logical CPUs);
    # multi_worker: several machines, the cluster read from the TF_CONFIG variable.
    strategy: Literal["none", "mirrored", "multi_worker"] = "none"


class Config(_Section):
    seed: int = 13
    data: DataConfig
    vocab: VocabConfig = VocabConfig()
    model: ModelConfig = ModelConfig()
    training: TrainingConfig = TrainingConfig()
    logging: LoggingConfig = LoggingConfig()
    distribution: DistributionConfig = DistributionConfig()

    @field_validator("seed")
    @classmethod
    def _seed_range(cls, value: int) -> int:
        if not 0 <= value < 2**31:
            raise ValueError("expected an integer between 0 and 2**31 - 1")
        return value

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def sha256(self) -> str:
        """Fingerprint of what is trained. How the work is spread (`distribution`) is left
        out: the batch size is global, so a run may resume under another strategy, and runs
        made before the section existed keep their fingerprint."""
        raw = self.to_dict()
        raw.pop("distribution", None)
        return hashlib.sha256(yaml.safe_dump(raw, sort_keys=False).encode()).hexdigest()


def _describe(error: dict) -> str:
    key = ".".join(str(part) for part in error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"unknown key '{key}'"
    if kind == "missing":
        return f"missing key '{key}'"
    message = error["msg"].removeprefix("Value error, ")
    return f"key '{key}': {message[0].lower()}{message[1:]}, got {error.get('input')!r}"


def validate(raw: Any, source: str = "config") -> Config:
    """Validate a mapping (parsed YAML) into a Config, or raise SeqlabError naming the key."""
    if not isinstance(raw, dict):
        raise SeqlabError(f"{source}: expected a mapping of sections (data, model, ...), "
                          f"found {type(raw).__name__}")
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise SeqlabError(f"{source}: {_describe(exc.errors()[0])}") from None


def apply_override(raw: dict, assignment: str) -> None:
    """Apply one `dotted.key=value` override to a raw config mapping (the value is YAML)."""
    key, sep, text = assignment.partition("=")
    if not sep or not key.strip():
        raise SeqlabError(f"--set {assignment!r}: expected KEY=VALUE, e.g. model.lstm.units=64")
    parts = key.strip().split(".")
    node = raw
    for depth, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            prefix = ".".join(parts[: depth + 1])
            raise SeqlabError(f"--set {assignment!r}: '{prefix}' is a value, not a section")
        node = child
    try:
        node[parts[-1]] = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError:
        raise SeqlabError(f"--set {assignment!r}: the value is not valid YAML") from None


_PATH_KEYS = (("data", "train"), ("data", "dev"), ("data", "test"), ("vocab", "vectors"))


def _resolve_paths(raw: dict, base: Path) -> None:
    for section, key in _PATH_KEYS:
        node = raw.get(section)
        value = node.get(key) if isinstance(node, dict) else None
        if isinstance(value, str) and value and not Path(value).is_absolute():
            node[key] = str((base / value).resolve())


def load_config(path: str | Path, overrides: list[str] | None = None,
                check_files: bool = True) -> Config:
    """Read, override, resolve and validate a YAML config file."""
    path = Path(path)
    if not path.is_file():
        raise SeqlabError(f"{path}: config file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise SeqlabError(f"{where}: {problem}") from None
    except UnicodeDecodeError as exc:
        raise SeqlabError(f"{path}: not UTF-8 (byte {exc.start})") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise SeqlabError(f"{path}: expected a mapping of sections (data, model, ...), "
                          f"found {type(raw).__name__}")
    for assignment in overrides or []:
        apply_override(raw, assignment)
    _resolve_paths(raw, path.resolve().parent)
    config = validate(raw, str(path))
    if check_files:
        for section, key in _PATH_KEYS:
            value = getattr(getattr(config, section), key)
            if value is not None and not Path(value).is_file():
                raise SeqlabError(f"{path}: key '{section}.{key}': file not found: {value}")
    return config
