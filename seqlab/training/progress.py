"""What a user watches while a run trains, on stderr: a Rich progress bar inside each epoch
(batches done of total, tokens/s, running loss, elapsed and remaining time) and a spinner
while the dev set is scored, on a terminal; without one (CI, a log file), one plain line at
most every 30 seconds. Then the epoch's row: loss, dev score, seconds, tokens/s."""

from __future__ import annotations

import contextlib
import time

import numpy as np

PLAIN_INTERVAL = 30.0  # seconds between plain progress lines


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60:02d}:{seconds % 60:02d}"


def _batch_callback(epoch_progress):
    """A Keras callback that tells ``epoch_progress`` of each finished batch."""
    import keras

    class BatchCallback(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            epoch_progress.batch_done(batch, (logs or {}).get("loss"))

    return BatchCallback()


class EpochProgress:
    """One epoch's progress. ``batch_tokens``: real tokens of each batch in order (None when
    the number of batches is not known in advance, as when streaming)."""

    def __init__(self, console, epoch: int, epochs: int, batch_tokens, plain_interval: float):
        self.console, self.epoch, self.epochs = console, epoch, epochs
        self.cumulative = np.cumsum(batch_tokens) if batch_tokens is not None else None
        self.total = len(batch_tokens) if batch_tokens is not None else None
        self.started = time.perf_counter()
        self.plain_interval = plain_interval
        self.last_line = self.started
        self.done = 0
        self.loss = None
        self.bar = None
        self._callback = None
        if console.is_terminal and not console.quiet:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn(f"epoch {epoch}/{epochs}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("batches"), TextColumn("{task.fields[speed]}"),
                TextColumn("loss {task.fields[loss]}"), TextColumn("elapsed"),
                TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
                console=console, transient=True)
            self.task = self.bar.add_task("train", total=self.total, speed="", loss="-")
            self.bar.start()

    @property
    def callback(self):
        if self._callback is None:
            self._callback = _batch_callback(self)
        return self._callback

    @property
    def tokens(self) -> int:
        if self.cumulative is None or not self.done:
            return 0
        return int(self.cumulative[min(self.done, len(self.cumulative)) - 1])

    def speed(self) -> float:
        elapsed = time.perf_counter() - self.started
        return self.tokens / elapsed if elapsed > 0 else 0.0

    def batch_done(self, batch: int, loss) -> None:
        # Keras reports every steps_per_execution-th batch, the last of an epoch rounded up.
        self.done = min(batch + 1, self.total) if self.total else batch + 1
        if loss is not None:
            self.loss = float(loss)
        loss_text = f"{self.loss:.4f}" if self.loss is not None else "-"
        speed = f"{self.speed():,.0f} tokens/s" if self.cumulative is not None else ""
        if self.bar is not None:
            self.bar.update(self.task, completed=self.done, speed=speed, loss=loss_text)
            return
        now = time.perf_counter()
        if now - self.last_line >= self.plain_interval:
            self.last_line = now
            elapsed = now - self.started
            where = f"{self.done}/{self.total} batches" if self.total else f"{self.done} batches"
            left = ""
            if self.total and self.done:
                left = f", {_clock(elapsed * (self.total - self.done) / self.done)} left"
            self.console.print(f"epoch {self.epoch}/{self.epochs}: {where}, {speed or '-'}, "
                               f"loss {loss_text}, {_clock(elapsed)} elapsed{left}",
                               highlight=False)

    def close(self) -> tuple[float, float]:
        """(seconds, tokens/s) of the epoch's training."""
        if self.bar is not None:
            self.bar.stop()
        seconds = time.perf_counter() - self.started
        return seconds, (self.tokens / seconds if seconds > 0 else 0.0)


class Reporter:
    """The run's console output: the header, each epoch's progress and row."""

    def __init__(self, console, metric: str, has_dev: bool,
                 plain_interval: float = PLAIN_INTERVAL) -> None:
        self.console, self.metric, self.has_dev = console, metric, has_dev
        self.plain_interval = plain_interval

    def header(self) -> None:
        dev = f"dev {self.metric}" if self.has_dev else "dev"
        self.console.print(f"{'epoch':>5} {'loss':>9} {dev:>12} {'seconds':>8} "
                           f"{'tokens/s':>9} {'elapsed':>8}", highlight=False)

    def epoch(self, epoch: int, epochs: int, batch_tokens) -> EpochProgress:
        return EpochProgress(self.console, epoch, epochs, batch_tokens, self.plain_interval)

    @contextlib.contextmanager
    def scoring(self, what: str = "dev"):
        if self.console.is_terminal and not self.console.quiet:
            with self.console.status(f"scoring the {what} set"):
                yield
        else:
            yield

    def row(self, row: dict, improved: bool) -> None:
        score = row.get(f"dev_{self.metric}")
        dev = f"{score:12.2f}" if score is not None else f"{'-':>12}"
        mark = " *" if improved and score is not None else ""
        self.console.print(f"{row['epoch']:>5} {row['loss']:>9.4f} {dev} "
                           f"{row['epoch_seconds']:>8.1f} {row['tokens_per_second']:>9,.0f} "
                           f"{_clock(row['elapsed_seconds']):>8}{mark}", highlight=False)


@contextlib.contextmanager
def pass_progress(console, what: str, plain_interval: float = PLAIN_INTERVAL):
    """Progress of a pass over sentences outside training (a frozen transformer's features):
    yields ``update(done, total)``; a Rich bar on a terminal, else a plain line at most every
    ``plain_interval`` seconds, on ``console`` (stderr). None: no progress shown."""
    if console is None or console.quiet:
        yield lambda done, total: None
        return
    started = time.perf_counter()
    if console.is_terminal:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        bar = Progress(TextColumn(what), BarColumn(), MofNCompleteColumn(),
                       TextColumn("sentences"), TextColumn("elapsed"), TimeElapsedColumn(),
                       TextColumn("left"), TimeRemainingColumn(), console=console,
                       transient=True)
        task = bar.add_task(what, total=None)
        with bar:
            yield lambda done, total: bar.update(task, completed=done, total=total)
        return
    last = [started]

    def update(done: int, total: int) -> None:
        now = time.perf_counter()
        if now - last[0] >= plain_interval:
            last[0] = now
            elapsed = now - started
            left = _clock(elapsed * (total - done) / done) if done else "-"
            console.print(f"{what}: {done}/{total} sentences, {_clock(elapsed)} elapsed, "
                          f"{left} left", highlight=False)

    yield update
