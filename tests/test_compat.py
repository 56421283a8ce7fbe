"""The Keras internals seqlab uses (seqlab.compat) are still there, in the Keras the package
allows: a Keras upgrade that moves one fails here, by name."""

import re

import keras
import numpy as np

from seqlab import compat

from conftest import ROOT


def test_installed_keras_is_within_the_bound_pyproject_gives():
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    low, high = re.search(r'"keras>=([\d.]+),<([\d.]+)"', text).groups()

    def version(v):
        return tuple(int(x) for x in v.split(".")[:3])

    assert version(low) <= version(keras.__version__) < version(high)
    assert version(low) <= version(compat.KERAS_TESTED) < version(high)


def test_every_hook_finds_what_it_reaches_for():
    from keras.src.backend import get_keras_mask
    from keras.src.backend.tensorflow import trainer
    from keras.src.losses.loss import scale_loss_for_distribution

    assert callable(get_keras_mask) and callable(scale_loss_for_distribution)
    assert callable(trainer.reduce_per_replica)
    assert callable(trainer._collective_all_reduce_multi_worker)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dropout(0.5),
                              keras.layers.Dense(2)])
    assert hasattr(model, "_symbolic_build") and hasattr(model, "_maybe_symbolic_build")
    states = compat.seed_generator_states(model)
    assert len(states) == 1 and tuple(states[0].shape) == (2,)
    x = keras.ops.ones((1, 3))
    assert compat.keras_mask(x) is None
    assert float(compat.scale_loss_for_distribution(keras.ops.convert_to_tensor(2.0))) == 2.0
    weights = [keras.Variable(np.zeros(3, "float32")), keras.Variable(np.zeros(2, "float32"))]
    adam = keras.optimizers.Adam()
    adam.apply([np.ones(3, "float32"), np.full(2, 2.0, "float32")], weights)
    m, v = compat.adam_slots(adam, weights[1].value)
    np.testing.assert_allclose(m.numpy(), [0.2, 0.2])  # (1 - beta_1) * g
    np.testing.assert_allclose(v.numpy(), [0.004, 0.004])  # (1 - beta_2) * g ** 2
    # OptimizerHooks replaces two private steps of BaseOptimizer.apply, which must still exist
    # and still be called by it (in _backend_apply_gradients).
    import inspect

    from keras.src.optimizers.base_optimizer import BaseOptimizer

    apply_source = inspect.getsource(BaseOptimizer._backend_apply_gradients)
    for name in ("_clip_gradients", "_update_model_variables_moving_average"):
        assert callable(getattr(BaseOptimizer, name)) and f"self.{name}(" in apply_source


def test_no_other_module_touches_keras_internals():
    offenders = []
    for path in (ROOT / "seqlab").rglob("*.py"):
        if path.name == "compat.py":
            continue
        text = path.read_text(encoding="utf-8")
        for pattern in (r"keras\.src", r"\._flatten_layers", r"\._seed_generators",
                        r"_maybe_symbolic_build", r"_symbolic_build", r"get_keras_mask",
                        r"def _clip_gradients", r"def _update_model_variables_moving_average",
                        r"\._momentums", r"_get_variable_index"):
            if re.search(pattern, text):
                offenders.append(f"{path.relative_to(ROOT)}: {pattern}")
    assert offenders == []


def test_only_the_model_module_looks_layers_up_by_name():
    """ModelParts is the one place that knows the network's parts by name (and
    seqlab/transformer.py the one that knows a keras-hub backbone's layers by keras-hub's):
    the package and the benchmarks ask it."""
    lookups = re.compile(r"get_layer\(\s*[\"'f]|layer\.name\s*==|layer\.name\s*:\s*layer"
                         r"|layers\.get\(\s*[\"'A-Z]|layer\.name\.startswith\(")
    owners = {ROOT / "seqlab" / "model.py", ROOT / "seqlab" / "transformer.py"}
    files = [*(ROOT / "seqlab").rglob("*.py"), *(ROOT / "bench").glob("*.py")]
    offenders = [str(p.relative_to(ROOT)) for p in files
                 if p not in owners and lookups.search(p.read_text(encoding="utf-8"))]
    assert offenders == []
    assert lookups.search((ROOT / "seqlab" / "model.py").read_text(encoding="utf-8"))
