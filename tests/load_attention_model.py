"""Run by test_attention.py in a fresh process that imports only seqlab: load DIR/ours.keras
(no custom_objects), check its "att" layer is seqlab's SeqSelfAttention, and save its
predictions on DIR/x.npy as DIR/got.npy.

Usage: python load_attention_model.py DIR
"""

import sys

import keras
import numpy as np

import seqlab  # noqa: F401  (registers the layers)

d = sys.argv[1]
m = keras.models.load_model(d + "/ours.keras")
assert type(m.get_layer("att")).__module__ == "seqlab.layers.attention"
np.save(d + "/got.npy", m.predict(np.load(d + "/x.npy"), verbose=0))
