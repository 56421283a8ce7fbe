"""Run by test_cli.py in a fresh process: load a quickstart model.keras with Keras alone
(after ``import seqlab``, no custom_objects), feed it words and characters by input name, and
print the argmax tag ids as one JSON line.

Usage: python load_tagger_model.py MODEL
"""

import json
import sys

import keras
import numpy as np

import seqlab  # noqa: F401  (registers the layers)

m = keras.models.load_model(sys.argv[1])
chars = np.zeros((1, 5, m.get_layer("char_embedding").max_length), "int32")
chars[0, :3, :2] = 3
x = {"words": np.array([[2, 3, 4, 0, 0]], "int32"), "chars": chars}
print(json.dumps(np.asarray(m.predict(x, verbose=0)).argmax(-1).tolist()))
