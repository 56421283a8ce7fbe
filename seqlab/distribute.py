"""Where training runs: one device, every local device, or several machines.

`distribution.strategy` in the config picks a `tf.distribute` strategy:

* ``none``: TensorFlow's default strategy (one device), exactly as before;
* ``mirrored``: `tf.distribute.MirroredStrategy` over the local devices (the GPUs, else the
  CPU; ``SEQLAB_CPU_DEVICES=N`` splits the CPU into N logical devices, so data parallelism can
  be tried and tested on a machine without accelerators);
* ``multi_worker``: `tf.distribute.MultiWorkerMirroredStrategy`, the cluster read from the
  standard ``TF_CONFIG`` environment variable, one process per machine.

``training.batch_size`` is the global batch: each step's batch is split between the replicas.

Only the chief writes the run directory. The chief is the task of type ``chief`` when the
cluster has one, else worker 0; the other workers write into a temporary directory that is
deleted at the end (TensorFlow's usual pattern).

Everything here that reads only the environment (`cluster_from_env`, `is_chief_from_env`) is
plain Python, so the CLI can decide before TensorFlow is imported.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from seqlab.compat import fix_multi_worker_logs
from seqlab.errors import SeqlabError

CPU_DEVICES_VARIABLE = "SEQLAB_CPU_DEVICES"


def cluster_from_env() -> dict | None:
    """The parsed ``TF_CONFIG`` ({"cluster": ..., "task": ...}), or None when it is unset."""
    text = os.environ.get("TF_CONFIG", "").strip()
    if not text:
        return None
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SeqlabError(f"TF_CONFIG: not valid JSON ({exc.msg} at character {exc.pos})"
                          ) from None
    if not isinstance(spec, dict) or not isinstance(spec.get("cluster"), dict):
        raise SeqlabError('TF_CONFIG: expected {"cluster": {"worker": ["host:port", ...]}, '
                          '"task": {"type": "worker", "index": I}}')
    task = spec.get("task") or {}
    kind, index = task.get("type"), task.get("index", 0)
    jobs = spec["cluster"]
    if kind not in jobs or not isinstance(index, int) or not 0 <= index < len(jobs[kind]):
        raise SeqlabError(f"TF_CONFIG: task {task!r} is not in the cluster "
                          f"({', '.join(f'{k}: {len(v)}' for k, v in jobs.items())})")
    return spec


def is_chief_from_env() -> bool:
    """Whether this process is the chief of the TF_CONFIG cluster (True without TF_CONFIG)."""
    spec = cluster_from_env()
    if spec is None:
        return True
    task = spec["task"]
    if task["type"] == "chief":
        return True
    return task["type"] == "worker" and task.get("index", 0) == 0 and \
        "chief" not in spec["cluster"]


def cpu_devices_requested() -> int:
    """N from ``SEQLAB_CPU_DEVICES`` (0 when unset)."""
    text = os.environ.get(CPU_DEVICES_VARIABLE, "").strip()
    if not text:
        return 0
    try:
        count = int(text)
    except ValueError:
        count = -1
    if count < 1:
        raise SeqlabError(f"{CPU_DEVICES_VARIABLE}={text!r}: expected a whole number of "
                          "logical CPU devices, 1 or more")
    return count


def split_cpu(count: int) -> None:
    """Split the first CPU into `count` logical devices. TensorFlow fixes its devices at its
    first op, so this must run before any; afterwards it only checks that the split is there."""
    import tensorflow as tf

    if count <= 1:
        return
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)])
    except RuntimeError:  # devices already initialised (a second run in one process)
        have = len(tf.config.list_logical_devices("CPU"))
        if have != count:
            raise SeqlabError(
                f"{CPU_DEVICES_VARIABLE}={count}: TensorFlow already started with {have} CPU "
                "device(s) in this process; set the variable before the first training "
                "run") from None


@dataclass
class Placement:
    """The strategy a run trains under, and what this process does in it."""

    strategy: object           # a tf.distribute.Strategy
    name: str                  # none | mirrored | multi_worker
    replicas: int              # replicas in sync, all workers together
    workers: int = 1
    task: str = "worker:0"
    chief: bool = True

    def record(self) -> dict:
        """What run.json says about the run's distribution."""
        return {"strategy": self.name, "replicas": self.replicas, "workers": self.workers,
                "devices": self.devices()}

    def devices(self) -> list[str]:
        """This worker's replica devices (the default strategy has none of its own)."""
        if self.name == "none":
            return []
        return [str(d) for d in self.strategy.extended.worker_devices]


_STRATEGIES: dict = {}


def setup(name: str) -> Placement:
    """Create (once per process and kind) the strategy for `distribution.strategy`.

    Call it before any TensorFlow op: logical CPU devices and the multi-worker runtime can only
    be configured while TensorFlow has not started. A second call reuses the strategy (a
    `MultiWorkerMirroredStrategy` cannot be made twice in one process).
    """
    import tensorflow as tf

    split_cpu(cpu_devices_requested())
    if name == "none":
        return Placement(tf.distribute.get_strategy(), "none", 1)
    if name == "mirrored":
        strategy = _STRATEGIES.get(name)
        if strategy is None:
            gpus = tf.config.list_logical_devices("GPU")
            # Without GPUs, every logical CPU device (one, unless SEQLAB_CPU_DEVICES splits it).
            devices = None if gpus else [d.name for d in tf.config.list_logical_devices("CPU")]
            strategy = tf.distribute.MirroredStrategy(devices)
            _STRATEGIES[name] = strategy
        return Placement(strategy, name, strategy.num_replicas_in_sync)
    if name == "multi_worker":
        spec = cluster_from_env()
        if spec is None:
            raise SeqlabError("distribution.strategy is multi_worker, but TF_CONFIG is not "
                              'set: give each worker {"cluster": {"worker": ["host:port", ...]},'
                              ' "task": {"type": "worker", "index": I}}')
        strategy = _STRATEGIES.get(name)
        if strategy is None:
            strategy = tf.distribute.MultiWorkerMirroredStrategy()
            _STRATEGIES[name] = strategy
            fix_multi_worker_logs()
        task = spec["task"]
        workers = sum(len(v) for k, v in spec["cluster"].items() if k in ("chief", "worker"))
        return Placement(strategy, name, strategy.num_replicas_in_sync, workers,
                         f"{task['type']}:{task.get('index', 0)}", is_chief_from_env())
    raise SeqlabError(f"key 'distribution.strategy': unknown strategy {name!r}")
