"""Run by test_export.py in a fresh process that cannot import seqlab or keras, only
TensorFlow: load the SavedModel, tag the first column of a CoNLL file through its ``tag``
function and its serving signature, and print both with the stored labels and scheme (and
any seqlab or keras module that got imported) as one JSON line.

Usage: python export_load_and_tag.py SAVED_MODEL_DIR DATA_FILE
"""

import json
import sys

sys.modules["seqlab"] = None   # as if not installed: importing it raises ImportError
sys.modules["keras"] = None
import tensorflow as tf  # noqa: E402  (after hiding seqlab and keras)

saved, data = sys.argv[1], sys.argv[2]
sentences, tokens = [], []
for line in open(data, encoding="utf-8"):
    if line.strip():
        tokens.append(line.split()[0])
    elif tokens:
        sentences.append(tokens)
        tokens = []
if tokens:
    sentences.append(tokens)

loaded = tf.saved_model.load(saved)
tags = loaded.tag(tf.ragged.constant(sentences)).to_list()
serve = loaded.signatures["serving_default"]
lengths = [len(s) for s in sentences]
width = max(lengths)
padded = [s + [""] * (width - len(s)) for s in sentences]
out = serve(tokens=tf.constant(padded), lengths=tf.constant(lengths, tf.int32))
served = [row[:n] for row, n in zip(out["tags"].numpy().tolist(), lengths)]
print(json.dumps({
    "tags": [[t.decode() for t in row] for row in tags],
    "served": [[t.decode() for t in row] for row in served],
    "labels": [x.decode() for x in loaded.labels.numpy().tolist()],
    "scheme": loaded.scheme.numpy().decode(),
    "imported": sorted(m for m, v in sys.modules.items()
                       if v is not None and m.split(".")[0] in ("seqlab", "keras")),
}))
