"""Run by test_optimizers.py under KERAS_BACKEND=jax or torch: seqlab's SGD with warmed
moving averages on two weights for 12 steps, the weights and averages after each step
printed as one JSON line.
"""

import json

import keras
import numpy as np

from seqlab.compat import moving_averages
from seqlab.training.optimizers import SGD

rng = np.random.default_rng(0)
weights = [keras.Variable(rng.normal(size=(3, 2)).astype("float32")),
           keras.Variable(rng.normal(size=4).astype("float32"))]
opt = SGD(learning_rate=0.1, momentum=0.9, use_ema=True, ema_momentum=0.5)  # cap at t=8
out = []
for _ in range(12):
    opt.apply([rng.normal(size=w.shape).astype("float32") for w in weights], weights)
    out.append({"weights": [np.asarray(w).tolist() for w in weights],
                "averages": [np.asarray(a).tolist() for a in moving_averages(opt)]})
print(json.dumps(out))
