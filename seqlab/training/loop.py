"""The training loop: model, optimizer and loss from the config, one `model.fit` epoch at a
time, dev scoring, early stopping, checkpoints, and the finished run's files.

One epoch at a time so that each epoch's data order depends only on (seed, epoch): a run
resumed from its last checkpoint replays exactly what an uninterrupted run would have done,
and ends with the same weights.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from seqlab.config import Config
from seqlab.errors import Interrupted, SeqlabError
from seqlab.training import checkpoint
from seqlab.training.data import Prepared, prepare_data
from seqlab.training.progress import Reporter
from seqlab.training.record import run_record, weights_digest
from seqlab.training.rundir import (
    CHECKPOINTS,
    RunLock,
    check_output,
    clear_run,
    has_checkpoint,
    write_run,
)


@dataclass
class Run:
    """What a finished training run returns (and writes to disk)."""

    output: Path
    metrics: dict
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    weights_sha256: str = ""
    distribution: dict = field(default_factory=dict)


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of epoch ``epoch``'s batch order (0 first), from the run's seed alone."""
    return seed * 1000 + epoch


def seed_everything(seed: int) -> None:
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)  # Python, NumPy and the backend
    tf.config.experimental.enable_op_determinism()


def make_optimizer(config: Config):
    t = config.training
    kwargs = {"learning_rate": t.learning_rate, "clipnorm": t.clipnorm,
              "global_clipnorm": t.global_clipnorm}
    if t.ema:
        kwargs.update(use_ema=True, ema_momentum=t.ema)
    # Keras' optimizers, their weight averages warmed up (seqlab.layers.optimizers).
    from seqlab.layers import optimizers

    if t.optimizer == "sgd":
        return optimizers.SGD(momentum=t.momentum, **kwargs)
    if t.optimizer == "nadam":
        return optimizers.Nadam(**kwargs)
    return optimizers.FusedAdam(**kwargs)  # keras.optimizers.Adam, one fused op a variable


def make_loss(config: Config, parts):
    """Token cross-entropy, or the CRF's negative log-likelihood per token (so clipping and
    learning rates mean the same for both outputs), divided by the replicas in sync as
    Keras' own losses are."""
    import keras

    if config.model.output != "crf":
        return keras.losses.SparseCategoricalCrossentropy()
    from seqlab.compat import scale_loss_for_distribution
    from seqlab.layers.crf import CRFLoss

    class ReplicaScaledCRFLoss(CRFLoss):
        def __call__(self, y_true, y_pred, sample_weight=None, mask=None):
            value = super().__call__(y_true, y_pred, sample_weight, mask)
            if self.reduction in (None, "none"):
                return value
            return scale_loss_for_distribution(value)

    return ReplicaScaledCRFLoss(parts.crf, normalize="token")


def compile_model(model, config: Config) -> None:
    from seqlab.compat import keep_weights_after_fit
    from seqlab.model import ModelParts

    optimizer = make_optimizer(config)
    if config.training.ema:
        keep_weights_after_fit(optimizer)
    # Keras 3.15 cannot run several steps a call on a distributed dataset's iterator.
    steps = config.training.steps_per_execution if config.distribution.strategy == "none" else 1
    model.compile(optimizer=optimizer, loss=make_loss(config, ModelParts(model)),
                  steps_per_execution=steps)


class AveragedWeights:
    """``with AveragedWeights(model):`` the model holds the optimizer's moving averages of
    its weights (training.ema), and its own weights again afterwards; without EMA, nothing
    happens."""

    def __init__(self, model, enabled: bool) -> None:
        self.model, self.enabled, self.raw = model, enabled, None

    def __enter__(self):
        if self.enabled:
            from seqlab.compat import moving_averages

            variables = self.model.trainable_variables
            self.raw = [v.numpy() for v in variables]
            for variable, average in zip(variables, moving_averages(self.model.optimizer),
                                         strict=True):
                variable.assign(average)
        return self

    def __exit__(self, *exc):
        if self.raw is not None:
            for variable, value in zip(self.model.trainable_variables, self.raw):
                variable.assign(value)
            self.raw = None


def build_compiled(config: Config, prep: Prepared):
    from seqlab.model import ModelParts, build_model

    model = build_model(config.model, prep.vocab, prep.labels, scheme=prep.train_scheme,
                        source_scheme=prep.scheme, chars=prep.chars,
                        reading=prep.reading.to_dict())
    if prep.embeddings is not None:
        ModelParts(model).set_word_vectors(prep.embeddings)
    compile_model(model, config)
    return model


# Sentences a batch when scoring: padding is masked, so the scores do not depend on it, and
# bigger batches tag faster than the training batch size would.
SCORING_BATCH = 128


def score(tagger, corpus, keep: bool = False):
    """The scores of ``corpus`` tagged by ``tagger`` (and, with ``keep``, the tags too)."""
    from seqlab.metrics import evaluate

    predicted = tagger.tag(corpus.tokens, SCORING_BATCH)
    result = evaluate(corpus.labels, predicted, chunks=tagger.chunked)
    return (result, predicted) if keep else result


def attention_examples(tagger, tokens, labels, count: int = 3) -> list[dict]:
    """Attention weights of a few dev sentences (those of 6 to 20 tokens with the most gold
    chunks or distinct labels), for the report; [] without SeqSelfAttention."""
    if not tagger.parts.attention_heads:
        return []
    from seqlab.attention_view import attention_view
    from seqlab.schemes import get_chunks

    def interest(i):
        return len(get_chunks(labels[i])) if tagger.chunked else len(set(labels[i]))

    fitting = [i for i, t in enumerate(tokens) if 6 <= len(t) <= 20]
    chosen = sorted(sorted(fitting, key=lambda i: (-interest(i), i))[:count])
    examples = []
    for i in chosen:
        view = attention_view(tagger, tokens[i])
        examples.append({"sentence": i + 1, "tokens": view.tokens, "tags": view.tags,
                         "weights": [[round(float(w), 4) if ok else None
                                      for w, ok in zip(row, mask)]
                                     for row, mask in zip(view.weights, view.window)],
                         "attention": view.describe()})
    return examples


def train(config: Config, output: str | Path, force: bool = False, resume: bool = False,
          console: Console | None = None) -> Run:
    """Train the model a config describes and write the run into `output`.

    The chief holds a lock on `output` while it trains, so a second run into the same
    directory is refused. Under `distribution.strategy: multi_worker` every worker calls this
    with the same config and output; only the chief writes `output` (the others write into a
    temporary directory, deleted at the end), and on `resume` every worker reads the chief's
    checkpoints there.

    Raises SeqlabError for bad data or an occupied directory, Interrupted on Ctrl-C (the last
    finished epoch's checkpoint stays usable for resuming).
    """
    import keras

    from seqlab.distribute import setup

    console = console or Console(stderr=True)
    output = Path(output)
    # First, before any TensorFlow op: logical CPU devices and the multi-worker runtime can
    # only be set up while TensorFlow has not started.
    placement = setup(config.distribution.strategy)
    if placement.chief:
        check_output(output, force, resume)
        write_dir, lock = output, RunLock(output)
    else:
        if resume and not has_checkpoint(output):
            raise SeqlabError(f"{output}: nothing to resume yet (no finished epoch in "
                              f"{CHECKPOINTS}/); every worker reads the chief's checkpoints "
                              "there", argument="resume")
        write_dir = Path(tempfile.mkdtemp(prefix=f"seqlab-{placement.task.replace(':', '')}-"))
        lock = contextlib.nullcontext()
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
        with lock:
            if placement.chief and not resume:
                clear_run(output)  # force: the old run's files, never anything else
            return _train(config, output, write_dir, resume, console, placement)
    except KeyboardInterrupt:
        # The last complete checkpoint (state.json is written last) is what a resume gets.
        done = checkpoint.load_state(output / CHECKPOINTS)["epoch"] if has_checkpoint(output) \
            else 0
        raise Interrupted(done, output) from None
    finally:
        keras.config.set_dtype_policy(previous_policy)
        if write_dir != output:
            shutil.rmtree(write_dir, ignore_errors=True)


def _distribute_options(dataset, placement):
    """Each worker reads its share of every epoch: the global batches are split between the
    workers' replicas by TensorFlow (`DATA` sharding), in the same order on every worker."""
    if placement.workers <= 1:
        return dataset
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def _train(config: Config, output: Path, write_dir: Path, resume: bool, console: Console,
           placement) -> Run:
    """The loop. `output` holds the checkpoints a resumed run reads; `write_dir` gets what
    this process writes (`output` itself, except on a worker that is not the chief)."""
    import keras

    from seqlab.compat import build_before_fit
    from seqlab.tagger import Tagger

    prep = prepare_data(config, console.print)
    seed_everything(config.seed)
    folder = write_dir / CHECKPOINTS
    source = output / CHECKPOINTS
    strategy = placement.strategy
    state = {"epoch": 0, "history": [], "best_score": None, "best_epoch": 0,
             "config_sha256": config.sha256(), "seconds": 0.0}
    if resume:
        state = checkpoint.load_state(source)
        if state.get("config_sha256") != config.sha256():
            raise SeqlabError(f"{output}: the checkpoint was made with another config; "
                              "resume with the same config and overrides")
        with strategy.scope():  # variables are made where the strategy places them
            model = keras.models.load_model(source / "last.keras", compile=False)
            compile_model(model, config)
            model.optimizer.build(model.trainable_variables)
        checkpoint.restore(source, model)
        console.print(f"resuming after epoch {state['epoch']}")
    else:
        with strategy.scope():
            model = build_compiled(config, prep)
    if placement.replicas > 1:
        build_before_fit(model, next(iter(prep.dataset(1, seed=0).take(1))))
    best_weights = None
    if resume and state["best_epoch"]:
        best_weights = checkpoint.best_weights(source)

    tagger = Tagger(model)
    t = config.training
    metric = t.metric
    if metric == "auto":
        metric = "f1" if prep.scheme != "plain" else "accuracy"
    callbacks = []
    if config.logging.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(output / "logs")))
    reporter = Reporter(console, metric, prep.dev is not None)
    reporter.header()
    started = time.perf_counter() - state["seconds"]
    for epoch in range(state["epoch"], t.epochs):
        epoch_started = time.perf_counter()
        if t.lr_decay:
            model.optimizer.learning_rate.assign(t.learning_rate / (1 + t.lr_decay * epoch))
        seed = epoch_seed(config.seed, epoch)
        dataset = prep.dataset(t.batch_size, seed, config.data.shuffle_buffer, t.batch_tokens)
        dataset = _distribute_options(dataset, placement)
        progress = reporter.epoch(epoch + 1, t.epochs,
                                  prep.batch_tokens(t.batch_size, seed, t.batch_tokens))
        try:
            with warnings.catch_warnings():
                # Streamed batches are bucketed on the fly, so Keras cannot know the steps per
                # epoch and warns that the data "ran out" at each epoch's end: the expected end.
                warnings.filterwarnings("ignore", message=".*ran out of data.*")
                fit = model.fit(dataset, initial_epoch=epoch, epochs=epoch + 1, verbose=0,
                                shuffle=False, callbacks=[*callbacks, progress.callback])
        finally:
            train_seconds, speed = progress.close()
        row = {"epoch": epoch + 1, "loss": float(fit.history["loss"][-1])}
        improved = False
        with AveragedWeights(model, bool(t.ema)):  # scored and kept: the averages
            if prep.dev is not None:
                with reporter.scoring():
                    result = score(tagger, prep.dev)
                row[f"dev_{metric}"] = float(result[metric])
                if metric != "accuracy":
                    row["dev_accuracy"] = float(result["accuracy"])
                current = row[f"dev_{metric}"]
                improved = state["best_score"] is None or current > state["best_score"]
                if improved:
                    state.update(best_score=current, best_epoch=epoch + 1)
                    best_weights = model.get_weights()
            else:  # no dev data: the last epoch is the model
                state.update(best_epoch=epoch + 1)
                best_weights = model.get_weights()
        state["history"].append(row)
        row["tokens_per_second"] = round(speed, 1)
        row["train_seconds"] = round(train_seconds, 2)
        row["elapsed_seconds"] = round(time.perf_counter() - started, 2)
        row["epoch_seconds"] = round(time.perf_counter() - epoch_started, 2)
        state.update(epoch=epoch + 1, seconds=row["elapsed_seconds"])
        checkpoint.save_checkpoint(folder, model, state, improved or prep.dev is None)
        reporter.row(row, improved)
        if prep.dev is not None and t.patience and epoch + 1 - state["best_epoch"] >= t.patience:
            console.print(f"early stop: no dev improvement for {t.patience} epochs")
            break

    if best_weights is not None:
        model.set_weights(best_weights)
    metrics: dict = {"best_epoch": state["best_epoch"], "epochs_run": state["epoch"],
                     "seconds": round(time.perf_counter() - started, 2)}
    extras = {}
    for name, split in (("dev", prep.dev), ("test", prep.test)):
        if split is not None:
            metrics[name], predicted = score(tagger, split, keep=True)
            if name == "dev":  # what `seqlab report` shows, with no data file needed
                extras["dev_predictions"] = (split.tokens, split.labels, predicted)
                extras["attention"] = attention_examples(tagger, split.tokens, split.labels)
    distribution = placement.record()
    write_run(write_dir, config, model, metrics, state["history"],
              run_record(config, model, metrics, distribution), **extras)
    digest = weights_digest(model)
    if placement.workers > 1:  # every worker says what it ended with: they must agree
        console.print(f"{placement.task}: weights sha256 {digest}")
    return Run(output, metrics, state["history"], state["best_epoch"], digest, distribution)
