"""Run the attention family layers under KERAS_BACKEND on cases saved by the tests.

Usage: KERAS_BACKEND=jax|torch python attention_family_backend_check.py cases.npz cases.json out.npz

For each case: deserialize the layer (``keras.saving.serialize_keras_object`` form), set
the saved weights, call it on the saved inputs (and masks), and save every output, the
losses and the gradient of sum(sin(outputs)) + losses with respect to every input (under
JAX the whole step is one ``jax.jit`` function).
"""

import json
import os
import sys

import keras
import numpy as np
from keras import ops

import seqlab.layers  # noqa: F401  (registers the layers)


def _inputs(case, arrays):
    xs = [arrays[name] for name in case["inputs"]]
    masks = None
    if case.get("masks") is not None:
        masks = [None if name is None else arrays[name] for name in case["masks"]]
    return xs, masks


def _pack(case, xs, masks):
    inputs = xs if case["list"] else xs[0]
    mask = masks if masks is None or case["list"] else masks[0]
    return inputs, mask


def evaluate(layer, case, xs, masks):
    """(outputs, losses, gradients of sum(sin(outputs)) + losses w.r.t. every input)."""
    backend = keras.backend.backend()

    def forward(*xv):
        inputs, mask = _pack(case, list(xv), masks)
        outs = keras.tree.flatten(layer(inputs, mask=mask))
        losses = list(layer.losses)
        loss = sum(ops.sum(ops.sin(ops.cast(o, "float32"))) for o in outs)
        for extra in losses:
            loss = loss + extra
        return loss, (outs, losses)

    if backend == "jax":
        import jax

        # One compiled function per case: op-by-op JAX is several times slower here.
        step = jax.jit(jax.value_and_grad(forward, argnums=tuple(range(len(xs))), has_aux=True))
        (_, (outs, losses)), grads = step(*xs)
    elif backend == "torch":
        import torch

        xv = [torch.tensor(x, requires_grad=True) for x in xs]
        loss, (outs, losses) = forward(*xv)
        loss.backward()
        grads = [v.grad for v in xv]
        outs, losses = [o.detach() for o in outs], [v.detach() for v in losses]
    else:
        import tensorflow as tf

        xv = [tf.constant(x) for x in xs]
        with tf.GradientTape() as tape:
            for v in xv:
                tape.watch(v)
            loss, (outs, losses) = forward(*xv)
        grads = tape.gradient(loss, xv)
    return outs, losses, grads


def run(cases, arrays):
    results = {}
    for i, case in enumerate(cases):
        layer = keras.saving.deserialize_keras_object(case["layer"])
        xs, masks = _inputs(case, arrays)
        shapes = [x.shape for x in xs]
        if not layer.built:
            layer.build(shapes if case["list"] else shapes[0])
        layer.set_weights([arrays[f"w{i}_{j}"] for j in range(case["n_weights"])])
        outs, losses, grads = evaluate(layer, case, xs, masks)
        for j, out in enumerate(outs):
            results[f"out{i}_{j}"] = ops.convert_to_numpy(out).astype("float32")
        results[f"loss{i}"] = np.array(
            [float(ops.convert_to_numpy(v)) for v in losses], "float32"
        )
        for j, g in enumerate(grads):
            results[f"grad{i}_{j}"] = ops.convert_to_numpy(g).astype("float32")
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
