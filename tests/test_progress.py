"""What a user watches while training: a progress bar on a terminal, a plain line at most
every interval elsewhere, and the epoch rows (seconds and tokens/s of the epoch)."""

import io

import numpy as np
from rich.console import Console

from seqlab.training.progress import Reporter


def run_epoch(console, interval, batches=5):
    reporter = Reporter(console, "f1", has_dev=False, plain_interval=interval)
    reporter.header()
    progress = reporter.epoch(1, 3, np.full(batches, 100))
    for batch in range(batches):
        progress.batch_done(batch, 0.5 - 0.01 * batch)
    seconds, speed = progress.close()
    reporter.row({"epoch": 1, "loss": 0.46, "epoch_seconds": seconds,
                  "tokens_per_second": speed, "elapsed_seconds": seconds}, improved=True)
    return progress


def test_without_a_terminal_progress_is_a_plain_line_at_most_every_interval():
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=120)
    run_epoch(console, interval=3600)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2  # header and row: no progress line within the interval
    assert lines[0].split() == ["epoch", "loss", "dev", "seconds", "tokens/s", "elapsed"]
    # no dev data: a dash, not nan, and no best-epoch mark
    assert lines[1].split()[:3] == ["1", "0.4600", "-"] and "*" not in lines[1]
    out = io.StringIO()
    progress = run_epoch(Console(file=out, force_terminal=False, width=120), interval=0)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 + 5
    assert lines[1].startswith("epoch 1/3: 1/5 batches, ") and "loss 0.5000" in lines[1]
    assert "tokens/s" in lines[5] and "left" in lines[4]
    assert progress.tokens == 500
    assert "\x1b[" not in out.getvalue()  # no terminal codes in a log file


def test_on_a_terminal_a_progress_bar():
    out = io.StringIO()
    run_epoch(Console(file=out, force_terminal=True, width=150), interval=0)
    text = out.getvalue()
    assert "epoch 1/3" in text and "5/5" in text and "batches" in text and "elapsed" in text
    assert "\x1b[" in text


def test_batches_reported_in_steps_of_several_never_pass_the_total():
    """With steps_per_execution, Keras reports every few batches, and the last report of an
    epoch names the batch that would end its last full group (batch 15 of 10 for groups of 8)."""
    out = io.StringIO()
    reporter = Reporter(Console(file=out, force_terminal=False, width=120), "f1",
                        has_dev=False, plain_interval=0)
    progress = reporter.epoch(1, 3, np.full(10, 100))
    progress.batch_done(7, 0.5)
    assert progress.done == 8 and progress.tokens == 800
    progress.batch_done(15, 0.4)
    assert progress.done == 10 and progress.tokens == 1000
    assert out.getvalue().splitlines()[-1].startswith("epoch 1/3: 10/10 batches, ")
