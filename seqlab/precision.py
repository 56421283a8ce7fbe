"""Which precision a forward pass or a training run computes in, and switching a model to it.

Prediction and evaluation take ``float32``, ``bfloat16`` or ``auto`` (:data:`PRECISIONS`);
training takes ``training.precision`` (``float32``, ``mixed_float16``, ``mixed_bfloat16`` or
``auto``). ``auto`` follows the hardware (:mod:`seqlab.hardware`): bfloat16 where the CPU has
units for it that oneDNN uses, float32 elsewhere. Checking a value imports nothing heavy;
:func:`set_compute_precision` imports Keras.

In bfloat16, a model's products (embedding rows on, the char CNN, the BiLSTM's input to
its layer, attention, the tag projection) compute in bfloat16 from float32 weights (Keras'
``mixed_bfloat16`` policy, layer by layer); what is numerically sensitive stays float32: the
tag projection's softmax, the CRF's scores (forward algorithm, Viterbi, marginals), the
attention scores' normalisation, the masks. TensorFlow 2.21's fused LSTM kernel
(``BlockLSTM``) has no bfloat16 version, so the BiLSTM's recurrence runs in float32 inside
(``FusedBidirectional``), its input and output cast at the edges.
"""

from __future__ import annotations

from seqlab.errors import SeqlabError, shown
from seqlab.hardware import AUTO_PREDICTION, AUTO_TRAINING, CpuBf16, cpu_bf16

PRECISIONS = ("float32", "bfloat16", "auto")
TRAINING_PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16", "auto")


def check_precision(value, name: str = "precision") -> str:
    """``value`` when it is one of :data:`PRECISIONS`, else SeqlabError naming ``name``."""
    if not isinstance(value, str) or value not in PRECISIONS:
        raise SeqlabError(f"{name} {shown(value)}: expected one of {', '.join(PRECISIONS)}")
    return value


def resolve(precision: str, hardware: CpuBf16 | None = None) -> str:
    """``float32`` or ``bfloat16`` for a forward pass asked in ``precision``: ``auto`` is
    bfloat16 where the CPU's bfloat16 units (``hardware``, default this machine's) are among
    :data:`seqlab.hardware.AUTO_PREDICTION`."""
    check_precision(precision)
    if precision != "auto":
        return precision
    hardware = hardware or cpu_bf16()
    return "bfloat16" if hardware.units in AUTO_PREDICTION else "float32"


def resolve_training(precision: str, hardware: CpuBf16 | None = None) -> str:
    """The Keras dtype policy a run trains under: ``auto`` is ``mixed_bfloat16`` where the
    CPU's bfloat16 units are among :data:`seqlab.hardware.AUTO_TRAINING` (AMX), else
    ``float32``; any other value is itself."""
    if precision not in TRAINING_PRECISIONS:
        raise SeqlabError(f"training.precision {precision!r}: expected one of "
                          f"{', '.join(TRAINING_PRECISIONS)}")
    if precision != "auto":
        return precision
    hardware = hardware or cpu_bf16()
    return "mixed_bfloat16" if hardware.units in AUTO_TRAINING else "float32"


def _kept_float32(layer) -> bool:
    """Layers whose computation stays float32 under bfloat16: the CRF (transition scores,
    forward algorithm, Viterbi)."""
    from seqlab.layers.crf import CRF

    return isinstance(layer, CRF)


def set_compute_precision(model, precision: str) -> None:
    """Make ``model``'s layers compute in ``precision`` (``float32`` or ``bfloat16``), in
    place; the weights stay as they are (float32). bfloat16 is Keras' ``mixed_bfloat16``
    policy on every layer but the CRF (see the module's docstring); ``float32`` undoes it
    (a model trained in mixed precision is saved so: it loads computing in float32)."""
    import keras

    from seqlab.compat import nested_layers

    if precision not in ("float32", "bfloat16"):
        raise ValueError(f"precision must be float32 or bfloat16, got {precision!r}")
    mixed = keras.DTypePolicy("mixed_bfloat16")
    plain = keras.DTypePolicy("float32")
    for layer in [model, *nested_layers(model)]:
        if isinstance(layer, keras.layers.InputLayer):
            continue  # its dtype is the input's
        current = layer.dtype_policy.name
        if current not in ("float32", "mixed_bfloat16", "mixed_float16"):
            continue  # float64, quantized: left as they are
        keep = precision == "float32" or _kept_float32(layer)
        layer.dtype_policy = plain if keep else mixed


def compute_precision(model) -> str:
    """``bfloat16`` when some layer of ``model`` computes in bfloat16, else ``float32``."""
    from seqlab.compat import nested_layers

    return "bfloat16" if any(layer.compute_dtype == "bfloat16"
                             for layer in nested_layers(model)) else "float32"
