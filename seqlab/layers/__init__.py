"""seqlab's Keras layers, and the CRF loss its saved models name.

Importing this package registers each of them with Keras under the ``seqlab`` package
name, so ``keras.models.load_model("model.keras")`` finds them without custom_objects.
(The optimizers a saved model names are the trainer's: ``seqlab.training.optimizers``;
``import seqlab`` registers both, the moment Keras is imported.)
"""

import keras

from seqlab.layers.attention import SeqSelfAttention
from seqlab.layers.bilstm import FusedBidirectional  # noqa: F401  (registers)
from seqlab.layers.chars import CharCNN, PerToken  # noqa: F401  (registers)
from seqlab.layers.crf import CRF, CRFLoss  # noqa: F401  (registers)
from seqlab.layers.lookup import CharEmbedding, TagProjection, WordEmbedding  # noqa: F401 (registers)
from seqlab.layers.multihead import ConcatHeads, MultiHead, MultiHeadAttention  # noqa: F401
from seqlab.layers.scaled_dot import (
    ResidualScaledDotProductAttention,
    ScaledDotProductAttention,
)
from seqlab.layers.transformer import ScalarMix, TransformerWords  # noqa: F401 (registers)
from seqlab.layers.weighted import SeqWeightedAttention

__all__ = [
    "MultiHead",
    "MultiHeadAttention",
    "ResidualScaledDotProductAttention",
    "ScaledDotProductAttention",
    "SeqSelfAttention",
    "SeqWeightedAttention",
    "get_custom_objects",
]

_PACKAGE = "seqlab"


def get_custom_objects():
    """Every class registered under the ``seqlab`` package, keyed by its class name.

    Pass it as ``custom_objects`` to load models saved by other packages (for example
    keras-self-attention, whose configs name ``SeqSelfAttention`` without a package).
    Layers added later (e.g. a CRF) appear here as soon as their module is imported
    with ``@keras.saving.register_keras_serializable(package="seqlab")``.
    """
    prefix = _PACKAGE + ">"
    return {
        name[len(prefix):]: obj
        for name, obj in keras.saving.get_custom_objects().items()
        if name.startswith(prefix)
    }
