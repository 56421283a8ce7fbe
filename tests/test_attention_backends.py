"""SeqSelfAttention gives the same numbers under TensorFlow, JAX and PyTorch (issue 3, item 11).

The cases (configs, weights, inputs, masks) are computed here under TensorFlow; the
same script then runs them in subprocesses with KERAS_BACKEND=jax and =torch, and the
outputs, attention, regulariser losses and input gradients must agree to 1e-5.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, TESTS

CASES = [
    {"units": 5},
    {"units": 5, "attention_type": "multiplicative"},
    {"units": 5, "attention_width": 4},
    {"units": 5, "attention_width": 3, "history_only": True,
     "attention_type": "multiplicative", "attention_activation": "sigmoid"},
    {"units": 5, "history_only": True, "attention_regularizer_weight": 0.2,
     "return_attention": True},
    {"units": 5, "attention_width": 5, "attention_regularizer_weight": 0.2,
     "return_attention": True},
    {"units": 4, "attention_width": 2, "return_attention": True, "masked": True},
    {"units": 4, "attention_type": "multiplicative", "masked": True,
     "attention_regularizer_weight": 0.1},
    {"units": 4, "masked": True, "block_elements": 1, "attention_activation": "tanh"},
    {"units": 4, "masked": True, "block_elements": 1, "return_attention": True,
     "use_additive_bias": False},
]


@pytest.fixture(scope="module")
def tf_results(tmp_path_factory):
    import attention_backend_check as check

    from seqlab.layers import SeqSelfAttention

    tmp = tmp_path_factory.mktemp("backends")
    rs = np.random.RandomState(0)
    arrays, cases = {}, []
    for i, spec in enumerate(CASES):
        spec = dict(spec)
        masked = spec.pop("masked", False)
        layer = SeqSelfAttention(**spec)
        t = 19 if "block_elements" in spec else 13  # blocks of 8 queries: more than one
        x = rs.normal(size=(2, t, 6)).astype("float32")
        layer.build(x.shape)
        weights = [rs.normal(0, 0.5, size=w.shape).astype("float32")
                   for w in layer.get_weights()]
        arrays[f"x{i}"] = x
        if masked:
            mask = np.ones((2, t), bool)
            mask[0, t - 5:] = False
            mask[1, :2] = False
            arrays[f"mask{i}"] = mask
        for j, w in enumerate(weights):
            arrays[f"w{i}_{j}"] = w
        cases.append({"config": layer.get_config(), "n_weights": len(weights)})
    np.savez(tmp / "cases.npz", **arrays)
    (tmp / "cases.json").write_text(json.dumps(cases))
    return tmp, check.run(cases, arrays)


@pytest.mark.slow
@pytest.mark.backends
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_backend_agrees_with_tensorflow(backend, tf_results):
    pytest.importorskip(backend)
    tmp, want = tf_results
    out = tmp / f"{backend}.npz"
    env = dict(os.environ, KERAS_BACKEND=backend, CUDA_VISIBLE_DEVICES="",
               JAX_PLATFORMS="cpu", PYTHONPATH=os.pathsep.join([str(ROOT), str(TESTS)]))
    proc = subprocess.run(
        [sys.executable, str(TESTS / "attention_backend_check.py"), str(tmp / "cases.npz"),
         str(tmp / "cases.json"), str(out)],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=900, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    got = dict(np.load(out))
    assert str(got.pop("backend")) == backend
    assert set(got) == set(want)
    for key in sorted(want):
        np.testing.assert_allclose(got[key], want[key], rtol=1e-5, atol=1e-5, err_msg=key)
