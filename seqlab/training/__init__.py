"""Training, split by concern:

* :mod:`~seqlab.training.data`: read and check the corpus, vocabularies, encoding (in memory
  or streamed, through the same reader and checks);
* :mod:`~seqlab.training.loop`: model, optimizer and loss, the epoch loop (a generator of
  epochs) and what consumes it (checkpoints, progress, history, the run's files), ``reproduce``;
* :mod:`~seqlab.training.optimizers`: Keras' Adam, SGD and Nadam as the loop makes them (weight
  averages warmed up, a fused Adam update, per-variable learning rates), registered with Keras
  so that saved models name them;
* :mod:`~seqlab.training.checkpoint`: what each epoch leaves for resuming;
* :mod:`~seqlab.training.rundir`: the run directory: its files' names, readers and writers
  (``RunDir``, ``RunSet``), its lock;
* :mod:`~seqlab.training.record`: what run.json says of a run;
* :mod:`~seqlab.training.seeds`: one run per seed and their summary.
"""

__all__ = ["Run", "reproduce", "train", "train_seeds"]

_WHERE = {"Run": "loop", "train": "loop", "reproduce": "loop", "train_seeds": "seeds"}


def __getattr__(name):
    # Lazily: the command line checks a run directory (rundir) before TensorFlow is imported.
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f"seqlab.training.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'seqlab.training' has no attribute {name!r}")
