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
import tempfile
import threading
from pathlib import Path

from seqlab.errors import SeqlabError

LOCK = ".seqlab.lock"
CHECKPOINTS = "checkpoints"
# What `seqlab train` writes into its output directory (and so what force replaces).
RUN_FILES = ("model.keras", "config.yaml", "metrics.json", "history.csv", "run.json",
             "training.png", "dev_predictions.jsonl", "attention.json", "report.html",
             CHECKPOINTS, "logs", LOCK)


# A forced run trains beside the run it replaces, in RUN.seqlab-new, and replaces it only
# when it has finished: until then the old run stays whole, whatever happens to the new one.
STAGED = ".seqlab-new"


def has_checkpoint(path: Path) -> bool:
    return (Path(path) / CHECKPOINTS / "state.json").is_file()


def staged(path: Path) -> Path:
    """Where a forced run into ``path`` trains until it replaces the run there: beside it."""
    path = Path(os.path.abspath(path))
    return path.with_name(path.name + STAGED)


def has_content(path: Path) -> bool:
    """Whether ``path`` is a directory holding anything but the lock."""
    path = Path(path)
    return path.is_dir() and any(p.name != LOCK for p in path.iterdir())


def resume_source(path: Path) -> Path:
    """The directory whose checkpoints ``--resume`` of ``path`` reads: an interrupted forced
    run's (beside ``path``) when there is one, else ``path``'s own."""
    return staged(path) if has_checkpoint(staged(path)) else Path(path)


def check_staged(path: Path, force: bool, resume: bool, is_ours) -> None:
    """Refuse to start a new run into ``path`` (neither ``force`` nor ``resume``) while an
    interrupted forced run of it waits beside it, or one that is still running; refuse to
    touch a sibling holding files that ``is_ours(name)`` does not claim."""
    new = staged(path)
    if not new.exists():
        return
    if not new.is_dir():
        raise SeqlabError(f"{new}: exists and is not a directory; seqlab trains a forced run "
                          f"of {Path(path).name} there: move it away")
    pid = is_locked(new)
    if pid is not None:
        raise _busy(new, pid)
    foreign = [p.name for p in new.iterdir() if p.name != LOCK and not is_ours(p.name)]
    if foreign:
        raise SeqlabError(f"{new}: holds {', '.join(sorted(foreign)[:3])}, which is not a "
                          f"seqlab run; seqlab trains a forced run of {Path(path).name} there: "
                          "move it away")
    if not force and not resume and has_content(new):
        raise SeqlabError(f"{new}: holds an unfinished forced run of {path}; continue it with "
                          "--resume, or start again with --force")


def remove_staged(path: Path) -> None:
    """Remove an abandoned forced run beside ``path`` (checked by :func:`check_staged`)."""
    new = staged(path)
    if new.is_dir():
        shutil.rmtree(new)


def replace_run(target: Path, new: Path, is_old) -> None:
    """Put what ``new`` holds in place of the entries of ``target`` that ``is_old(name)``
    claims (the old run): those move aside, ``new``'s entries move in (renames, with Ctrl-C
    and SIGTERM held), then the old ones are deleted. ``target`` and its lock stay."""
    target, new = Path(target), Path(new)
    trash = Path(tempfile.mkdtemp(prefix=f"{target.name}.seqlab-old-", dir=target.parent))
    try:
        with interrupts_deferred():
            for entry in list(target.iterdir()):
                if entry.name != LOCK and is_old(entry.name):
                    os.replace(entry, trash / entry.name)
            for entry in list(new.iterdir()):
                if entry.name != LOCK:
                    os.replace(entry, target / entry.name)
    finally:
        shutil.rmtree(trash, ignore_errors=True)


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
    from seqlab.paths import check_output_dir

    check_output_dir(path)  # /proc/run, a read-only disk: one line before the slow work
    pid = is_locked(path)
    if pid is not None:
        raise _busy(path, pid)
    check_staged(path, force, resume, lambda name: name in RUN_FILES)
    if resume:
        if not has_checkpoint(resume_source(path)):
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


class Terminated(KeyboardInterrupt):
    """SIGTERM (schedulers, ``docker stop``, ``kill``), raised where Ctrl-C raises
    KeyboardInterrupt so that a run ends the same way: checkpoint complete, resume command."""


def _raise_terminated(signum, frame):
    raise Terminated


@contextlib.contextmanager
def terminate_as_interrupt():
    """Inside, SIGTERM raises :class:`Terminated` (a KeyboardInterrupt); SIGINT is left as it
    is (a background job ignores it, and keeps ignoring it). Main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


@contextlib.contextmanager
def interrupts_deferred():
    """Hold Ctrl-C (and SIGTERM under :func:`terminate_as_interrupt`) until the files written
    inside are complete, then raise it. Interrupted mid-write, ``np.savez`` or ``model.save``
    close their zip archive with a different error (Python's ``zipfile``: "Can't close the
    ZIP file while there is an open writing handle") that hides the KeyboardInterrupt, so
    Ctrl-C at that moment printed a traceback instead of the one-line "interrupted" message.
    Changes nothing outside the main thread, nor for a signal whose handler is not one that
    raises (ignored, or someone else's)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held, caught = {}, []
    for signum in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(signum)
        if handler is signal.default_int_handler or handler is _raise_terminated:
            held[signum] = handler
            signal.signal(signum, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        for signum, handler in held.items():
            signal.signal(signum, handler)
    if caught:
        held[caught[0]](caught[0], None)


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
