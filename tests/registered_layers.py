"""Run by test_cli.py in a fresh process: ``import seqlab`` does not import Keras, and once
Keras comes, seqlab's layers, loss and optimizers are registered; prints the registered
``seqlab>`` names."""

import sys

import seqlab  # noqa: F401

assert "keras" not in sys.modules
import keras  # noqa: E402

names = keras.saving.get_custom_objects()
print(sorted(n for n in names if n.startswith("seqlab>")))
