"""seqlab's optimizers: Keras' Adam, SGD and Nadam whose weight averages warm up, and
FusedAdam, Keras' Adam with each variable's update one TensorFlow ResourceApplyAdam op.

The oracles: Keras' own optimizer of the same class, from the same start on the same
gradients, for the weights and the optimizer's state (a dense weight and an embedding-like
one with sparse gradients, repeated rows included, with joint clipping, as the NER config
trains); and for the moving averages, the rule worked in NumPy over the weights after each
step (momentum 0 at the first step, then min(cap, (1 + t) / (10 + t))).
"""

import collections

import keras
import numpy as np
import pytest
import tensorflow as tf

from seqlab.compat import moving_averages
from seqlab.training.optimizers import SGD, FusedAdam, Nadam, average_momentum

from conftest import QUICK, TESTS

RNG = np.random.default_rng(0)
DENSE = RNG.normal(size=(6, 5)).astype("float32")
TABLE = RNG.normal(size=(20, 4)).astype("float32")
# Gradients over four orders of magnitude, so the clipping and epsilon both matter.
STEPS = [(RNG.normal(size=(6, 5)).astype("float32") * 10 ** RNG.uniform(-4, 1),
          RNG.integers(0, 20, size=7), RNG.normal(size=(7, 4)).astype("float32"))
         for _ in range(25)]
# (1 + t) / (10 + t) is 0.74 at the 25th step: the warm-up, far from Keras' constant 0.9
# (test_the_averages_momentum_worked_by_hand checks the cap).
CAP = 0.9


def warmed_averages(trajectory, cap=CAP):
    """The averages of each weight over ``trajectory`` (its values after each step), in
    float64: the oracle."""
    average = [np.float64(w) for w in trajectory[0]]
    for t, weights in enumerate(trajectory[1:], start=1):
        m = min(cap, (1 + t) / (10 + t))
        average = [m * a + (1 - m) * w for a, w in zip(average, weights)]
    return average


def _train(cls, **kwargs):
    """The weights after each step, the optimizer's other variables, its averages, and the
    op counts of a step."""
    dense, table = keras.Variable(DENSE.copy()), keras.Variable(TABLE.copy())
    optimizer = cls(learning_rate=0.01, global_clipnorm=0.5, use_ema=True, ema_momentum=CAP,
                    **kwargs)

    @tf.function
    def step(g, rows, values):
        sparse = tf.IndexedSlices(values, rows, dense_shape=tf.constant([20, 4], tf.int64))
        optimizer.apply([g, sparse], [dense, table])

    trajectory = []
    for g, rows, values in STEPS:
        step(tf.constant(g), tf.constant(rows), tf.constant(values))
        trajectory.append([dense.numpy(), table.numpy()])
    ops = collections.Counter(op.type for op in step.get_concrete_function(
        *(tf.constant(a) for a in STEPS[0])).graph.get_operations())
    averages = [a.numpy() for a in moving_averages(optimizer)]
    ids = {id(a) for a in moving_averages(optimizer)}
    state = [v.numpy() for v in optimizer.variables if id(v) not in ids]
    return trajectory, state, averages, ops


def test_the_averages_momentum_worked_by_hand():
    got = [float(average_momentum(t, 0.999, "float32")) for t in (0, 1, 2, 90, 8989, 8990, 10**6)]
    np.testing.assert_allclose(got, [0, 2 / 11, 3 / 12, 91 / 100, 8990 / 8999, 0.999, 0.999],
                               rtol=1e-6)
    # SGD, learning rate 0.1, gradient 1: weights -0.1, -0.2, -0.3; the average -0.1, then
    # 2/11 * -0.1 + 9/11 * -0.2 = -2/11, then 1/4 * -2/11 + 3/4 * -0.3.
    w = keras.Variable(np.zeros(2, "float32"))
    sgd = SGD(learning_rate=0.1, use_ema=True, ema_momentum=0.999)
    averages = []
    for _ in range(3):
        sgd.apply([np.ones(2, "float32")], [w])
        averages.append(float(moving_averages(sgd)[0].numpy()[0]))
    np.testing.assert_allclose(averages, [-0.1, -2 / 11, -0.5 / 11 - 0.225], rtol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("amsgrad", [False, True])
def test_fused_adam_equals_keras_adam(amsgrad):
    expected, expected_state, keras_averages, keras_ops = _train(keras.optimizers.Adam,
                                                                 amsgrad=amsgrad)
    got, state, averages, fused_ops = _train(FusedAdam, amsgrad=amsgrad)
    assert "ResourceApplyAdam" not in keras_ops
    # amsgrad has no fused kernel here: Keras' own update runs, and our averages.
    assert ("ResourceApplyAdam" in fused_ops) is (not amsgrad)
    if not amsgrad:  # the sparse gradient made dense once, not twice; fewer ops in all
        assert fused_ops["UnsortedSegmentSum"] == 1 < keras_ops["UnsortedSegmentSum"]
        assert sum(fused_ops.values()) < sum(keras_ops.values())
    for a, b in zip(got[-1] + state, expected[-1] + expected_state, strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-7)
    assert len(state) > 3  # step count, rate, moments
    for a, b in zip(averages, warmed_averages(got), strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-7)
    # Keras' own averages, without the warm-up, differ.
    assert np.abs(keras_averages[0] - averages[0]).max() > 1e-3
    assert np.abs(got[-1][0] - DENSE).min() > 1e-3  # every weight moved
    untouched = sorted(set(range(20)) - {int(r) for _, rows, _ in STEPS for r in rows})
    moved = np.abs(got[-1][1] - TABLE).max(axis=1)
    assert (moved[untouched] == 0).all() and (np.delete(moved, untouched) > 1e-3).all()


def test_unfused_runs_keras_own_adam_and_is_saved_only_when_set():
    """``fused=False`` (the reference, and how bench/ times the way before issue 16): Keras'
    update op by op, the same values, the averages still warmed."""
    expected, expected_state, _, _ = _train(keras.optimizers.Adam)
    got, state, averages, ops = _train(FusedAdam, fused=False)
    assert "ResourceApplyAdam" not in ops
    for a, b in zip(got[-1] + state, expected[-1] + expected_state, strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-7)
    for a, b in zip(averages, warmed_averages(got), strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-7)
    assert "fused" not in FusedAdam().get_config()
    assert FusedAdam.from_config(FusedAdam(fused=False).get_config()).fused is False


@pytest.mark.parametrize("ours, theirs", [(SGD, keras.optimizers.SGD),
                                          (Nadam, keras.optimizers.Nadam)])
def test_sgd_and_nadam_are_keras_with_warmed_averages(ours, theirs):
    expected, expected_state, keras_averages, _ = _train(theirs)
    got, state, averages, _ = _train(ours)
    for a, b in zip(got[-1] + state, expected[-1] + expected_state, strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(averages, warmed_averages(got), strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-7)
    assert np.abs(keras_averages[0] - averages[0]).max() > 1e-4  # Keras' own differ


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_warmed_averages_under_other_backends(backend):
    import json
    import os
    import subprocess
    import sys

    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, str(TESTS / "optimizer_backend.py")],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    steps = json.loads(proc.stdout.strip().splitlines()[-1])
    trajectory = [[np.array(w) for w in s["weights"]] for s in steps]
    for a, b in zip(steps[-1]["averages"], warmed_averages(trajectory, cap=0.5), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_saves_and_loads_as_itself(tmp_path):
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    model.compile(optimizer=FusedAdam(learning_rate=0.003, global_clipnorm=0.1), loss="mse")
    model.fit(np.ones((4, 3), "float32"), np.zeros((4, 2), "float32"), verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert type(loaded.optimizer) is FusedAdam
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    for a, b in zip(loaded.optimizer.variables, model.optimizer.variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_the_trainer_trains_with_it():
    from seqlab.config import load_config
    from seqlab.training.loop import make_optimizer

    assert type(make_optimizer(load_config(QUICK))) is FusedAdam
    for name, cls in [("sgd", SGD), ("nadam", Nadam)]:
        assert type(make_optimizer(load_config(QUICK, [f"training.optimizer={name}"]))) is cls


@pytest.mark.slow
def test_under_a_mirrored_strategy_it_equals_keras_adam():
    """Per-replica updates, clipping and moving averages under tf.distribute.MirroredStrategy
    (the trainer's distribution.strategy: mirrored) give Keras' Adam's values, and the
    warmed averages of the weights."""
    import json
    import os
    import subprocess
    import sys

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, str(TESTS / "optimizer_mirrored.py")],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    expected, got = result["Adam"], result["FusedAdam"]
    assert len(got["state"]) == len(expected["state"]) > 5  # weights, step, rate, moments
    for a, b in zip(got["state"], expected["state"], strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-7)
    trajectory = [[np.array(w) for w in step] for step in got["trajectory"]]
    assert len(trajectory) == 5
    for a, b in zip(got["averages"], warmed_averages(trajectory, cap=0.9), strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-7)
    assert np.abs(np.array(got["averages"][0]) - trajectory[-1][0]).max() > 1e-3


def test_a_model_saved_before_the_optimizers_moved_loads_with_its_optimizer():
    """fixtures/saved_with_layers_optimizers.keras is a tiny quickstart model (one epoch)
    saved when the optimizers lived in seqlab/layers/optimizers.py: its compile config names
    that module. Keras finds the optimizer by its registered name, seqlab>FusedAdam, which the
    move to seqlab.training.optimizers kept (as every other class's)."""
    for cls in (SGD, Nadam, FusedAdam):
        assert keras.saving.get_registered_name(cls) == f"seqlab>{cls.__name__}"
    model = keras.models.load_model(TESTS / "fixtures" / "saved_with_layers_optimizers.keras")
    assert type(model.optimizer) is FusedAdam
    assert model.optimizer.fused and float(model.optimizer.learning_rate) == \
        pytest.approx(0.003)
    assert model.optimizer.clipnorm == 5.0
