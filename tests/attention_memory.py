"""Peak RSS growth (MB) of one forward+backward pass of SeqSelfAttention; run by the tests.

Usage: attention_memory.py band|global additive|multiplicative
"""

import resource
import sys

import numpy as np
import tensorflow as tf

from seqlab.layers import SeqSelfAttention


def main():
    mode, kind = sys.argv[1], sys.argv[2]
    if mode == "band":
        batch, t, d, units, width = 1, 16384, 8, 8, 9
    else:
        batch, t, d, units, width = 2, 1024, 8, 64, None
    layer = SeqSelfAttention(units=units, attention_width=width, attention_type=kind)
    layer.build((None, None, d))
    small = tf.constant(np.random.RandomState(0).normal(size=(batch, 16, d)).astype("float32"))
    x = tf.constant(np.random.RandomState(0).normal(size=(batch, t, d)).astype("float32"))

    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(tf.square(layer(x)))
        return [g.numpy() for g in tape.gradient(loss, [x] + layer.trainable_weights)]

    step(small)  # load kernels, allocator pools
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    step(x)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{mode} {kind} T={t} peak growth MB {(after - before) / 1024:.1f}")


if __name__ == "__main__":
    main()
