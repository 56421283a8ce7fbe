"""Train a tagger from a validated Config and write the run directory.

The loop runs one `model.fit` epoch at a time so that each epoch's data order depends only on
(seed, epoch): a run resumed from its last checkpoint replays exactly what an uninterrupted run
would have done, and ends with the same weights.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console

from seqlab.config import Config
from seqlab.errors import Interrupted, SeqlabError

# What `seqlab train` writes into its output directory (and so what --force replaces).
RUN_FILES = ("model.keras", "config.yaml", "metrics.json", "history.csv", "run.json",
             "training.png", "checkpoints", "logs")
CHECKPOINTS = "checkpoints"


def prepare_output(path: Path, force: bool, resume: bool = False) -> None:
    """Refuse to write into an existing run unless forced or resumed; never delete foreign files."""
    if path.exists() and not path.is_dir():
        raise SeqlabError(f"{path}: exists and is not a directory")
    if resume:
        if not (path / CHECKPOINTS / "state.json").is_file():
            raise SeqlabError(f"{path}: nothing to resume (no {CHECKPOINTS}/state.json); "
                              "start the run without --resume")
        return
    if path.is_dir() and any(path.iterdir()):
        if not force:
            raise SeqlabError(f"{path}: output directory already exists and is not empty "
                              "(use --force to replace the run in it, or --resume)")
        foreign = [p.name for p in path.iterdir() if p.name not in RUN_FILES]
        if foreign:
            raise SeqlabError(f"{path}: --force only replaces a seqlab run, but the directory "
                              f"also holds {', '.join(sorted(foreign)[:3])}")


@dataclass
class Corpus:
    tokens: list[list[str]]
    labels: list[list[str]]
    path: str

    def __len__(self) -> int:
        return len(self.tokens)


def read_split(config: Config, key: str) -> Corpus | None:
    from seqlab.data import read_corpus

    path = getattr(config.data, key)
    if path is None:
        return None
    sentences = read_corpus(path, format=config.data.format,
                            token_column=config.data.token_column,
                            label_column=config.data.label_column,
                            label_field=config.data.label_field)
    if not sentences:
        raise SeqlabError(f"{path}: no sentences found (data.{key})")
    if config.data.scheme != "auto":
        from seqlab.data import check_labels

        check_labels(sentences, config.data.scheme, path)
    return Corpus([s.tokens for s in sentences], [s.labels for s in sentences], path)


@dataclass
class Prepared:
    """Everything the model needs from the data, built deterministically from the config."""

    train: Corpus
    dev: Corpus | None
    test: Corpus | None
    scheme: str          # the files' scheme
    train_scheme: str    # the scheme the model learns
    vocab: object
    labels: object
    chars: object
    encoded: object      # the training set encoded in memory; None when streamed
    embeddings: np.ndarray | None = None
    read: object = None  # when streamed: a fresh iterator of (tokens, labels) per call

    def dataset(self, batch_size: int, seed: int, shuffle_buffer: int = 8192):
        """One epoch of training batches, in an order fixed by `seed`."""
        from seqlab.vocab import make_dataset, stream_dataset

        if self.encoded is not None:
            return make_dataset(self.encoded, batch_size, shuffle=True, seed=seed)
        return stream_dataset(self.read, self.vocab, self.labels, self.chars, batch_size, seed,
                              buffer=shuffle_buffer, where=self.train.path)


def _streamed(config: Config, console: Console):
    """Vocabularies from one pass over the training file, and a reader for each epoch."""
    import itertools

    from seqlab.data import iter_corpus
    from seqlab.schemes import convert, detect_scheme
    from seqlab.vocab import build_vocabularies

    d, v = config.data, config.vocab

    def sentences():
        return iter_corpus(d.train, format=d.format, token_column=d.token_column,
                           label_column=d.label_column, label_field=d.label_field)

    scheme = d.scheme
    if scheme == "auto":  # from the first sentences: one look, not another pass
        scheme = detect_scheme(s.labels for s in itertools.islice(sentences(), 20000))
    train_scheme = d.train_scheme or scheme

    def read():
        for s in sentences():
            labels = s.labels
            if train_scheme != scheme:
                labels = convert(labels, train_scheme, source=scheme)
            yield s.tokens, labels

    chars = config.model.chars
    vocab, labels, char_vocab = build_vocabularies(
        read(), v.min_count, v.max_size, v.lowercase, v.normalize_digits,
        chars.max_length if chars.encoder != "none" else None, chars.min_count)
    return scheme, train_scheme, vocab, labels, char_vocab, read


def prepare_data(config: Config, console: Console) -> Prepared:
    from seqlab.schemes import convert, detect_scheme
    from seqlab.vocab import CharVocabulary, LabelVocabulary, Vocabulary, encode_corpus

    if config.data.stream:
        scheme, train_scheme, vocab, labels, chars, read = _streamed(config, console)
        embeddings = None
        if config.vocab.vectors:
            vocab, embeddings = _with_vectors(config, vocab, console)
        console.print(f"train: streamed from {config.data.train}, {len(vocab)} words, "
                      f"{len(labels)} labels ({scheme})")
        prep = Prepared(Corpus([], [], config.data.train), read_split(config, "dev"),
                        read_split(config, "test"), scheme, train_scheme, vocab, labels, chars,
                        None, embeddings)
        prep.read = read
        return prep

    train_set = read_split(config, "train")
    dev_set = read_split(config, "dev")
    test_set = read_split(config, "test")
    scheme = config.data.scheme
    if scheme == "auto":
        scheme = detect_scheme(train_set.labels)
    train_scheme = config.data.train_scheme or scheme
    train_labels = train_set.labels
    if train_scheme != scheme:
        if scheme == "plain":
            raise SeqlabError(f"key 'data.train_scheme': {train_scheme} needs chunk labels "
                              f"(B-/I-...), but {train_set.path} holds plain tags")
        train_labels = [convert(tags, train_scheme, source=scheme) for tags in train_labels]

    v = config.vocab
    vocab = Vocabulary.build(train_set.tokens, v.min_count, v.max_size, v.lowercase,
                             v.normalize_digits)
    embeddings = None
    if v.vectors:
        vocab, embeddings = _with_vectors(config, vocab, console)
    labels = LabelVocabulary.build(train_labels)
    chars = None
    if config.model.chars.encoder != "none":
        chars = CharVocabulary.build(train_set.tokens, config.model.chars.min_count,
                                     config.model.chars.max_length)
    encoded = encode_corpus(vocab, train_set.tokens, labels, train_labels, train_set.path,
                            chars=chars)
    console.print(f"train: {len(train_set)} sentences, {len(encoded.words)} tokens, "
                  f"{len(vocab)} words, {len(labels)} labels ({scheme}"
                  + (f", trained as {train_scheme}" if train_scheme != scheme else "") + ")")
    for split in (dev_set, test_set):
        if split is not None:
            console.print(f"{Path(split.path).name}: {len(split)} sentences, "
                          f"OOV {vocab.oov_rate(split.tokens):.1%}")
    return Prepared(train_set, dev_set, test_set, scheme, train_scheme, vocab, labels, chars,
                    encoded, embeddings)


def _with_vectors(config: Config, vocab, console: Console):
    """Initial embedding matrix from a vectors file (words without a vector get N(0, 0.1))."""
    from seqlab.vectors import read_vectors
    from seqlab.vocab import Vocabulary

    v = config.vocab
    found = read_vectors(v.vectors, vocabulary=None if v.vectors_add_words else vocab.tokens)
    if found.dim != config.model.embedding.dim:
        raise SeqlabError(f"key 'model.embedding.dim': {config.model.embedding.dim}, but the "
                          f"vectors in {v.vectors} have {found.dim} dimensions")
    if v.vectors_add_words:
        extra = [w for w in found.words if vocab.normalize(w) == w]
        vocab = Vocabulary(vocab.tokens + [w for w in extra if w not in set(vocab.tokens)],
                           vocab.lowercase, vocab.normalize_digits)
        found = read_vectors(v.vectors, vocabulary=vocab.tokens)
    rng = np.random.default_rng(config.seed)
    matrix = rng.normal(0.0, 0.1, (len(vocab), found.dim)).astype("float32")
    matrix[0] = 0.0
    index = {w: i for i, w in enumerate(vocab.tokens)}
    for word, row in zip(found.words, found.matrix):
        matrix[index[word]] = row
    console.print(f"vectors: {found.exact + found.lowercase} of {len(vocab)} words found "
                  f"({found.coverage:.1%}; {found.lowercase} by lower-casing)")
    return vocab, matrix


def seed_everything(seed: int) -> None:
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)  # Python, NumPy and the backend
    tf.config.experimental.enable_op_determinism()


@dataclass
class Run:
    """What a finished training run returns (and writes to disk)."""

    output: Path
    metrics: dict
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    weights_sha256: str = ""
    distribution: dict = field(default_factory=dict)


def make_optimizer(config: Config):
    import keras

    t = config.training
    kwargs = {"learning_rate": t.learning_rate}
    if t.clipnorm:
        kwargs["clipnorm"] = t.clipnorm
    if t.optimizer == "sgd":
        return keras.optimizers.SGD(momentum=t.momentum, **kwargs)
    if t.optimizer == "nadam":
        return keras.optimizers.Nadam(**kwargs)
    return keras.optimizers.Adam(**kwargs)


def _replica_scaled_crf_loss(crf):
    """The CRF loss, divided by the replicas in sync as Keras' own losses are.

    Under a distribution strategy each replica's loss is a mean over its share of the batch and
    the replicas' gradients are summed, so Keras' built-in reductions divide by the number of
    replicas (`scale_loss_for_distribution`). `CRFLoss` reduces by itself and skips that; with
    one replica the factor is 1 and nothing changes.
    """
    from keras.src.losses.loss import scale_loss_for_distribution

    from seqlab.layers.crf import CRFLoss

    class ReplicaScaledCRFLoss(CRFLoss):
        def __call__(self, y_true, y_pred, sample_weight=None, mask=None):
            value = super().__call__(y_true, y_pred, sample_weight, mask)
            if self.reduction in (None, "none"):
                return value
            return scale_loss_for_distribution(value)

    return ReplicaScaledCRFLoss(crf, normalize="token")


def compile_model(model, config: Config) -> None:
    """Optimizer and loss: token cross-entropy, or the CRF's negative log-likelihood (per
    token, so clipping and learning rates mean the same for both outputs)."""
    import keras

    if config.model.output == "crf":
        import tensorflow as tf

        from seqlab.layers.crf import CRFLoss

        crf = model.get_layer("crf")
        if tf.distribute.get_strategy().num_replicas_in_sync > 1:
            loss = _replica_scaled_crf_loss(crf)
        else:
            loss = CRFLoss(crf, normalize="token")
    else:
        loss = keras.losses.SparseCategoricalCrossentropy()
    model.compile(optimizer=make_optimizer(config), loss=loss)


def build_compiled(config: Config, prep: Prepared):
    from seqlab.model import build_model

    model = build_model(config.model, prep.vocab, prep.labels, scheme=prep.train_scheme,
                        source_scheme=prep.scheme, chars=prep.chars)
    if prep.embeddings is not None:
        model.get_layer("word_embedding").set_weights([prep.embeddings])
    compile_model(model, config)
    return model


def score(tagger, corpus: Corpus, batch_size: int) -> dict:
    from seqlab.metrics import evaluate

    return evaluate(corpus.labels, tagger.tag(corpus.tokens, batch_size))


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _save_arrays(path: Path, arrays) -> None:
    tmp = path.with_name(path.stem + ".tmp.npz")
    with open(tmp, "wb") as f:
        np.savez(f, *[np.asarray(a) for a in arrays])
    os.replace(tmp, path)


def _load_arrays(path: Path) -> list[np.ndarray]:
    with np.load(path) as saved:
        return [saved[f"arr_{i}"] for i in range(len(saved.files))]


def _rng_variables(model) -> list:
    """The dropout layers' random-generator states, in layer-name order: `model.save` leaves
    them out, but a resumed run needs them to draw the same dropout masks as an uninterrupted
    one. (A loaded model lists its variables in another order, so order by layer name.)"""
    layers = sorted(model._flatten_layers(include_self=False), key=lambda layer: layer.name)
    return [sg.state for layer in layers for sg in getattr(layer, "_seed_generators", [])]


def save_checkpoint(folder: Path, model, state: dict, improved: bool) -> None:
    """Model with optimizer state, best weights, then state.json last: a run killed at any
    moment leaves the previous complete checkpoint or this one."""
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / "last.tmp.keras")
    os.replace(folder / "last.tmp.keras", folder / "last.keras")
    # The optimizer's and the dropout generators' states as plain arrays: a CRF model's loss
    # cannot come back from the archive's compile config, and model.save skips the latter.
    _save_arrays(folder / "optimizer.npz", model.optimizer.variables)
    _save_arrays(folder / "rng.npz", _rng_variables(model))
    if improved:  # plain arrays: model.save_weights would also carry the optimizer's state
        _save_arrays(folder / "best.npz", model.get_weights())
    _atomic_write(folder / "state.json", json.dumps(state, indent=1))


def train(config: Config, output: str | Path, force: bool = False, resume: bool = False,
          console: Console | None = None) -> Run:
    """Train the model a config describes and write the run into `output`.

    Under `distribution.strategy: multi_worker` every worker calls this with the same config
    and output; only the chief writes `output` (the others write into a temporary directory,
    deleted at the end), and on `resume` every worker reads the chief's checkpoints there.

    Raises SeqlabError for bad data or an occupied directory, Interrupted on Ctrl-C (the last
    finished epoch's checkpoint stays usable for `--resume`).
    """
    import keras

    from seqlab.distribute import setup

    console = console or Console(stderr=True)
    output = Path(output)
    # First, before any TensorFlow op: logical CPU devices and the multi-worker runtime can
    # only be set up while TensorFlow has not started.
    placement = setup(config.distribution.strategy)
    if placement.chief:
        prepare_output(output, force, resume)
        write_dir = output
    else:
        if resume and not (output / CHECKPOINTS / "state.json").is_file():
            raise SeqlabError(f"{output}: nothing to resume (no {CHECKPOINTS}/state.json); "
                              f"every worker reads the chief's checkpoints there")
        write_dir = Path(tempfile.mkdtemp(prefix=f"seqlab-{placement.task.replace(':', '')}-"))
    if placement.replicas > 1 or placement.workers > 1:
        console.print(f"distribution: {placement.name}, {placement.replicas} replicas"
                      + (f" on {placement.workers} workers, this one {placement.task}"
                         + (" (chief)" if placement.chief else "")
                         if placement.name == "multi_worker" else "")
                      + f", global batch {config.training.batch_size}")
    att = config.model.attention
    if att.enabled and att.residual == "none":
        console.print("[yellow]warning:[/] model.attention.residual is 'none': each token's "
                      "BiLSTM state is replaced by an attention average, which costs accuracy "
                      "(set it to 'concat' or 'add')")
    previous_policy = keras.config.dtype_policy().name
    keras.config.set_dtype_policy(config.training.precision)
    try:
        run = _train(config, output, write_dir, resume, console, placement)
    finally:
        keras.config.set_dtype_policy(previous_policy)
        if write_dir != output:
            shutil.rmtree(write_dir, ignore_errors=True)
    return run


def _distribute_options(dataset, placement):
    """Each worker reads its share of every epoch: the global batches are split between the
    workers' replicas by TensorFlow (`DATA` sharding), in the same order on every worker."""
    if placement.workers <= 1:
        return dataset
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def _build_before_fit(model, prep) -> None:
    """Build the model, loss and optimizer once, so that `fit` under a strategy never peeks.

    Under a distribution strategy, each `model.fit` call (Keras 3.15) takes the first batch of
    the epoch and averages it over the replicas to build the model symbolically; when that
    batch splits unevenly (3 sentences over 2 replicas) the average fails. Build here from one
    undistributed batch instead, and skip the peek: everything it would build is built.
    """
    batch = next(iter(prep.dataset(1, seed=0).take(1)))
    with model.distribute_strategy.scope():
        model._symbolic_build(data_batch=batch)
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None


def _train(config: Config, output: Path, write_dir: Path, resume: bool, console: Console,
           placement) -> Run:
    """The training loop. `output` holds the checkpoints a resumed run reads; `write_dir` gets
    what this process writes (`output` itself, except on a worker that is not the chief)."""
    import keras

    from seqlab.predict import Tagger

    prep = prepare_data(config, console)
    seed_everything(config.seed)
    folder = write_dir / CHECKPOINTS
    source = output / CHECKPOINTS
    strategy = placement.strategy
    state = {"epoch": 0, "history": [], "best_score": None, "best_epoch": 0,
             "config_sha256": config.sha256(), "seconds": 0.0}
    if resume:
        state = json.loads((source / "state.json").read_text(encoding="utf-8"))
        if state.get("config_sha256") != config.sha256():
            raise SeqlabError(f"{output}: the checkpoint was made with another config; "
                              "resume with the same config and --set values")
        with strategy.scope():  # variables are made where the strategy places them
            model = keras.models.load_model(source / "last.keras", compile=False)
            compile_model(model, config)
            model.optimizer.build(model.trainable_variables)
        saved = _load_arrays(source / "optimizer.npz")
        for variable, value in zip(model.optimizer.variables, saved, strict=True):
            variable.assign(value)
        for variable, value in zip(_rng_variables(model), _load_arrays(source / "rng.npz")):
            variable.assign(value)
        console.print(f"resuming after epoch {state['epoch']}")
    else:
        if write_dir.is_dir():  # --force: clear the old run's files, never anything else
            for name in RUN_FILES:
                target = write_dir / name
                if target.is_dir():
                    shutil.rmtree(target)
                elif target.exists():
                    target.unlink()
        with strategy.scope():
            model = build_compiled(config, prep)
    if placement.replicas > 1:
        _build_before_fit(model, prep)
    best_weights = None
    if resume and state["best_epoch"]:
        best_weights = _load_arrays(source / "best.npz")

    tagger = Tagger(model)
    t = config.training
    metric = t.metric
    if metric == "auto":
        from seqlab.schemes import is_chunk_scheme

        metric = "f1" if is_chunk_scheme(prep.labels.labels) else "accuracy"
    callbacks = []
    if config.logging.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(output / "logs")))
    console.print(f"{'epoch':>5} {'loss':>9} {'dev ' + metric:>12} {'time':>8}")
    started = time.perf_counter() - state["seconds"]
    try:
        for epoch in range(state["epoch"], t.epochs):
            if t.lr_decay:
                model.optimizer.learning_rate.assign(t.learning_rate / (1 + t.lr_decay * epoch))
            dataset = prep.dataset(t.batch_size, config.seed * 1000 + epoch,
                                   config.data.shuffle_buffer)
            dataset = _distribute_options(dataset, placement)
            with warnings.catch_warnings():
                # Streamed batches are bucketed on the fly, so Keras cannot know the steps per
                # epoch and warns that the data "ran out" at each epoch's end: the expected end.
                warnings.filterwarnings("ignore", message=".*ran out of data.*")
                fit = model.fit(dataset, initial_epoch=epoch, epochs=epoch + 1, verbose=0,
                                shuffle=False, callbacks=callbacks)
            row = {"epoch": epoch + 1, "loss": float(fit.history["loss"][-1])}
            if prep.dev is not None:
                result = score(tagger, prep.dev, t.batch_size)
                row[f"dev_{metric}"] = float(result[metric])
                if metric != "accuracy":
                    row["dev_accuracy"] = float(result["accuracy"])
                current = row[f"dev_{metric}"]
            else:
                current = -row["loss"]
            row["seconds"] = round(time.perf_counter() - started, 2)
            improved = state["best_score"] is None or current > state["best_score"]
            if improved:
                state.update(best_score=current, best_epoch=epoch + 1)
                best_weights = model.get_weights()
            state["history"].append(row)
            state.update(epoch=epoch + 1, seconds=row["seconds"])
            save_checkpoint(folder, model, state, improved)
            dev_text = f"{row.get(f'dev_{metric}', float('nan')):12.2f}"
            console.print(f"{epoch + 1:>5} {row['loss']:>9.4f} {dev_text} "
                          f"{row['seconds']:>7.1f}s" + (" *" if improved else ""))
            if t.patience and epoch + 1 - state["best_epoch"] >= t.patience:
                console.print(f"early stop: no dev improvement for {t.patience} epochs")
                break
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted after epoch {state['epoch']}; continue with: seqlab "
                          f"train CONFIG --output {output} --resume") from None

    if best_weights is not None:
        model.set_weights(best_weights)
    metrics: dict = {"best_epoch": state["best_epoch"], "epochs_run": state["epoch"],
                     "seconds": round(time.perf_counter() - started, 2)}
    for name, split in (("dev", prep.dev), ("test", prep.test)):
        if split is not None:
            metrics[name] = score(tagger, split, t.batch_size)
    record = placement.record()
    write_run(write_dir, config, model, metrics, state["history"], record)
    digest = weights_digest(model)
    if placement.workers > 1:  # every worker says what it ended with: they must agree
        console.print(f"{placement.task}: weights sha256 {digest}")
    return Run(output, metrics, state["history"], state["best_epoch"], digest, record)


def file_digest(path: str | Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weights_digest(model) -> str:
    import hashlib

    digest = hashlib.sha256()
    for array in model.get_weights():
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def run_record(config: Config, model, metrics: dict, distribution: dict | None = None) -> dict:
    """What run.json holds: enough to tell whether another run reproduced this one."""
    import platform

    import keras
    import tensorflow as tf

    import seqlab

    files = {key: getattr(config.data, key) for key in ("train", "dev", "test")}
    return {
        "versions": {"seqlab": seqlab.__version__, "tensorflow": tf.__version__,
                     "keras": keras.__version__, "python": platform.python_version()},
        "seed": config.seed,
        "config": config.to_dict(),
        "config_sha256": config.sha256(),
        "data_sha256": {k: file_digest(v) for k, v in files.items() if v},
        "seconds": metrics["seconds"],
        "epochs_run": metrics["epochs_run"],
        "best_epoch": metrics["best_epoch"],
        "metrics": {k: metrics[k] for k in ("dev", "test") if k in metrics},
        "weights_sha256": weights_digest(model),
        "distribution": distribution or {"strategy": "none", "replicas": 1, "workers": 1},
    }


def plot_history(path: Path, history: list[dict]) -> None:
    """training.png: loss and dev score per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] for row in history]
    dev_keys = [k for k in history[0] if k.startswith("dev_") and k != "dev_accuracy"] or \
        [k for k in history[0] if k.startswith("dev_")]
    fig, axes = plt.subplots(1, 2 if dev_keys else 1, figsize=(9 if dev_keys else 5, 3.5),
                             squeeze=False)
    axes[0][0].plot(epochs, [row["loss"] for row in history], marker="o")
    axes[0][0].set(title="training loss", xlabel="epoch")
    if dev_keys:
        key = dev_keys[0]
        axes[0][1].plot(epochs, [row[key] for row in history], marker="o", color="tab:green")
        axes[0][1].set(title=key.replace("_", " "), xlabel="epoch")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_run(output: Path, config: Config, model, metrics: dict, history: list[dict],
              distribution: dict | None = None) -> None:
    """Write the run's files; the model goes to a temporary name first, so a crash loses nothing."""
    output.mkdir(parents=True, exist_ok=True)
    model.save(output / "model.tmp.keras")
    os.replace(output / "model.tmp.keras", output / "model.keras")
    _atomic_write(output / "config.yaml", config.to_yaml())
    _atomic_write(output / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    fields = sorted({k for row in history for k in row}, key=lambda k: (k != "epoch", k))
    with open(output / "history.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(history)
    if config.logging.plot and history:
        plot_history(output / "training.png", history)
    record = run_record(config, model, metrics, distribution)
    _atomic_write(output / "run.json", json.dumps(record, indent=2) + "\n")


def reproduce(run_dir: str | Path, console: Console | None = None) -> list[str]:
    """Retrain DIR/config.yaml into a temporary directory; return how the result differs from
    DIR/run.json (an empty list when weights and metrics are identical)."""
    import tempfile

    from seqlab.config import load_config

    run_dir = Path(run_dir)
    for name in ("config.yaml", "run.json"):
        if not (run_dir / name).is_file():
            raise SeqlabError(f"{run_dir}: not a seqlab run directory (no {name})")
    before = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    config = load_config(run_dir / "config.yaml")
    with tempfile.TemporaryDirectory(prefix="seqlab-reproduce-") as tmp:
        train(config, Path(tmp) / "run", console=console)
        after = json.loads((Path(tmp) / "run" / "run.json").read_text(encoding="utf-8"))
    differences = []
    for key in ("data_sha256", "config_sha256", "weights_sha256", "best_epoch", "epochs_run",
                "metrics"):
        if before.get(key) != after.get(key):
            differences.append(f"{key}: {json.dumps(before.get(key))[:200]} -> "
                               f"{json.dumps(after.get(key))[:200]}")
    return differences
