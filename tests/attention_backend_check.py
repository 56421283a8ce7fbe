"""Run SeqSelfAttention under the backend named by KERAS_BACKEND on cases saved by the tests.

Usage: KERAS_BACKEND=jax|torch python attention_backend_check.py cases.npz cases.json out.npz

For each case: build the layer from its config, set the saved weights, call it on the
saved inputs (and mask), and save the output, the attention, the regulariser loss and the
gradient of sum(sin(output)) + losses with respect to the inputs.
"""

import json
import os
import sys

import keras
import numpy as np
from keras import ops

from seqlab.layers import SeqSelfAttention


def grad_wrt_input(layer, x, mask):
    backend = keras.backend.backend()

    def loss_of(xv):
        out = layer(xv, mask=mask)
        out = out[0] if isinstance(out, list) else out
        loss = ops.sum(ops.sin(ops.cast(out, "float32")))
        for extra in layer.losses:
            loss = loss + extra
        return loss

    if backend == "jax":
        import jax

        return np.asarray(jax.grad(loss_of)(x))
    if backend == "torch":
        import torch

        xv = torch.tensor(x, requires_grad=True)
        loss_of(xv).backward()
        return xv.grad.numpy()
    import tensorflow as tf

    xv = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xv)
        loss = loss_of(xv)
    return tape.gradient(loss, xv).numpy()


def run(cases, arrays):
    results = {}
    for i, case in enumerate(cases):
        layer = SeqSelfAttention.from_config(case["config"])
        x = arrays[f"x{i}"]
        mask = arrays.get(f"mask{i}")
        layer.build(x.shape)
        layer.set_weights([arrays[f"w{i}_{j}"] for j in range(case["n_weights"])])
        out = layer(x, mask=mask)
        if isinstance(out, list):
            results[f"out{i}"] = ops.convert_to_numpy(out[0]).astype("float32")
            results[f"att{i}"] = ops.convert_to_numpy(out[1]).astype("float32")
        else:
            results[f"out{i}"] = ops.convert_to_numpy(out).astype("float32")
        results[f"loss{i}"] = np.array(
            [float(ops.convert_to_numpy(v)) for v in layer.losses], "float32")
        results[f"grad{i}"] = grad_wrt_input(layer, x, mask)
    return results


def main():
    arrays = dict(np.load(sys.argv[1]))
    with open(sys.argv[2]) as fh:
        cases = json.load(fh)
    results = run(cases, arrays)
    results["backend"] = np.array(keras.backend.backend())
    np.savez(sys.argv[3], **results)
    print("ok", os.environ.get("KERAS_BACKEND"), len(cases))


if __name__ == "__main__":
    main()
