"""Run by test_train_hostile.py in a fresh process: a real out-of-memory while the model is
built. TensorFlow is started first; then the process's address space is capped a little
above what it uses (RLIMIT_AS), and a config whose BiLSTM needs more than that (4096 units:
268 MB a direction for its recurrent kernel alone) is trained. Prints the one line of the
SeqlabError it raises.

Usage: python build_out_of_memory.py OUT
"""

import resource
import sys

import tensorflow as tf

import seqlab.training.loop as training
from seqlab.config import load_config
from seqlab.errors import SeqlabError

from conftest import QUICK, QUIET, TINY

config = load_config(QUICK, TINY + ["training.epochs=1", "model.lstm.units=4096"])
(tf.zeros(4) + 1).numpy()  # TensorFlow's runtime and thread pools, before the cap
with open("/proc/self/status") as status:
    used = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize"))
resource.setrlimit(resource.RLIMIT_AS, (used + 256 * 2**20, resource.RLIM_INFINITY))
try:
    training.train(config, sys.argv[1], console=QUIET)
except SeqlabError as exc:
    print(exc)
