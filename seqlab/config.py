"""The training config: YAML in, a validated `Config` out.

Validation is pydantic's, with strict types (unknown keys and wrong types are errors that name
the dotted key; ``true`` or ``16.0`` are not integers), finite numbers only, and a generous
upper bound on every size. Paths written in the file resolve against the file's folder;
overrides (``dotted.key=VALUE``, the CLI's ``--set``) are applied to the raw mapping before
validation, so they are checked like the file itself, the paths they give resolve against the
current directory, as paths typed on a command line do, and an error they cause names them.

The YAML is read by a SafeLoader that refuses a key given twice in one mapping (naming both
lines) and a document whose aliases expand past `MAX_VALUES` values ("billion laughs"), before
anything is built from it. Aliases themselves stay allowed (``dim: &d 64`` ... ``dim: *d``
ties two sizes together): what hurts is their expansion, and that is what is bounded. Every
value a message shows goes through `shown`, which cuts it at `SHOWN_CHARS` characters.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from seqlab.errors import SHOWN_CHARS, SeqlabError, shown_path
from seqlab.errors import shown as _shown


def _no_bool(value):
    if isinstance(value, bool):
        raise ValueError("expected a number, not a boolean")
    return value


# Strict scalars: YAML's `yes`/`true` are not numbers and `16.0` is not an integer.
Int = StrictInt
Bool = StrictBool
Float = Annotated[float, BeforeValidator(_no_bool)]


class _Section(BaseModel):
    # allow_inf_nan=False: `.inf`, `.nan`, `1e400` (inf once read) are refused in every float.
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class DataConfig(_Section):
    train: str
    dev: str | None = None
    test: str | None = None
    format: Literal["conll", "conllu"] | None = None
    encoding: str = "utf-8"              # any codec Python knows (latin-1, cp1252, ...)
    token_column: Int = 0
    label_column: Int = -1
    label_field: str = "upos"
    scheme: Literal["auto", "iob1", "iob2", "iobes", "bilou", "plain"] = "auto"
    # The scheme the model trains in (null: the files' scheme); predictions are written
    # back in the files' scheme.
    train_scheme: Literal["iob1", "iob2", "iobes", "bilou"] | None = None
    # Read the training file from disk every epoch instead of holding it in memory (for
    # corpora larger than memory): vocabularies in one pass, batches encoded on the fly.
    stream: Bool = False
    shuffle_buffer: Int = Field(8192, ge=1, le=10_000_000)   # sentences, when streaming

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        from seqlab.formats.lines import check_encoding

        try:
            check_encoding(value)
        except SeqlabError as exc:
            raise ValueError(str(exc)) from None
        return value


class VocabConfig(_Section):
    min_count: Int = Field(1, ge=1)
    max_size: Int | None = Field(None, ge=1)
    lowercase: Bool = False
    normalize_digits: Bool = False
    vectors: str | None = None           # GloVe / word2vec / fastText text file (.gz too)
    vectors_add_words: Bool = False      # also add vector-file words never seen in train


class EmbeddingConfig(_Section):
    dim: Int = Field(100, ge=1, le=4096)
    dropout: Float = Field(0.0, ge=0.0, lt=1.0)
    # Drop whole word vectors (not single units) in training, so the tagger also learns to
    # read a word from its characters and context: what it must do for unseen names.
    word_dropout: Float = Field(0.0, ge=0.0, lt=1.0)
    trainable: Bool = True


class CharsConfig(_Section):
    encoder: Literal["none", "cnn", "bilstm"] = "none"
    dim: Int = Field(30, ge=1, le=1024)
    filters: Int = Field(50, ge=1, le=4096)      # cnn
    kernel_size: Int = Field(3, ge=1, le=64)     # cnn
    units: Int = Field(25, ge=1, le=4096)        # bilstm, per direction
    max_length: Int = Field(20, ge=2, le=1024)
    min_count: Int = Field(1, ge=1)
    dropout: Float = Field(0.0, ge=0.0, lt=1.0)


class LstmConfig(_Section):
    units: Int = Field(100, ge=1, le=8192)
    layers: Int = Field(1, ge=1, le=3)
    dropout: Float = Field(0.0, ge=0.0, lt=1.0)
    recurrent_dropout: Float = Field(0.0, ge=0.0, lt=1.0)


class AttentionConfig(_Section):
    enabled: Bool = True
    # additive | multiplicative: SeqSelfAttention, `heads` of them side by side (MultiHead);
    # scaled_dot: keras-multi-head's MultiHeadAttention with `heads` heads.
    type: Literal["additive", "multiplicative", "scaled_dot"] = "additive"
    heads: Int = Field(1, ge=1, le=64)
    units: Int = Field(32, ge=1, le=8192)
    width: Int | None = Field(None, ge=1, le=100_000)
    history_only: Bool = False
    activation: str | None = None
    regularizer_weight: Float = Field(0.0, ge=0.0)
    use_additive_bias: Bool = True
    use_attention_bias: Bool = True
    residual: Literal["concat", "add", "none"] = "concat"


def _transformer_layers(value):
    """``last``, ``all``, an index or a list of indices; the range is checked against the
    checkpoint when it is loaded (``seqlab.transformer.resolve_layers``)."""
    if value in ("last", "all"):
        return value
    items = value if isinstance(value, list) else [value]
    if not items or any(isinstance(i, bool) or not isinstance(i, int) for i in items):
        raise ValueError(f"expected last, all or a non-empty list of layer indices "
                         f"(0: embeddings, -1: the last block), got {_shown(value)}")
    if len(set(items)) != len(items):
        raise ValueError(f"a layer is named twice in {_shown(value)}")
    return items


class TransformerConfig(_Section):
    # A local keras-hub preset or Hugging Face (BERT, DistilBERT) directory; never a hub name.
    path: str
    layers: Annotated[Any, BeforeValidator(_transformer_layers)] = "last"
    pooling: Literal["first", "last", "mean"] = "first"
    trainable: Bool = False
    learning_rate: Float = Field(5e-5, gt=0.0, le=10.0)   # its own, when trainable
    # Subwords of the same document's neighbouring sentences read on each side of a sentence
    # (FLERT; seqlab.transformer.plan_contexts); 0: each sentence alone. Frozen only.
    context: Int = Field(0, ge=0, le=100_000)
    # How a word's vectors of the selected layers become one: a learned scalar mix (ELMo,
    # flair's layer_mean) or side by side (BERT's feature-based NER, flair's layer_mean=False).
    combine: Literal["mix", "concat"] = "mix"

    @model_validator(mode="after")
    def _context_frozen(self):
        if self.context and self.trainable:
            raise ValueError(f"context {self.context}: document context is read by the "
                             "frozen pass only; set context: 0 with trainable: true")
        return self


class ModelConfig(_Section):
    embedding: EmbeddingConfig = EmbeddingConfig()
    chars: CharsConfig = CharsConfig()
    lstm: LstmConfig = LstmConfig()
    attention: AttentionConfig = AttentionConfig()
    # Pretrained transformer word features, stacked with the word embedding (and chars).
    transformer: TransformerConfig | None = None
    dropout: Float = Field(0.0, ge=0.0, lt=1.0)
    output: Literal["softmax", "crf"] = "softmax"
    # Softmax output with chunk tags: constrained (the best tag sequence the scheme allows)
    # or argmax (each token's most probable tag, which can give I-PER after O).
    decoding: Literal["constrained", "argmax"] = "constrained"

    @model_validator(mode="after")
    def _heads_divide_the_features(self):
        att = self.attention
        features = 2 * self.lstm.units
        if att.enabled and att.type == "scaled_dot" and features % att.heads:
            raise ValueError(f"model.attention.heads is {att.heads}, but scaled_dot heads must "
                             f"divide the BiLSTM output: 2 x model.lstm.units = {features} "
                             "features")
        return self


class TrainingConfig(_Section):
    epochs: Int = Field(10, ge=1, le=10_000)
    batch_size: Int = Field(32, ge=1, le=65_536)
    # A token budget per batch (padded tokens): short sentences go in big batches, long ones in
    # small ones, batch_size sentences at most. null: batch_size sentences a batch.
    batch_tokens: Int | None = Field(None, ge=1, le=1_000_000)
    optimizer: Literal["adam", "nadam", "sgd"] = "adam"
    learning_rate: Float = Field(0.001, gt=0.0, le=10.0)  # past 10 it only gives nan losses
    momentum: Float = Field(0.9, ge=0.0, lt=1.0)
    clipnorm: Float | None = Field(None, gt=0.0)  # each weight's gradient norm at most this
    # All gradients rescaled together so that their joint norm is at most this (Reimers &
    # Gurevych 2017's gradient normalization). At most one of clipnorm and global_clipnorm.
    global_clipnorm: Float | None = Field(None, gt=0.0)
    patience: Int | None = Field(None, ge=1)
    metric: Literal["auto", "f1", "accuracy"] = "auto"
    lr_decay: Float = Field(0.0, ge=0.0)  # learning_rate / (1 + lr_decay * epoch)
    # An exponential moving average of the weights with this momentum (e.g. 0.999), warmed
    # up (min(ema, (1 + step) / (10 + step)), seqlab.training.optimizers): dev scoring and the
    # saved model use the averaged weights. null: none.
    ema: Float | None = Field(None, gt=0.0, lt=1.0)
    # auto: mixed_bfloat16 on a CPU whose bfloat16 units pay in training (AMX;
    # seqlab.hardware), float32 elsewhere. run.json records what it chose.
    precision: Literal["float32", "mixed_float16", "mixed_bfloat16", "auto"] = "float32"
    # Batches run by one call into TensorFlow: fewer host round-trips (8: 8% faster epochs of
    # the NER config on one core, the same numbers); progress updates every this many. One
    # under a distribution strategy (Keras 3.15 runs one step a call there).
    steps_per_execution: Int = Field(8, ge=1, le=10_000)

    @model_validator(mode="after")
    def _one_clipping(self):
        if self.clipnorm and self.global_clipnorm:
            raise ValueError("training.global_clipnorm and training.clipnorm are both set: "
                             "expected at most one (set the other to null)")
        return self


class LoggingConfig(_Section):
    tensorboard: Bool = False            # DIR/logs for TensorBoard
    plot: Bool = True                    # DIR/training.png


class DistributionConfig(_Section):
    # none: one device; mirrored: every local GPU (or SEQLAB_CPU_DEVICES logical CPUs);
    # multi_worker: several machines, the cluster read from the TF_CONFIG variable.
    strategy: Literal["none", "mirrored", "multi_worker"] = "none"


class Config(_Section):
    seed: Int = 13
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

    @model_validator(mode="after")
    def _token_batches_in_memory(self):
        if self.data.stream and self.training.batch_tokens:
            raise ValueError("training.batch_tokens plans each epoch's batches in memory; it "
                             "does not work with data.stream: true (set "
                             "training.batch_tokens: null to stream)")
        if self.data.stream and self.model.transformer is not None:
            raise ValueError("data.stream: true does not work with model.transformer: its "
                             "frozen features are computed once a run and held in memory "
                             "(set data.stream: false)")
        return self

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


_WORDS = {
    "int_type": "expected an integer",
    "bool_type": "expected true or false",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "finite_number": "expected a finite number",
    "string_type": "expected a string",
    "model_type": "expected a section (a mapping of keys)",
    "dict_type": "expected a section (a mapping of keys)",
}
# Bounds in the config's words: "expected at most 8192", not "Input should be less than...".
_BOUNDS = {"greater_than_equal": ("ge", "at least"), "less_than_equal": ("le", "at most"),
           "greater_than": ("gt", "more than"), "less_than": ("lt", "less than")}



class _Plain(str):
    """A string `shown` prints without quotes (a path, a --set argument)."""


def shown(value: Any, limit: int = SHOWN_CHARS) -> str:
    """`seqlab.errors.shown`, with a `_Plain` string shown as it is."""
    return _shown(value, limit, plain=isinstance(value, _Plain))


def _number(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _describe(error: dict) -> str:
    """One line for a pydantic error, in the config's words (no internal class names)."""
    dotted = ".".join(str(part) for part in error["loc"])
    key, kind, value = shown(dotted), error["type"], error.get("input")
    if kind == "extra_forbidden":
        return f"unknown key {key}"
    if kind == "missing":
        return f"missing key {key}"
    if kind in _BOUNDS:
        name, words = _BOUNDS[kind]
        bound = _number((error.get("ctx") or {}).get(name))
        return f"key {key}: expected {words} {bound}, got {shown(value)}"
    message = _WORDS.get(kind) or error["msg"].removeprefix("Value error, ")
    quoted = repr(value)[:20] in message  # the message quotes the value itself
    message = message.replace(repr(value), shown(value))  # ... bounded here
    if kind == "value_error" and (not dotted or message.split(" ", 1)[0].startswith(
            dotted + ".")):
        return message  # it names its keys itself (a check of the whole config has no key)
    message = message[0].lower() + message[1:]
    if "got" in message.split() or isinstance(value, dict) or quoted:
        return f"key {key}: {message}"
    return f"key {key}: {message}, got {shown(value)}"


# -- reading YAML -----------------------------------------------------------------------------

MAX_VALUES = 10_000  # values (scalars, lists, mappings) once aliases are expanded; a whole
                     # config holds a few hundred
_MERGE = "tag:yaml.org,2002:merge"


class _Refused(yaml.constructor.ConstructorError):
    """What `_ConfigLoader` refuses in a document that parses."""


class _ConfigLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader, checking the composed document before anything is built from it:
    no key twice in one mapping, no alias inside the value it names, at most `MAX_VALUES`
    values with aliases expanded (counted once per node, so the check is linear in the text).
    ``key_path`` is the dotted key the document sits at (a ``--set`` value's key)."""

    key_path: tuple = ()

    def get_single_node(self):
        node = super().get_single_node()
        if node is not None:
            self._check(node)
        return node

    def _check(self, root) -> None:
        sizes: dict[int, int] = {}
        open_: set[int] = set()
        aliased = False

        def size(node, path: tuple) -> int:
            nonlocal aliased
            if id(node) in sizes:
                aliased = True
                return sizes[id(node)]
            if id(node) in open_:
                raise _Refused(
                    None, None, "an alias refers to the value that holds it", node.start_mark)
            open_.add(id(node))
            total = 1
            if isinstance(node, yaml.MappingNode):
                first: dict[tuple, int] = {}
                for key, value in node.value:
                    name = key.value if isinstance(key, yaml.ScalarNode) else "?"
                    if isinstance(key, yaml.ScalarNode) and key.tag != _MERGE:
                        if (key.tag, key.value) in first:
                            dotted = shown(".".join(map(str, path + (name,))))
                            line = first[key.tag, key.value]
                            raise _Refused(
                                None, None, f"key {dotted} repeats the key of line {line}",
                                key.start_mark)
                        first[key.tag, key.value] = key.start_mark.line + 1
                    total += size(key, path) + size(value, path + (name,))
            elif isinstance(node, yaml.SequenceNode):
                total += sum(size(item, path) for item in node.value)
            if total > MAX_VALUES:
                expanded = " once its aliases are expanded" if aliased else ""
                raise _Refused(
                    None, None, f"more than {MAX_VALUES} values{expanded}; a config holds a "
                    "few hundred", node.start_mark)
            open_.discard(id(node))
            sizes[id(node)] = total
            return total

        size(root, self.key_path)

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep)
        except ValueError as exc:  # a date with month 13, an int past Python's digit limit
            raise _Refused(
                None, None, f"cannot read {shown(node.value)}: {shown(_Plain(exc))}",
                node.start_mark) from None


def _read_yaml(text: str, source: str, lines: bool = True, key_path: tuple = ()) -> Any:
    """Parse config YAML with `_ConfigLoader`, or raise SeqlabError: ``source:LINE: problem``
    (``source: problem`` where ``lines`` is false: a one-line ``--set`` value)."""
    loader = _ConfigLoader(text)
    loader.key_path = key_path
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark and lines else source
        problem = getattr(exc, "problem", None) or "invalid YAML"
        if not lines and not isinstance(exc, _Refused):
            problem = f"not valid YAML: {problem}"
        raise SeqlabError(f"{where}: {problem}") from None
    except RecursionError:
        raise SeqlabError(f"{source}: nested too deeply; a config is a few sections "
                          "deep") from None
    finally:
        loader.dispose()


# -- validating ----------------------------------------------------------------------------

def _set_flag(assignment: str) -> str:
    """How a message names an override: as the user typed it, ``--set KEY=VALUE``."""
    plain = assignment.strip() == assignment and assignment.isprintable() and assignment
    return f"--set {shown(_Plain(assignment) if plain else assignment)}"


def _source(loc: tuple, kind: str, source: str, set_by: list[tuple[tuple, str]]) -> str:
    """Who a validation error at ``loc`` is to be blamed on: the last ``--set`` that wrote that
    key, a section holding it, or (for an unknown key) a key below it; else the file."""
    loc = tuple(str(part) for part in loc)
    for parts, assignment in reversed(set_by):
        if loc and (parts == loc[:len(parts)] or
                    (kind == "extra_forbidden" and loc == parts[:len(loc)])):
            return _set_flag(assignment)
    return source


def validate(raw: Any, source: str = "config",
             set_by: list[tuple[tuple, str]] | None = None) -> Config:
    """Validate a mapping (parsed YAML) into a Config, or raise SeqlabError naming the key
    (and the ``--set`` that gave it, for keys in ``set_by``: (dotted key parts, assignment))."""
    if not isinstance(raw, dict):
        raise SeqlabError(f"{source}: expected a mapping of sections (data, model, ...), "
                          f"found {type(raw).__name__}")
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = _source(error["loc"], error["type"], source, set_by or [])
        raise SeqlabError(f"{where}: {_describe(error)}") from None


def apply_override(raw: dict, assignment: str, base: Path | None = None) -> tuple[str, ...]:
    """Apply one ``dotted.key=value`` override to a raw config mapping (the value is YAML), and
    return the key's parts. Errors name it as typed: ``--set KEY=VALUE``.

    A relative path given to a path key (``data.train``, ...) resolves against ``base``
    (default: the current directory), where the user typed it.
    """
    key, sep, text = assignment.partition("=")
    if not sep or not key.strip():
        raise SeqlabError(f"{_set_flag(assignment)}: expected KEY=VALUE, e.g. "
                          "model.lstm.units=64")
    parts = tuple(key.strip().split("."))
    node = raw
    for depth, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            prefix = ".".join(parts[: depth + 1])
            raise SeqlabError(f"{_set_flag(assignment)}: {shown(prefix)} is a value, not a "
                              "section")
        node = child
    value = _read_yaml(text, _set_flag(assignment), lines="\n" in text.strip(),
                       key_path=parts) if text.strip() else None
    if parts in _PATH_KEYS + _NESTED_PATH_KEYS and isinstance(value, str) and value:
        value = _resolved(value, base or Path.cwd(), parts)
    node[parts[-1]] = value
    return parts


_PATH_KEYS = (("data", "train"), ("data", "dev"), ("data", "test"), ("vocab", "vectors"))
# Paths deeper in the config: resolved the same way; load_checkpoint checks the directory.
_NESTED_PATH_KEYS = (("model", "transformer", "path"),)


def _resolved(value: str, base: Path, parts: tuple = ()) -> str:
    if parts in _NESTED_PATH_KEYS and ("://" in value or "/" not in value
                                       and not (base / value).exists()):
        return value  # a hub address or bare preset name: refused as such, never downloaded
    path = Path(value).expanduser()
    if path.is_absolute():
        return str(path)
    try:
        return str((base / path).resolve())
    except (OSError, RuntimeError):  # a loop of symbolic links: the file check says so
        return str(base / path)


def _resolve_paths(raw: dict, base: Path) -> None:
    for parts in _PATH_KEYS + _NESTED_PATH_KEYS:
        node = raw
        for part in parts[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        value = node.get(parts[-1]) if isinstance(node, dict) else None
        if isinstance(value, str) and value:
            node[parts[-1]] = _resolved(value, base, parts)


def load_config(path: str | Path, overrides: list[str] | None = None,
                check_files: bool = True) -> Config:
    """Read, resolve, override and validate a YAML config file: paths in the file against its
    folder, paths in ``overrides`` against the current directory."""
    from seqlab.paths import PathError, input_file

    path = input_file(path, "config file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SeqlabError(f"{path}: not UTF-8 (byte {exc.start})") from None
    raw = _read_yaml(text, str(path))
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise SeqlabError(f"{path}: expected a mapping of sections (data, model, ...), "
                          f"found {type(raw).__name__}")
    _resolve_paths(raw, path.resolve().parent)
    set_by = [(apply_override(raw, assignment), assignment) for assignment in overrides or []]
    config = validate(raw, str(path), set_by)
    if check_files:
        for section, key in _PATH_KEYS:
            value = getattr(getattr(config, section), key)
            if value is None:
                continue
            try:  # training reads its files more than once: no pipes
                input_file(value, "vectors file" if key == "vectors" else "corpus file",
                           stream_ok=False, why="training reads its files more than once")
            except PathError as exc:
                where = _source((section, key), "", str(path), set_by)
                detail = "file not found" if exc.missing else exc.detail
                raise SeqlabError(f"{where}: key '{section}.{key}': {detail}: "
                                  f"{shown_path(value)}") from None
    return config
