"""seqlab: sequence labelling (NER, POS, chunking) with BiLSTM + self-attention on Keras 3.

`import seqlab` registers seqlab's Keras layers, so `keras.models.load_model("model.keras")`
works without custom_objects. The `seqlab` command line skips that import (it would pull in
TensorFlow just to print --help); its commands import what they need when they run.
"""

import os
import sys

__version__ = "0.1.0"
__all__ = ["SeqSelfAttention", "__version__", "get_custom_objects"]

# TensorFlow's C++ start-up chatter hides our own messages; users can still turn it back on.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

_LAZY = os.path.basename(sys.argv[0]) == "seqlab" if sys.argv and sys.argv[0] else False

if not _LAZY:
    from seqlab.layers import SeqSelfAttention, get_custom_objects


def __getattr__(name):
    if name in ("SeqSelfAttention", "get_custom_objects"):
        import seqlab.layers

        return getattr(seqlab.layers, name)
    raise AttributeError(f"module 'seqlab' has no attribute {name!r}")
