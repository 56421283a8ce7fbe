"""Run by test_train.py: hold the run lock on DIR, say "held", and wait to be killed.

Usage: python hold_run_lock.py DIR
"""

import sys
import time

from seqlab.training.rundir import RunLock

with RunLock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(600)
