"""The run directory: the one place that knows its files' names (:class:`RunDir`, with its
``checkpoints/`` folder, :class:`Checkpoints`, and a ``--seeds`` set of runs, :class:`RunSet`)
and reads and writes them; the lock that keeps a second run out while one is writing; and
the staging of a forced run beside the run it replaces."""

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


class Checkpoints:
    """A run's ``checkpoints/`` folder: what each finished epoch leaves for resuming (written
    by :mod:`seqlab.training.checkpoint`). ``state.json`` is written last, so a folder that
    has it holds a complete checkpoint."""

    MODEL, OPTIMIZER, RNG, BEST, STATE = ("last.keras", "optimizer.npz", "rng.npz", "best.npz",
                                          "state.json")

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    model = property(lambda self: self.folder / self.MODEL)          # with the optimizer
    optimizer = property(lambda self: self.folder / self.OPTIMIZER)  # its variables, as arrays
    rng = property(lambda self: self.folder / self.RNG)              # dropout generators
    best = property(lambda self: self.folder / self.BEST)            # the best epoch's weights
    state = property(lambda self: self.folder / self.STATE)          # epoch, history, scores

    def exists(self) -> bool:
        return self.state.is_file()

    def read_state(self) -> dict:
        return json.loads(self.state.read_text(encoding="utf-8"))

    def write_state(self, state: dict) -> None:
        atomic_write(self.state, json.dumps(state, indent=1))


class RunDir:
    """The files of one run directory (what `seqlab train` writes, `seqlab report`,
    `reproduce` and ``--seeds`` read): their names, and their one reader and writer."""

    MODEL = "model.keras"
    CONFIG = "config.yaml"
    METRICS = "metrics.json"
    HISTORY = "history.csv"
    RECORD = "run.json"
    PLOT = "training.png"
    PREDICTIONS = "dev_predictions.jsonl"
    ATTENTION = "attention.json"
    REPORT = "report.html"
    CHECKPOINTS = "checkpoints"
    LOGS = "logs"
    # What `seqlab train` writes into its output directory (and so what force replaces).
    FILES = (MODEL, CONFIG, METRICS, HISTORY, RECORD, PLOT, PREDICTIONS, ATTENTION, REPORT,
             CHECKPOINTS, LOGS, LOCK)

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    model = property(lambda self: self.path / self.MODEL)
    config = property(lambda self: self.path / self.CONFIG)
    metrics = property(lambda self: self.path / self.METRICS)
    history = property(lambda self: self.path / self.HISTORY)
    record = property(lambda self: self.path / self.RECORD)
    plot = property(lambda self: self.path / self.PLOT)
    predictions = property(lambda self: self.path / self.PREDICTIONS)
    attention = property(lambda self: self.path / self.ATTENTION)
    report = property(lambda self: self.path / self.REPORT)
    logs = property(lambda self: self.path / self.LOGS)
    checkpoints = property(lambda self: Checkpoints(self.path / self.CHECKPOINTS))

    @classmethod
    def owns(cls, name: str) -> bool:
        """Whether an entry called ``name`` is one a run writes (what force replaces)."""
        return name in cls.FILES

    def has_checkpoint(self) -> bool:
        return self.checkpoints.exists()

    # -- reading ------------------------------------------------------------------------------

    def read_record(self) -> dict:
        """run.json; a damaged one is one SeqlabError naming the file and line."""
        from seqlab.paths import read_json

        return read_json(self.record, dict)

    def read_metrics(self) -> dict:
        from seqlab.paths import read_json

        return read_json(self.metrics, dict)

    def read_config_text(self) -> str:
        """config.yaml as written ("" when there is none)."""
        return self.config.read_text(encoding="utf-8") if self.config.is_file() else ""

    def read_attention(self) -> list:
        """attention.json's examples ([] when there is none)."""
        from seqlab.paths import read_json

        return read_json(self.attention, list) if self.attention.is_file() else []

    def read_history(self) -> list[dict]:
        """history.csv's rows, every value a number (``epoch`` an int, an empty field None);
        [] when there is none; a damaged file is one error naming its line."""
        path = self.history
        if not path.is_file():
            return []
        rows = []
        try:
            with open(path, newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                for row in reader:
                    line = reader.line_num
                    if None in row or None in row.values():
                        raise SeqlabError(f"{path}:{line}: expected {len(reader.fieldnames)} "
                                          f"fields ({','.join(reader.fieldnames)}); the file is "
                                          "damaged")
                    if "epoch" not in row:
                        raise SeqlabError(f"{path}:1: expected an 'epoch' column; the file is "
                                          "damaged")
                    parsed = {}
                    for key, value in row.items():
                        try:
                            parsed[key] = int(value) if key == "epoch" else \
                                (float(value) if value != "" else None)
                        except ValueError:
                            raise SeqlabError(f"{path}:{line}: {key} {value!r}: expected a "
                                              "number; the file is damaged") from None
                    rows.append(parsed)
        except UnicodeDecodeError:
            raise SeqlabError(f"{path}: not UTF-8 text; the file is damaged") from None
        except csv.Error as exc:
            raise SeqlabError(f"{path}:{reader.line_num}: {exc}; the file is damaged") from None
        return rows

    def read_predictions(self) -> list[dict]:
        """dev_predictions.jsonl: one ``{"tokens", "gold", "pred"}`` a line, the three lists of
        one length ([] when there is none); a damaged line (cut off, edited) is one error
        naming it."""
        from seqlab.paths import parse_json

        path = self.predictions
        if not path.is_file():
            return []
        predictions = []
        try:
            with open(path, encoding="utf-8") as f:
                for number, line in enumerate(f, start=1):
                    if not line.strip():
                        continue
                    p = parse_json(line, path, number, dict)
                    lists = [p.get(k) for k in ("tokens", "gold", "pred")]
                    if not all(isinstance(v, list) and all(isinstance(x, str) for x in v)
                               for v in lists) or len({len(v) for v in lists}) != 1:
                        raise SeqlabError(f"{path}:{number}: expected tokens, gold and pred: "
                                          "lists of strings of one length; the file is damaged")
                    predictions.append(p)
        except UnicodeDecodeError:
            raise SeqlabError(f"{path}: not UTF-8 text; the file is damaged") from None
        return predictions

    # -- writing ------------------------------------------------------------------------------

    def write_history(self, history: list[dict]) -> None:
        fields = sorted({k for row in history for k in row}, key=lambda k: (k != "epoch", k))
        with open(self.history, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(history)

    def write(self, config, model, metrics: dict, history: list[dict], record: dict,
              dev_predictions=None, attention=None) -> None:
        """A finished run's files; the model goes to a temporary name first. ``dev_predictions``
        (tokens, gold, predicted) and ``attention`` (examples) are kept for ``seqlab report``."""
        self.path.mkdir(parents=True, exist_ok=True)
        with interrupts_deferred():  # a run's files are whole, Ctrl-C or not
            save_model(model, self.model)
            atomic_write(self.config, config.to_yaml())
            atomic_write(self.metrics, json.dumps(metrics, indent=2) + "\n")
            self.write_history(history)
            if config.logging.plot and history:
                plot_history(self.plot, history)
            if dev_predictions is not None:
                lines = (json.dumps({"tokens": t, "gold": g, "pred": p}, ensure_ascii=False)
                         for t, g, p in zip(*dev_predictions))
                atomic_write(self.predictions, "".join(line + "\n" for line in lines))
            if attention:
                atomic_write(self.attention, json.dumps(attention, ensure_ascii=False))
            atomic_write(self.record, json.dumps(record, indent=2) + "\n")


class RunSet:
    """The files of a ``--seeds`` set: one run directory per seed (``seed-N``), the summary,
    and a copy of the model of the run with the best dev score."""

    SUMMARY = "summary.json"
    MODEL = RunDir.MODEL
    SEED = "seed-"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    summary = property(lambda self: self.path / self.SUMMARY)
    model = property(lambda self: self.path / self.MODEL)

    @classmethod
    def owns(cls, name: str) -> bool:
        """Whether ``name`` is an entry of a run set (what force replaces)."""
        return name in (cls.SUMMARY, cls.MODEL) or name.startswith(cls.SEED)

    def seed(self, seed: int) -> RunDir:
        return RunDir(self.path / f"{self.SEED}{seed}")

    def runs(self) -> list[RunDir]:
        """The seeds' run directories there are, by name."""
        return [RunDir(p) for p in sorted(self.path.glob(f"{self.SEED}*"))]

    def is_set(self) -> bool:
        return self.summary.is_file()

    def read_summary(self) -> dict:
        from seqlab.paths import read_json

        return read_json(self.summary, dict)

    def write(self, summary: dict, best: RunDir) -> None:
        """The summary, and ``best``'s model as the set's (a copy, put in place whole)."""
        tmp = self.model.with_name(Path(self.MODEL).stem + ".tmp.keras")
        shutil.copyfile(best.model, tmp)
        os.replace(tmp, self.model)
        atomic_write(self.summary, json.dumps(summary, indent=2) + "\n")


# A forced run trains beside the run it replaces, in RUN.seqlab-new, and replaces it only
# when it has finished: until then the old run stays whole, whatever happens to the new one.
STAGED = ".seqlab-new"


def has_checkpoint(path: Path) -> bool:
    return RunDir(path).has_checkpoint()


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
    check_staged(path, force, resume, RunDir.owns)
    if resume:
        if not has_checkpoint(resume_source(path)):
            raise SeqlabError(f"{path}: nothing to resume yet (no finished epoch in "
                              f"{RunDir.CHECKPOINTS}/); start the run without resuming",
                              argument="resume")
        return
    content = [p.name for p in path.iterdir() if p.name != LOCK] if path.is_dir() else []
    if content:
        if not force:
            raise SeqlabError(f"{path}: output directory already exists and is not empty",
                              argument="force")
        foreign = [name for name in content if not RunDir.owns(name)]
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


_received: list = []  # (signum, handler) of each Ctrl-C or SIGTERM under interrupts_remembered


def _remembering(handler):
    def remember(signum, frame):
        _received.append((signum, handler))
        handler(signum, frame)

    remember.raises = True
    return remember


def _raises(handler) -> bool:
    return (handler is signal.default_int_handler or handler is _raise_terminated
            or getattr(handler, "raises", False))


@contextlib.contextmanager
def interrupts_remembered():
    """Inside, each Ctrl-C (and SIGTERM under :func:`terminate_as_interrupt`) is remembered
    as well as raised, so that :func:`raise_lost_interrupt` can raise it again. Python
    swallows an exception raised while a finalizer runs (it prints "Exception ignored in
    ... __del__" and goes on), and TensorFlow's finalizers run often: a Ctrl-C that arrived
    then was lost and the run trained on. Main thread only; a signal whose handler does not
    raise (ignored, or someone else's) is left alone."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(signum)
        if _raises(handler) and not getattr(handler, "raises", False):
            held[signum] = handler
            signal.signal(signum, _remembering(handler))
    _received.clear()
    try:
        yield
    finally:
        for signum, handler in held.items():
            signal.signal(signum, handler)
        _received.clear()


def raise_lost_interrupt() -> None:
    """Raise the first Ctrl-C or SIGTERM received under :func:`interrupts_remembered` again.
    Called where a run can stop cleanly (between stages, after each batch): an interrupt that
    propagated has already ended the run, so one still remembered there was swallowed."""
    if _received:
        signum, handler = _received[0]
        handler(signum, None)


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
        if _raises(handler):
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
