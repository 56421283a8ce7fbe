"""bfloat16 prediction and mixed-bfloat16 training (issue 39): the hardware check (mocked both
ways), what ``auto`` picks, float32 and bfloat16 tags agreeing, the fused BiLSTM under
bfloat16, a model trained in bfloat16 saved and loaded as float32, and the options' checks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from seqlab.errors import SeqlabError
from seqlab.hardware import cpu_bf16
from seqlab.precision import check_precision, resolve, resolve_training

from conftest import DATA, QUICK, QUIET, TINY, invoke, ok, one_line_error, op_types

_BASE = "sse4_1 sse4_2 avx avx2 fma"
_AVX512 = _BASE + " avx512f avx512bw avx512vl avx512dq avx512_vnni"
# /proc/cpuinfo as three kinds of CPU show it (the first processor's lines are enough).
SAPPHIRE_RAPIDS = ("processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum 8480+\n"
                   f"flags\t\t: {_AVX512} avx512_bf16 amx_bf16 amx_tile amx_int8\n")
ZEN4 = f"processor\t: 0\nmodel name\t: AMD EPYC 9654\nflags\t\t: {_AVX512} avx512_bf16\n"
SKYLAKE = f"processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Gold 6148\nflags\t\t: {_AVX512}\n"
HASWELL = f"processor\t: 0\nmodel name\t: Intel(R) Core(TM) i7-4770\nflags\t\t: {_BASE}\n"
ARM = "processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes bf16\n"


# ---------------------------------------------------------------- the hardware check
@pytest.mark.parametrize("cpuinfo, units, isa", [
    (SAPPHIRE_RAPIDS, "amx", "AVX512_CORE_AMX"),
    (ZEN4, "avx512_bf16", "AVX512_CORE_BF16"),
    (SKYLAKE, None, "AVX512_CORE_VNNI"),
    (HASWELL, None, "AVX2"),
    (ARM, None, None),
    ("", None, None),
])
def test_the_cpu_units_are_read_from_cpuinfo(cpuinfo, units, isa):
    found = cpu_bf16(cpuinfo, environ={})
    assert (found.units, found.onednn_isa) == (units, isa)
    assert found.to_dict()["bf16_units"] == units
    assert json.loads(json.dumps(found.to_dict())) == found.to_dict()  # run.json holds it


def test_the_model_name_and_flags_are_the_first_processors():
    found = cpu_bf16(SAPPHIRE_RAPIDS + "\n" + HASWELL.replace("i7-4770", "other"), environ={})
    assert found.model == "Intel(R) Xeon(R) Platinum 8480+"
    assert found.amx_bf16 and found.avx512_bf16
    assert "AMX-BF16" in found.describe() and "oneDNN uses AMX-BF16" in found.describe()


@pytest.mark.parametrize("environ, units", [
    ({"TF_ENABLE_ONEDNN_OPTS": "0"}, None),           # oneDNN off: no bfloat16 kernels
    ({"TF_ENABLE_ONEDNN_OPTS": "1"}, "amx"),
    ({"ONEDNN_MAX_CPU_ISA": "AVX2"}, None),           # oneDNN capped below the units
    ({"ONEDNN_MAX_CPU_ISA": "avx512_core_bf16"}, "avx512_bf16"),
    ({"DNNL_MAX_CPU_ISA": "AVX512_CORE_AMX"}, "amx"),
    ({"ONEDNN_MAX_CPU_ISA": "ALL"}, "amx"),
])
def test_what_onednn_uses_follows_the_environment(environ, units):
    found = cpu_bf16(SAPPHIRE_RAPIDS, environ=environ)
    assert found.units == units
    assert found.amx_bf16  # what the CPU has does not change
    if units is None:
        assert "oneDNN uses none" in found.describe() or "oneDNN off" in found.describe()


def test_this_machine_is_described_without_tensorflow():
    import subprocess
    import sys

    code = ("import sys; from seqlab.hardware import cpu_bf16; print(cpu_bf16().describe()); "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "bfloat16 units" in done.stdout


# ---------------------------------------------------------------- what auto picks
@pytest.mark.parametrize("cpuinfo, prediction, training", [
    (SAPPHIRE_RAPIDS, "bfloat16", "mixed_bfloat16"),
    (ZEN4, "bfloat16", "float32"),
    (SKYLAKE, "float32", "float32"),
    (HASWELL, "float32", "float32"),
])
def test_auto_follows_the_units(cpuinfo, prediction, training):
    hardware = cpu_bf16(cpuinfo, environ={})
    assert resolve("auto", hardware) == prediction
    assert resolve_training("auto", hardware) == training
    for fixed in ("float32", "bfloat16"):
        assert resolve(fixed, hardware) == fixed
    for fixed in ("float32", "mixed_float16", "mixed_bfloat16"):
        assert resolve_training(fixed, hardware) == fixed


@pytest.mark.parametrize("value", ["half", "float16", "", None, 16, "BFLOAT16"])
def test_a_bad_precision_is_one_line_naming_the_option(value):
    with pytest.raises(SeqlabError, match=r"^--precision .*expected one of float32, "
                                          r"bfloat16, auto$"):
        check_precision(value, "--precision")


@pytest.fixture
def cpu(monkeypatch):
    """``cpu(text)`` makes this process see a CPU of that /proc/cpuinfo (the default of
    ``seqlab.precision``'s hardware check)."""
    import seqlab.precision

    def mock(text):
        monkeypatch.setattr(seqlab.precision, "cpu_bf16", lambda: cpu_bf16(text, environ={}))

    return mock


def test_auto_gives_float32_on_a_cpu_without_the_units(trained, cpu):
    from seqlab.tagger import Tagger

    cpu(HASWELL)
    tagger = Tagger.load(trained / "model.keras", precision="auto")
    assert tagger.precision == "float32"
    assert {layer.compute_dtype for layer in tagger.model.layers} == {"float32"}
    cpu(SAPPHIRE_RAPIDS)
    tagger = Tagger.load(trained / "model.keras", precision="auto")
    assert tagger.precision == "bfloat16"


# ---------------------------------------------------------------- prediction in bfloat16
def _test_sentences():
    from seqlab.formats import Reading, read_corpus

    return [s.tokens for s in read_corpus(DATA / "test.txt", Reading(format="conll"),
                                          labelled=False)]


def _differing(path, sentences):
    """(tokens whose float32 and bfloat16 tags differ, tokens, the bfloat16 tagger)."""
    from seqlab.tagger import Tagger

    f32 = Tagger.load(path, precision="float32").tag(sentences)
    bf16 = Tagger.load(path, precision="bfloat16")
    tags = bf16.tag(sentences)
    differ = sum(a != b for s, t in zip(f32, tags, strict=True) for a, b in zip(s, t))
    return differ, sum(map(len, sentences)), bf16


def test_bfloat16_tags_agree_with_float32(trained):
    """The session's small model on data/test.txt (1,558 tokens): at most 4 tags differ
    (0.26%), and the layers that should compute in bfloat16 do (else nothing differs)."""
    from seqlab.compat import nested_layers

    differ, tokens, tagger = _differing(trained / "model.keras", _test_sentences())
    assert tokens == 1558
    assert differ <= 4, differ
    kinds = {layer.name: layer.compute_dtype for layer in nested_layers(tagger.model)}
    assert kinds["bilstm_1"] == kinds["attention"] == kinds["tags"] == "bfloat16"
    assert tagger.parts.crf is None or kinds["crf"] == "float32"


@pytest.mark.slow
def test_the_quickstart_model_tags_alike_in_bfloat16(tmp_path):
    """The quickstart config as README trains it (seed 13, ~75 s): on data/test.txt at most
    5 of 1,558 tags differ (2 did when this was written, on an AMD EPYC with AVX512-BF16);
    the same with a CRF output."""
    from seqlab.config import load_config
    from seqlab.training import train

    sentences = _test_sentences()
    for name, extra in (("softmax", []), ("crf", ["model.output=crf"])):
        train(load_config(QUICK, extra), tmp_path / name, console=QUIET)
        differ, tokens, _ = _differing(tmp_path / name / "model.keras", sentences)
        assert differ <= 5, (name, differ)


def test_the_bfloat16_bilstm_runs_the_fused_kernel_and_trains():
    """Under mixed_bfloat16 the BiLSTM runs BlockLSTM (float32 inside) with its own
    gradient, not Keras' loop; its outputs are bfloat16, near float32's."""
    import keras
    import tensorflow as tf

    from seqlab.layers.bilstm import FusedBidirectional

    keras.utils.set_random_seed(3)
    layer = FusedBidirectional(keras.layers.LSTM(4, return_sequences=True))
    layer.build((None, None, 6))
    x = tf.random.stateless_normal((3, 7, 6), seed=[1, 2])
    mask = tf.constant(np.arange(7)[None] < np.array([7, 3, 1])[:, None])
    reference = layer(x, mask=mask).numpy()
    layer.dtype_policy = "mixed_bfloat16"
    for inner in (layer.forward_layer, layer.backward_layer):
        inner.dtype_policy = "mixed_bfloat16"
    assert layer.fusable

    @tf.function(input_signature=[tf.TensorSpec((None, None, 6))])
    def run(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, mask=mask)
            loss = tf.reduce_sum(tf.cast(y, tf.float32))
        return y, tape.gradient(loss, [x] + layer.trainable_variables)

    y, grads = run(x)
    ops = op_types(run, x)
    assert "BlockLSTM" in ops and "BlockLSTMGrad" not in ops
    assert y.dtype == tf.bfloat16
    assert all(g.dtype == tf.float32 for g in grads[1:])  # float32 master weights
    np.testing.assert_allclose(tf.cast(y, tf.float32).numpy(), reference, atol=0.03)
    assert np.all(tf.cast(y, tf.float32).numpy()[1, 3:] == 0)  # padding stays zero


# ---------------------------------------------------------------- training in bfloat16
def test_a_model_trained_in_bfloat16_loads_in_float32(tmp_path):
    from seqlab.compat import nested_layers
    from seqlab.config import load_config
    from seqlab.tagger import Tagger, load_model
    from seqlab.training import train

    config = load_config(QUICK, TINY + ["training.epochs=2", "training.precision=mixed_bfloat16",
                                        "model.output=crf"])
    run = train(config, tmp_path / "run", console=QUIET)
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["precision"] == "mixed_bfloat16"
    assert set(record["hardware"]) >= {"cpu", "amx_bf16", "avx512_bf16", "bf16_units"}
    assert np.isfinite(run.history[-1]["loss"])
    model = load_model(tmp_path / "run" / "model.keras")
    dtypes = {layer.compute_dtype for layer in [model, *nested_layers(model)]}
    assert dtypes == {"float32"}
    assert {w.dtype for w in model.weights} == {"float32"}
    tagger = Tagger(model)
    assert tagger.precision == "float32"
    assert len(tagger.tag([["EU", "rejects", "German", "call"]])[0]) == 4
    import keras

    assert keras.config.dtype_policy().name == "float32"  # the run's policy is undone


def test_training_precision_auto_is_recorded_as_chosen(tmp_path, monkeypatch):
    """``auto`` on a CPU without AMX trains in float32: the same weights as float32."""
    import seqlab.precision
    from seqlab.config import load_config
    from seqlab.training import train

    monkeypatch.setattr(seqlab.precision, "cpu_bf16", lambda: cpu_bf16(ZEN4, environ={}))
    runs = {}
    for precision in ("auto", "float32"):
        config = load_config(QUICK, TINY + ["training.epochs=1",
                                            f"training.precision={precision}"])
        runs[precision] = train(config, tmp_path / precision, console=QUIET)
        record = json.loads((tmp_path / precision / "run.json").read_text())
        assert record["precision"] == "float32"
        assert record["config"]["training"]["precision"] == precision
    assert runs["auto"].weights_sha256 == runs["float32"].weights_sha256


# ---------------------------------------------------------------- the command line
def test_predict_and_evaluate_take_precision(trained):
    model = trained / "model.keras"
    text = DATA / "sample_input.txt"
    f32 = ok(invoke("predict", model, text))
    bf16 = ok(invoke("predict", model, text, "--precision", "bfloat16"))
    assert len(f32.splitlines()) == len(bf16.splitlines())
    scores = json.loads(ok(invoke("evaluate", model, DATA / "test.txt", "--json",
                                  "--precision", "bfloat16")))
    assert scores["f1"] > 0
    one_line_error(invoke("predict", model, text, "--precision", "half"),
                   "--precision 'half'", "expected one of float32, bfloat16, auto")
    one_line_error(invoke("evaluate", model, DATA / "test.txt", "--precision", "fp16"),
                   "--precision 'fp16'", "expected one of float32, bfloat16, auto")
