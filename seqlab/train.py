"""Train a tagger from a validated Config and write the run directory."""

from __future__ import annotations

import csv
import json
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console

from seqlab.config import Config
from seqlab.errors import SeqlabError

# What `seqlab train` writes into its output directory (and so what --force replaces).
RUN_FILES = ("model.keras", "config.yaml", "metrics.json", "history.csv", "run.json")


def prepare_output(path: Path, force: bool) -> None:
    """Refuse to write into an existing run unless forced; never delete files we did not write."""
    if path.exists() and not path.is_dir():
        raise SeqlabError(f"{path}: exists and is not a directory")
    if path.is_dir() and any(path.iterdir()):
        if not force:
            raise SeqlabError(f"{path}: output directory already exists and is not empty "
                              "(use --force to replace the run in it)")
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
    return Corpus([s.tokens for s in sentences], [s.labels for s in sentences], path)


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


def score(tagger, corpus: Corpus, batch_size: int) -> dict:
    from seqlab.metrics import evaluate

    return evaluate(corpus.labels, tagger.tag(corpus.tokens, batch_size))


def train(config: Config, output: str | Path, force: bool = False,
          console: Console | None = None) -> Run:
    """Train the model a config describes; write model.keras, config.yaml, metrics.json and
    history.csv into `output`. Raises SeqlabError for bad data or an occupied directory."""
    console = console or Console(stderr=True)
    output = Path(output)
    prepare_output(output, force)

    train_set = read_split(config, "train")
    dev_set = read_split(config, "dev")
    test_set = read_split(config, "test")

    from seqlab.schemes import detect_scheme, is_chunk_scheme

    scheme = config.data.scheme
    if scheme == "auto":
        scheme = detect_scheme(train_set.labels)
    if not config.model.attention.enabled or config.model.attention.residual == "none":
        if config.model.attention.enabled:
            console.print("[yellow]warning:[/] model.attention.residual is 'none': each token's "
                          "BiLSTM state is replaced by an attention average, which costs accuracy "
                          "(set it to 'concat' or 'add')")

    seed_everything(config.seed)
    import keras

    from seqlab.model import build_model
    from seqlab.predict import Tagger
    from seqlab.vocab import LabelVocabulary, Vocabulary, encode_corpus, make_dataset

    v = config.vocab
    vocab = Vocabulary.build(train_set.tokens, v.min_count, v.max_size, v.lowercase,
                             v.normalize_digits)
    labels = LabelVocabulary.build(train_set.labels)
    encoded = encode_corpus(vocab, train_set.tokens, labels, train_set.labels, train_set.path)
    dataset = make_dataset(encoded, config.training.batch_size, shuffle=True, seed=config.seed)
    console.print(f"train: {len(train_set)} sentences, {len(encoded.words)} tokens, "
                  f"{len(vocab)} words, {len(labels)} labels ({scheme})"
                  + (f"; dev: {len(dev_set)} sentences, OOV {vocab.oov_rate(dev_set.tokens):.1%}"
                     if dev_set else ""))

    model = build_model(config.model, vocab, labels, scheme=scheme, source_scheme=scheme)
    model.compile(optimizer=make_optimizer(config),
                  loss=keras.losses.SparseCategoricalCrossentropy())
    tagger = Tagger(model)
    chunked = is_chunk_scheme(labels.labels)
    metric_name = config.training.metric
    if metric_name == "auto":
        metric_name = "f1" if chunked else "accuracy"

    history: list[dict] = []
    best = {"score": -1.0, "epoch": 0, "weights": None}
    patience = config.training.patience
    batch_size = config.training.batch_size
    started = time.perf_counter()
    console.print(f"{'epoch':>5} {'loss':>9} {'dev ' + metric_name:>10} {'time':>7}")

    class EpochEnd(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            row = {"epoch": epoch + 1, "loss": float((logs or {}).get("loss", float("nan")))}
            if dev_set is not None:
                result = score(tagger, dev_set, batch_size)
                row[f"dev_{metric_name}"] = float(result[metric_name])
                row["dev_accuracy"] = float(result["accuracy"])
                current = row[f"dev_{metric_name}"]
            else:
                current = -row["loss"]
            row["seconds"] = round(time.perf_counter() - started, 2)
            history.append(row)
            marker = ""
            if current > best["score"]:
                best.update(score=current, epoch=epoch + 1, weights=model.get_weights())
                marker = " *"
            dev_text = f"{row.get(f'dev_{metric_name}', float('nan')):10.2f}"
            console.print(f"{epoch + 1:>5} {row['loss']:>9.4f} {dev_text} "
                          f"{row['seconds']:>6.1f}s{marker}")
            if patience and epoch + 1 - best["epoch"] >= patience:
                console.print(f"early stop: no dev improvement for {patience} epochs")
                self.model.stop_training = True

    with warnings.catch_warnings():
        # tf.data batches by length, so Keras cannot know the steps per epoch in advance and
        # warns at each epoch's end that the data "ran out"; that is the expected end.
        warnings.filterwarnings("ignore", message=".*ran out of data.*")
        model.fit(dataset, epochs=config.training.epochs, callbacks=[EpochEnd()], verbose=0,
                  shuffle=False)  # tf.data shuffles, seeded
    if best["weights"] is not None:
        model.set_weights(best["weights"])

    metrics: dict = {"best_epoch": best["epoch"], "epochs_run": len(history),
                     "seconds": round(time.perf_counter() - started, 2)}
    for name, split in (("dev", dev_set), ("test", test_set)):
        if split is not None:
            metrics[name] = score(tagger, split, batch_size)

    write_run(output, config, model, metrics, history)
    return Run(output, metrics, history, best["epoch"])


def file_digest(path: str | Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run_record(config: Config, model, metrics: dict) -> dict:
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
    }


def write_run(output: Path, config: Config, model, metrics: dict, history: list[dict]) -> None:
    """Write the run's files; the model goes to a temporary name first, so a crash loses nothing."""
    output.mkdir(parents=True, exist_ok=True)
    tmp_model = output / "model.tmp.keras"
    model.save(tmp_model)
    tmp_model.replace(output / "model.keras")
    (output / "config.yaml").write_text(config.to_yaml(), encoding="utf-8")
    (output / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    fields = sorted({k for row in history for k in row}, key=lambda k: (k != "epoch", k))
    with open(output / "history.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(history)
    record = run_record(config, model, metrics)
    (output / "run.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


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


def weights_digest(model) -> str:
    import hashlib

    digest = hashlib.sha256()
    for array in model.get_weights():
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()
