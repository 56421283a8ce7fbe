"""The training loop: model, optimizer and loss from the config; :func:`train_while_improving`,
which trains one `model.fit` epoch at a time, scores it on the dev set, keeps the best weights
and stops early, yielding each epoch's result; and :func:`train`, which consumes it: the run
directory and its lock, resuming, checkpoints, the progress table, the history and the
finished run's files (as spaCy's ``train`` consumes its ``train_while_improving``). Then
:func:`reproduce`, which trains a run again and compares.

One epoch at a time so that each epoch's data order depends only on (seed, epoch): a run
resumed from its last checkpoint replays exactly what an uninterrupted run would have done,
and ends with the same weights.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from seqlab.config import Config
from seqlab.errors import Interrupted, SeqlabError
from seqlab.metrics import headline_metric
from seqlab.training import checkpoint
from seqlab.training.data import Prepared, prepare_data
from seqlab.training.progress import Reporter
from seqlab.training.record import file_digest, run_record, weights_digest
from seqlab.training.rundir import (
    Checkpoints,
    RunDir,
    RunLock,
    Terminated,
    check_output,
    has_checkpoint,
    has_content,
    interrupts_remembered,
    raise_lost_interrupt,
    remove_staged,
    replace_run,
    resume_source,
    staged,
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
    # Keras' optimizers, their weight averages warmed up (seqlab.training.optimizers).
    from seqlab.training import optimizers

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
    parts = ModelParts(model)
    if parts.fine_tuned:  # the transformer trains at its own rate
        t = config.model.transformer
        optimizer.scale_learning_rate(parts.transformer.trainable_variables,
                                      t.learning_rate / config.training.learning_rate)
    # Keras 3.15 cannot run several steps a call on a distributed dataset's iterator.
    steps = config.training.steps_per_execution if config.distribution.strategy == "none" else 1
    model.compile(optimizer=optimizer, loss=make_loss(config, parts),
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
                        reading=prep.reading.to_dict(), trainable_words=prep.trainable_words,
                        transformer=prep.transformer)
    if prep.embeddings is not None:
        ModelParts(model).set_word_vectors(prep.embeddings)
    compile_model(model, config)
    return model


def _model_sizes(config: Config, prep: Prepared) -> str:
    """The sizes that set a model's memory, as the config names them, with their values."""
    m = config.model
    sizes = [f"model.lstm.units ({m.lstm.units})", f"model.embedding.dim ({m.embedding.dim})"]
    if m.attention.enabled:
        sizes.append(f"model.attention.units ({m.attention.units})")
    if m.chars.encoder == "cnn":
        sizes.append(f"model.chars.filters ({m.chars.filters})")
    elif m.chars.encoder != "none":
        sizes.append(f"model.chars.units ({m.chars.units})")
    return ", ".join(sizes) + f" or vocab.max_size ({len(prep.vocab)} words)"


def _batch_sizes(config: Config) -> str:
    t = config.training
    return f"training.batch_size ({t.batch_size})" + (
        f", training.batch_tokens ({t.batch_tokens})" if t.batch_tokens else "")


@contextlib.contextmanager
def out_of_memory(when: str, sizes: str):
    """An out-of-memory error (the accelerator's or the host's) inside becomes one line
    naming the config sizes to lower."""
    import tensorflow as tf

    try:
        yield
    except (tf.errors.ResourceExhaustedError, MemoryError):
        raise SeqlabError(f"out of memory {when}: lower {sizes}") from None


def StopOnNonFiniteLoss():  # noqa: N802  (a Keras callback, made when Keras is imported)
    """A callback that ends the epoch at the first batch whose running loss is NaN or
    infinite: the loop then stops the run (see :func:`diverged`)."""
    import keras

    class Stop(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            loss = (logs or {}).get("loss")
            if loss is not None and not math.isfinite(float(loss)):
                self.model.stop_training = True

    return Stop()


def RaiseLostInterrupt():  # noqa: N802  (a Keras callback, made when Keras is imported)
    """A callback that raises, after a batch, a Ctrl-C or SIGTERM a finalizer swallowed."""
    import keras

    class Raise(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            raise_lost_interrupt()

    return Raise()


class Diverged(Exception):
    """The training loss of epoch ``epoch`` (1-based) is ``loss``, no longer a number."""

    def __init__(self, epoch: int, loss: float) -> None:
        super().__init__(epoch, loss)
        self.epoch, self.loss = epoch, loss


def diverged(config: Config, epoch: int, loss: float, kept_in: Checkpoints) -> SeqlabError:
    """The one line for a loss that is no longer a number: what to lower, what is kept."""
    t = config.training
    kept = (f"the last good checkpoint (epoch {kept_in.read_state()['epoch']}) stays "
            f"in {kept_in.folder}" if kept_in.exists() else "no checkpoint was written")
    clip = "" if t.clipnorm or t.global_clipnorm else " or set training.clipnorm"
    return SeqlabError(f"epoch {epoch}: the training loss is {loss} (the model diverged); "
                       f"lower training.learning_rate (now {t.learning_rate:g}){clip}; {kept}, "
                       "no model was saved")


# Sentences a batch when scoring: padding is masked, so the scores do not depend on it, and
# bigger batches tag faster than the training batch size would.
SCORING_BATCH = 128


def dev_metric(config: Config, prep: Prepared) -> str:
    """The dev score that picks the best epoch: training.metric, or (auto) the task's."""
    metric = config.training.metric
    return headline_metric(prep.scheme != "plain") if metric == "auto" else metric


def score(tagger, corpus, keep: bool = False):
    """The scores of ``corpus`` tagged by ``tagger`` (and, with ``keep``, the tags too)."""
    from seqlab.metrics import evaluate

    predicted = tagger.tag(corpus.tokens, SCORING_BATCH, corpus.documents)
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
                         "weights": view.weight_rows(),
                         "attention": view.describe()})
    return examples


def train(config: Config, output: str | Path, force: bool = False, resume: bool = False,
          console: Console | None = None, *, callbacks: Sequence = (),
          on_epoch: Callable[[Epoch], None] | None = None) -> Run:
    """Train the model a config describes and write the run into `output`.

    The chief holds a lock on `output` while it trains, so a second run into the same
    directory is refused. Everything is read and checked (config, data, vectors, vocabularies)
    before anything is written. With `force` over an existing run, the new run trains beside
    it in `OUTPUT.seqlab-new` (locked too) and replaces the old run's files only when it has
    finished: a new run that fails or is interrupted leaves the old run whole, and `resume`
    continues the new one there. Under `distribution.strategy: multi_worker` every worker
    calls this with the same config and output; only the chief writes `output` (the others
    write into a temporary directory, deleted at the end), and on `resume` every worker reads
    the chief's checkpoints.

    Two hooks for Python callers (the command line sets neither): ``callbacks``, Keras
    callbacks added to each epoch's ``model.fit`` (``self.model`` is the model in training;
    ``on_epoch_begin`` gets the epoch counted from 0); ``on_epoch``, called with each finished
    :class:`Epoch` once its checkpoint is written, before the next epoch starts. A
    KeyboardInterrupt raised in either ends the run as Ctrl-C does, so ``on_epoch`` raising it
    leaves a run that ``resume`` continues after that epoch; other exceptions propagate.

    Raises SeqlabError for bad data, an occupied directory, a diverging loss or too little
    memory; Interrupted on Ctrl-C or SIGTERM (the last finished epoch's checkpoint stays
    usable for resuming).
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
    elif resume and not has_checkpoint(resume_source(output)):
        raise SeqlabError(f"{output}: nothing to resume yet (no finished epoch in "
                          f"{RunDir.CHECKPOINTS}/); every worker reads the chief's checkpoints "
                          "there", argument="resume")
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
    hooks = Hooks(tuple(callbacks), on_epoch)
    previous_policy = keras.config.dtype_policy().name
    from seqlab.precision import resolve_training

    keras.config.set_dtype_policy(resolve_training(config.training.precision))  # auto: by CPU
    write_dir = output
    try:
        with interrupts_remembered(), \
                RunLock(output) if placement.chief else contextlib.nullcontext():
            # Read and check everything before the old run (if any) is touched.
            prep = prepare_data(config, console.print, console=console)
            digests = data_digests(config)
            raise_lost_interrupt()
            source = resume_source(output) if resume else output  # the checkpoints read
            if not placement.chief:
                write_dir = Path(tempfile.mkdtemp(
                    prefix=f"seqlab-{placement.task.replace(':', '')}-"))
                return _train(config, prep, digests, source, write_dir, resume, console,
                              placement, hooks)
            if not resume:  # an abandoned forced run beside it (check_output checked it)
                remove_staged(output)
            if resume and source == output or not resume and not has_content(output):
                return _train(config, prep, digests, output, output, resume, console,
                              placement, hooks)
            # A forced run over an old one, or the resumption of one: beside the old run.
            write_dir = staged(output)
            return _train_staged(config, prep, digests, output, write_dir, resume, console,
                                 placement, hooks)
    except KeyboardInterrupt as stop:
        # The last complete checkpoint (state.json is written last) is what a resume gets.
        saved = RunDir(write_dir if placement.chief else output).checkpoints
        done = saved.read_state()["epoch"] if saved.exists() else 0
        how = "terminated (SIGTERM)" if isinstance(stop, Terminated) else "interrupted"
        when = f"after epoch {done}" if done else "before the first epoch ended"
        kept = ""
        if write_dir != output and placement.chief:
            kept = (f" ({output} keeps the previous run until this one finishes; its "
                    f"checkpoints are in {write_dir})" if done else
                    f" ({output} keeps the previous run)")
        interrupted = Interrupted(done, output, f"{how} {when}{kept}")
        interrupted.terminated = isinstance(stop, Terminated)
        raise interrupted from None
    finally:
        keras.config.set_dtype_policy(previous_policy)
        if not placement.chief and write_dir != output:
            shutil.rmtree(write_dir, ignore_errors=True)


def data_digests(config: Config) -> dict[str, str]:
    """The sha256 of each data file a run reads (train, dev, test), by key."""
    return {key: file_digest(path) for key in ("train", "dev", "test")
            if (path := getattr(config.data, key))}


def _train_staged(config: Config, prep: Prepared, digests: dict, output: Path, new: Path,
                  resume: bool, console: Console, placement, hooks: Hooks) -> Run:
    """Train (or resume) in ``new`` beside the run in ``output``, then replace that run's
    files with the new ones. A failure leaves ``output`` as it was, and ``new`` only when it
    holds a checkpoint to resume from (the message says where)."""
    finished = False
    try:
        with RunLock(new):
            run = _train(config, prep, digests, new, new, resume, console, placement, hooks)
            replace_run(output, new, RunDir.owns)
            finished = True
    except SeqlabError as exc:
        if has_checkpoint(new):
            raise SeqlabError(f"{exc} ({output} keeps the previous run; the new run's last "
                              f"checkpoint is in {new})", exc.argument) from None
        raise SeqlabError(f"{exc} ({output} keeps the previous run)", exc.argument) from None
    finally:
        if finished or not has_checkpoint(new):
            shutil.rmtree(new, ignore_errors=True)
    run.output = output
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


@dataclass(frozen=True)
class Hooks:
    """What a Python caller of :func:`train` adds to a run (see its ``callbacks`` and
    ``on_epoch``)."""

    callbacks: tuple = ()
    on_epoch: Callable[[Epoch], None] | None = None


@dataclass
class Epoch:
    """One finished epoch, as :func:`train_while_improving` yields it."""

    row: dict          # its history row: epoch (1-based), loss, dev scores, timings
    best: list | None  # its weights as scored (the averages under EMA) when they are the best
    #                    so far (every epoch's are, without dev data), else None
    stop: str = ""     # why training ends after it (early stopping), else ""

    @property
    def improved(self) -> bool:
        return self.best is not None


def train_while_improving(model, tagger, config: Config, prep: Prepared, state: dict,
                          placement, reporter: Reporter, callbacks: list, started: float,
                          best: list | None = None) -> Iterator[Epoch]:
    """Train from epoch ``state["epoch"]`` to training.epochs, one `model.fit` epoch at a time,
    score each on the dev set (with the weight averages, under training.ema) and yield its
    :class:`Epoch`; stop after training.patience epochs without a better dev score.

    ``state`` (what a checkpoint keeps) is advanced here: epoch, seconds (since ``started``),
    best_score, best_epoch; the history, checkpoints and the table are the consumer's, done
    between two epochs. ``reporter`` shows the progress inside an epoch. When the loop ends,
    the model holds the best epoch's weights (``best``: a resumed run's best so far).

    Raises Diverged when the training loss is no longer a number, SeqlabError when memory
    runs out.
    """
    t = config.training
    metric = dev_metric(config, prep)
    sizes = _batch_sizes(config) + ", " + _model_sizes(config, prep)
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
            with warnings.catch_warnings(), out_of_memory(f"in epoch {epoch + 1}", sizes):
                # Streamed batches are bucketed on the fly, so Keras cannot know the steps per
                # epoch and warns that the data "ran out" at each epoch's end: the expected end.
                warnings.filterwarnings("ignore", message=".*ran out of data.*")
                fit = model.fit(dataset, initial_epoch=epoch, epochs=epoch + 1, verbose=0,
                                shuffle=False, callbacks=[*callbacks, progress.callback,
                                                          StopOnNonFiniteLoss(),
                                                          RaiseLostInterrupt()])
        finally:
            train_seconds, speed = progress.close()
        row = {"epoch": epoch + 1, "loss": float(fit.history["loss"][-1])}
        if not math.isfinite(row["loss"]):
            raise Diverged(epoch + 1, row["loss"])
        improved = None  # this epoch's weights, when they are the best so far
        with AveragedWeights(model, bool(t.ema)), \
                out_of_memory(f"scoring epoch {epoch + 1}", sizes):  # scored, kept: averages
            if prep.dev is not None:
                with reporter.scoring():
                    result = score(tagger, prep.dev)
                row[f"dev_{metric}"] = float(result[metric])
                if metric != "accuracy":
                    row["dev_accuracy"] = float(result["accuracy"])
                current = row[f"dev_{metric}"]
                if state["best_score"] is None or current > state["best_score"]:
                    state.update(best_score=current, best_epoch=epoch + 1)
                    best = improved = model.get_weights()
            else:  # no dev data: the last epoch is the model
                state.update(best_epoch=epoch + 1)
                best = improved = model.get_weights()
        row["tokens_per_second"] = round(speed, 1)
        row["train_seconds"] = round(train_seconds, 2)
        row["elapsed_seconds"] = round(time.perf_counter() - started, 2)
        row["epoch_seconds"] = round(time.perf_counter() - epoch_started, 2)
        state.update(epoch=epoch + 1, seconds=row["elapsed_seconds"])
        stop = ""
        if prep.dev is not None and t.patience and epoch + 1 - state["best_epoch"] >= t.patience:
            stop = f"no dev improvement for {t.patience} epochs"
        yield Epoch(row, improved, stop)
        if stop:
            break
    if best is not None:
        model.set_weights(best)


def _start(config: Config, prep: Prepared, digests: dict, source: RunDir, resume: bool,
           console: Console, placement):
    """The model, the loop's state and the best weights so far to start from: a new model,
    or (``resume``) the last checkpoint in ``source``, made with the same config and data."""
    import keras

    from seqlab.compat import build_before_fit

    seed_everything(config.seed)
    strategy = placement.strategy
    state = {"epoch": 0, "history": [], "best_score": None, "best_epoch": 0,
             "config_sha256": config.sha256(), "data_sha256": digests, "seconds": 0.0}
    kept = source.checkpoints
    if resume:
        state = kept.read_state()
        if state.get("config_sha256") != config.sha256():
            raise SeqlabError(f"{source.path}: the checkpoint was made with another config; "
                              "resume with the same config and overrides")
        for key, digest in (state.get("data_sha256") or {}).items():
            if digests.get(key) != digest:
                raise SeqlabError(f"{getattr(config.data, key)}: data.{key} changed since the "
                                  f"run in {source.path} started (its sha256 is not the "
                                  "checkpoint's); resume with the same data, or start again "
                                  "with --force")
        with strategy.scope():  # variables are made where the strategy places them
            model = keras.models.load_model(kept.model, compile=False)
            compile_model(model, config)
            model.optimizer.build(model.trainable_variables)
        checkpoint.restore(kept, model)
        console.print(f"resuming after epoch {state['epoch']}")
    else:
        with strategy.scope(), out_of_memory("while building the model",
                                             _model_sizes(config, prep)):
            model = build_compiled(config, prep)
    if placement.replicas > 1:
        build_before_fit(model, next(iter(prep.dataset(1, seed=0).take(1))))
    best = checkpoint.best_weights(kept) if resume and state["best_epoch"] else None
    return model, state, best


def _train(config: Config, prep: Prepared, digests: dict, output: Path, write_dir: Path,
           resume: bool, console: Console, placement, hooks: Hooks) -> Run:
    """A run: `output` holds the checkpoints a resumed run reads; `write_dir` gets what this
    process writes (`output` itself, except on a worker that is not the chief). `digests`:
    the data files' sha256, kept in each checkpoint and in run.json. What
    :func:`train_while_improving` yields goes to the checkpoints, the table and the
    history; then to ``hooks.on_epoch``."""
    import keras

    from seqlab.tagger import Tagger

    run = RunDir(write_dir)
    model, state, best = _start(config, prep, digests, RunDir(output), resume, console,
                                placement)
    raise_lost_interrupt()
    tagger = Tagger(model)
    if prep.features:  # dev and test: the frozen pass made them once; not again each epoch
        tagger.feature_cache.update(prep.features)
    callbacks = list(hooks.callbacks)
    if config.logging.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(run.logs)))
    reporter = Reporter(console, dev_metric(config, prep), prep.dev is not None)
    reporter.header()
    started = time.perf_counter() - state["seconds"]
    try:
        for epoch in train_while_improving(model, tagger, config, prep, state, placement,
                                           reporter, callbacks, started, best):
            state["history"].append(epoch.row)
            checkpoint.save_checkpoint(run.checkpoints, model, state, epoch.best)
            reporter.row(epoch.row, epoch.improved)
            if epoch.stop:
                console.print(f"early stop: {epoch.stop}")
            if hooks.on_epoch is not None:
                hooks.on_epoch(epoch)
            raise_lost_interrupt()
    except Diverged as exc:
        raise diverged(config, exc.epoch, exc.loss, run.checkpoints) from None

    metrics: dict = {"best_epoch": state["best_epoch"], "epochs_run": state["epoch"],
                     "seconds": round(time.perf_counter() - started, 2)}
    if prep.dev is not None:  # one temperature for the scores, saved in model.keras
        from seqlab.confidence import calibrate_tagger, describe_calibration

        metrics["calibration"] = calibrate_tagger(tagger, prep.dev, prep.test, SCORING_BATCH)
        console.print(f"calibration: {describe_calibration(metrics['calibration'])}")
    extras = {}
    for name, split in (("dev", prep.dev), ("test", prep.test)):
        if split is not None:
            metrics[name], predicted = score(tagger, split, keep=True)
            if name == "dev":  # what `seqlab report` shows, with no data file needed
                extras["dev_predictions"] = (split.tokens, split.labels, predicted)
                extras["attention"] = attention_examples(tagger, split.tokens, split.labels)
    raise_lost_interrupt()  # before the run's files replace anything
    distribution = placement.record()
    if model.dtype_policy.name != "float32":  # model.keras computes in float32 when loaded
        from seqlab.precision import set_compute_precision

        set_compute_precision(model, "float32")
    run.write(config, model, metrics, state["history"],
              run_record(config, model, metrics, distribution, digests), **extras)
    digest = weights_digest(model)
    if placement.workers > 1:  # every worker says what it ended with: they must agree
        console.print(f"{placement.task}: weights sha256 {digest}")
    return Run(output, metrics, state["history"], state["best_epoch"], digest, distribution)


# What `reproduce` compares of run.json.
COMPARED = ("data_sha256", "config_sha256", "weights_sha256", "best_epoch", "epochs_run",
            "metrics")


def reproduce(run_dir: str | Path, console=None) -> list[str]:
    """Retrain DIR/config.yaml into a temporary directory; return how the result differs from
    DIR/run.json (an empty list when weights and metrics are identical)."""
    from seqlab.config import load_config

    run = RunDir(run_dir)
    for path in (run.config, run.record):
        if not path.is_file():
            raise SeqlabError(f"{run.path}: not a seqlab run directory (no {path.name})")
    before = run.read_record()  # damaged: one line naming file:line
    config = load_config(run.config)
    with tempfile.TemporaryDirectory(prefix="seqlab-reproduce-") as tmp:
        train(config, Path(tmp) / "run", console=console)
        after = RunDir(Path(tmp) / "run").read_record()
    return [f"{key}: {json.dumps(before.get(key))[:200]} -> {json.dumps(after.get(key))[:200]}"
            for key in COMPARED if before.get(key) != after.get(key)]
