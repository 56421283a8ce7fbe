"""Training, split by concern:

* :mod:`~seqlab.training.data`: read and check the corpus, vocabularies, encoding (in memory
  or streamed, through the same reader and checks);
* :mod:`~seqlab.training.loop`: model, optimizer and loss, the epoch loop, dev scoring;
* :mod:`~seqlab.training.checkpoint`: what each epoch leaves for resuming;
* :mod:`~seqlab.training.rundir`: the run directory, its lock and its files;
* :mod:`~seqlab.training.record`: run.json and ``reproduce``.
"""

from seqlab.training.loop import Run, train
from seqlab.training.record import reproduce

__all__ = ["Run", "reproduce", "train"]
