"""The run directory: what `seqlab train` writes there, the lock that keeps a second run out
while one is writing, and the files of a finished run."""

from __future__ import annotations

import contextlib
import csv
import fcntl
import json
import os
import shutil
import signal
import threading
from pathlib import Path

from seqlab.errors import SeqlabError

LOCK = ".seqlab.lock"
CHECKPOINTS = "checkpoints"
# What `seqlab train` writes into its output directory (and so what force replaces).
RUN_FILES = ("model.keras", "config.yaml", "metrics.json", "history.csv", "run.json",
             "training.png", "dev_predictions.jsonl", "attention.json", "report.html",
             CHECKPOINTS, "logs", LOCK)


def has_checkpoint(path: Path) -> bool:
    return (Path(path) / CHECKPOINTS / "state.json").is_file()


def is_locked(path: Path) -> int | None:
    """The pid of the run writing ``path`` (0 when unknown), or None when no run holds it."""
    lock = Path(path) / LOCK
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            return int(os.read(fd, 32).decode().strip() or 0)
        except ValueError:
            return 0
    finally:
        os.close(fd)
    return None


def _busy(path: Path, pid: int) -> SeqlabError:
    who = f" (pid {pid})" if pid else ""
    return SeqlabError(f"{path}: another seqlab train{who} is writing this directory; wait for "
                       "it to finish or choose another output directory")


def check_output(path: Path, force: bool = False, resume: bool = False) -> None:
    """Refuse an output directory a run cannot write: one another run is writing, an
    existing run (unless ``force`` or ``resume``), a directory holding other files (even with
    ``force``), or nothing to resume."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise SeqlabError(f"{path}: exists and is not a directory")
    pid = is_locked(path)
    if pid is not None:
        raise _busy(path, pid)
    if resume:
        if not has_checkpoint(path):
            raise SeqlabError(f"{path}: nothing to resume yet (no finished epoch in "
                              f"{CHECKPOINTS}/); start the run without resuming",
                              argument="resume")
        return
    content = [p.name for p in path.iterdir() if p.name != LOCK] if path.is_dir() else []
    if content:
        if not force:
            raise SeqlabError(f"{path}: output directory already exists and is not empty",
                              argument="force")
        foreign = [name for name in content if name not in RUN_FILES]
        if foreign:
            raise SeqlabError(f"{path}: only a seqlab run is replaced, but the directory also "
                              f"holds {', '.join(sorted(foreign)[:3])}")


class RunLock:
    """An exclusive lock on a run directory while a run writes it (``with RunLock(path):``).

    The lock is ``flock`` on ``path/.seqlab.lock``: the kernel drops it when the process ends,
    so a killed run never leaves the directory stuck. A directory the lock created and the
    run left empty (it failed before writing anything) is removed again.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.fd: int | None = None
        self.created = False

    def __enter__(self) -> RunLock:
        self.created = not self.path.exists()
        self.path.mkdir(parents=True, exist_ok=True)
        lock = self.path / LOCK
        while True:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise _busy(self.path, is_locked(self.path) or 0) from None
            try:  # the file we locked may have been removed by a run that just ended
                if os.fstat(fd).st_ino == os.stat(lock).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self.fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            try:
                os.unlink(self.path / LOCK)
            except FileNotFoundError:
                pass
            os.close(self.fd)  # releases the lock
            self.fd = None
            if self.created:
                with contextlib.suppress(OSError):
                    self.path.rmdir()  # only when empty


def clear_run(path: Path) -> None:
    """Remove an old run's files (force): never anything else, never the lock."""
    for name in RUN_FILES:
        target = Path(path) / name
        if name == LOCK:
            continue
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()


@contextlib.contextmanager
def interrupts_deferred():
    """Hold Ctrl-C until the files written inside are complete, then raise it. Interrupted
    mid-write, ``np.savez`` or ``model.save`` close their zip archive with a different error
    (Python's ``zipfile``: "Can't close the ZIP file while there is an open writing handle")
    that hides the KeyboardInterrupt, so Ctrl-C at that moment printed a traceback instead
    of the one-line "interrupted" message. Changes nothing outside the main thread or when
    SIGINT is not Python's default handler (ignored, or someone else's)."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    caught = []
    signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if caught:
        raise KeyboardInterrupt


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def save_model(model, path: Path) -> None:
    """``model.save`` to a temporary name first, so a crash never leaves half a model."""
    tmp = path.with_name(path.stem + ".tmp.keras")
    model.save(tmp)
    os.replace(tmp, path)


def write_history(path: Path, history: list[dict]) -> None:
    fields = sorted({k for row in history for k in row}, key=lambda k: (k != "epoch", k))
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(history)


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


def write_run(output: Path, config, model, metrics: dict, history: list[dict],
              record: dict, dev_predictions=None, attention=None) -> None:
    """A finished run's files; the model goes to a temporary name first. ``dev_predictions``
    (tokens, gold, predicted) and ``attention`` (examples) are kept for ``seqlab report``."""
    output.mkdir(parents=True, exist_ok=True)
    with interrupts_deferred():  # a run's files are whole, Ctrl-C or not
        save_model(model, output / "model.keras")
        atomic_write(output / "config.yaml", config.to_yaml())
        atomic_write(output / "metrics.json", json.dumps(metrics, indent=2) + "\n")
        write_history(output / "history.csv", history)
        if config.logging.plot and history:
            plot_history(output / "training.png", history)
        if dev_predictions is not None:
            lines = (json.dumps({"tokens": t, "gold": g, "pred": p}, ensure_ascii=False)
                     for t, g, p in zip(*dev_predictions))
            atomic_write(output / "dev_predictions.jsonl", "".join(line + "\n" for line in lines))
        if attention:
            atomic_write(output / "attention.json", json.dumps(attention, ensure_ascii=False))
        atomic_write(output / "run.json", json.dumps(record, indent=2) + "\n")
