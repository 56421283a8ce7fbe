"""seqlab: sequence labelling (NER, POS, chunking) with BiLSTM + self-attention on Keras 3.

``import seqlab`` registers seqlab's Keras layers, loss and optimizers, so
``keras.models.load_model("model.keras")`` works without custom_objects, and
``from seqlab import SeqSelfAttention`` (or any layer of the family) works as
``from keras_self_attention import ...`` did.

Importing seqlab does not import Keras (and so TensorFlow) itself: the layers register the
moment Keras is imported, or at once when it already is. That keeps the command line light by
its structure: ``seqlab --help`` and ``python -m seqlab.cli --help`` never start TensorFlow,
and its commands import it when they need it.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import sys

__version__ = "0.1.0"

# The layers `from seqlab import ...` gives (seqlab.layers.__all__; a test keeps them equal).
LAYERS = ("SeqSelfAttention", "SeqWeightedAttention", "ScaledDotProductAttention",
          "ResidualScaledDotProductAttention", "MultiHead", "MultiHeadAttention",
          "get_custom_objects")
__all__ = [*LAYERS, "__version__"]

# TensorFlow's C++ start-up chatter hides our own messages; users can still turn it back on.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def __getattr__(name):
    if name in LAYERS:
        import seqlab.layers

        return getattr(seqlab.layers, name)
    raise AttributeError(f"module 'seqlab' has no attribute {name!r}")


def _register() -> None:
    """Register with Keras every class a saved model or checkpoint names: the layers and the
    CRF loss (seqlab.layers) and the optimizers (seqlab.training.optimizers), each under the
    ``seqlab>`` package name."""
    import seqlab.layers  # noqa: F401
    import seqlab.training.optimizers  # noqa: F401


class _RegisterWithKeras(importlib.abc.MetaPathFinder):
    """Registers seqlab's classes (:func:`_register`) right after Keras itself is imported."""

    def find_spec(self, fullname, path, target=None):
        if fullname != "keras":
            return None
        sys.meta_path.remove(self)  # once: the real finders find Keras
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _ThenRegister(spec.loader)
        return spec


class _ThenRegister(importlib.abc.Loader):
    def __init__(self, loader) -> None:
        self._loader = loader

    def __getattr__(self, name):
        return getattr(self._loader, name)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        self._loader.exec_module(module)
        _register()


if "keras" in sys.modules:
    _register()
elif not any(isinstance(finder, _RegisterWithKeras) for finder in sys.meta_path):
    sys.meta_path.insert(0, _RegisterWithKeras())
