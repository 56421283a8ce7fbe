"""A trained model, loaded, and its forward pass: token lists in, tag ids (and tags) out.

The forward pass (:meth:`Tagger.forward_step`) is the network plus decoding, in ``keras.ops``;
prediction, evaluation, dev scoring in training and the SavedModel export all run it.
"""

from __future__ import annotations

import json
import warnings
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from seqlab.batching import padded_batches
from seqlab.compat import from_keras_saving, weight_shape_mismatch
from seqlab.decoding import all_to_tags, best_tags, to_tags
from seqlab.errors import SeqlabError
from seqlab.formats import Reading
from seqlab.model import ENCODED, ModelParts, check_format, stored_format
from seqlab.vocab import encode_corpus
from seqlab.windows import GLOBAL_MAX_LENGTH, check_max_length, in_windows


def load_model(path: str | Path):
    """Load a `.keras` file written by `seqlab train`, or raise SeqlabError saying what is wrong."""
    from seqlab.paths import model_file

    path = model_file(path)
    if not zipfile.is_zipfile(path):
        raise SeqlabError(f"{path}: not a .keras model archive (expected a file written by "
                          "`seqlab train`)")
    import keras

    import seqlab.layers  # noqa: F401  (registers seqlab's layers with Keras)

    check_format(_stored_format(path), str(path))  # before Keras builds what it may misread
    # Keras warns (on stderr, with its source path) where a damaged archive leaves weights
    # unloaded: such warnings become the one-line error, others pass on as they came.
    with warnings.catch_warnings(record=True) as caught:
        try:
            model = keras.models.load_model(path, compile=False)
        except Exception as exc:  # Keras raises many types for a broken archive.
            raise SeqlabError(f"{path}: could not load the model: {_load_error(exc)}") from None
    for warning in caught:
        if issubclass(warning.category, UserWarning) and from_keras_saving(warning.filename):
            raise SeqlabError(f"{path}: could not load the model: "
                              f"{_first_line(str(warning.message))}")
    for warning in caught:
        warnings.warn_explicit(warning.message, warning.category, warning.filename,
                               warning.lineno, source=warning.source)
    parts = ModelParts(model, str(path))  # a seqlab tagger, or SeqlabError
    Reading.from_dict(getattr(parts.tags, "reading", None), str(path))  # or SeqlabError
    return model


def _stored_format(path: Path):
    """The format version a model archive's ``config.json`` holds (1 when none), read before
    Keras builds the model, since a newer seqlab's model may not even deserialize. What is not
    there to read is left to Keras' loader and its message."""
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
        return stored_format(config)
    except Exception:  # noqa: BLE001 - a broken archive is Keras' loader's to describe
        return 1


def _first_line(text: str, most: int = 300) -> str:
    text = text.strip()
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= most else line[: most - 3] + "..."


def _load_error(exc: BaseException) -> str:
    """What went wrong in Keras' loader, in one line: the innermost cause (Keras wraps a
    layer's own error in two or three of its own), weights whose shape does not fit the
    configuration said as such."""
    shapes = weight_shape_mismatch(str(exc))
    if shapes:
        built, stored, variable = shapes
        return (f"the stored weights {variable or ''} are {stored} but the model's configuration "
                f"makes them {built} (a damaged or edited model?)").replace("  ", " ")
    seen = {id(exc)}
    while (inner := exc.__cause__ or exc.__context__) is not None and id(inner) not in seen:
        seen.add(id(inner))
        exc = inner
    return _first_line(str(exc)) or type(exc).__name__


class Tagger:
    """A trained model with its vocabularies: token lists in, tag lists out.

    Args:
        model: a model built by :func:`seqlab.model.build_model` (or loaded from model.keras).
        max_length: tag sentences longer than this in overlapping windows of this many tokens.
            None: :data:`seqlab.windows.GLOBAL_MAX_LENGTH` when the model has global
            attention, no limit otherwise; 0: never split.
        warn: called with a one-line message when a sentence is split into windows
            (default: :func:`warnings.warn`).
        precision: what the forward pass computes in: ``"float32"``, ``"bfloat16"`` (the
            products in bfloat16, softmax, CRF and masks in float32;
            :mod:`seqlab.precision`) or ``"auto"`` (bfloat16 where the CPU has units for
            it, :mod:`seqlab.hardware`); the model's layers are switched to it in place
            (their weights stay float32). None: as the model computes now (a loaded model:
            float32; a model in training: its training precision).
    """

    def __init__(self, model, max_length: int | None = None,
                 warn: Callable[[str], None] | None = None,
                 precision: str | None = None) -> None:
        self.parts = parts = ModelParts(model)
        self.model = model
        if precision is not None:
            from seqlab.precision import resolve, set_compute_precision

            set_compute_precision(model, resolve(precision))
        from seqlab.precision import compute_precision

        self.precision = compute_precision(model)  # float32 or bfloat16
        self.vocab, self.chars, self.labels = parts.vocab, parts.chars, parts.labels
        self.scheme, self.source_scheme = parts.scheme, parts.source_scheme
        self.crf, self.chunked = parts.crf, parts.chunked
        self.global_attention = parts.global_attention
        max_length = check_max_length(max_length)
        if max_length is None:
            max_length = GLOBAL_MAX_LENGTH if self.global_attention else 0
        self.max_length = max_length
        self.warn = warn or (lambda message: warnings.warn(message, stacklevel=3))
        self._compiled: dict = {}
        self._split = None  # (char model, after-chars model), built on first use
        # A frozen transformer's features of sentences already computed, keyed by the words
        # and the document context (`seqlab.transformer.feature_keys`) -> (words, L, H):
        # training puts the dev and test sets' here, so that scoring each epoch does not run
        # the transformer again. Prediction adds nothing to it.
        self.feature_cache: dict = {}

    @classmethod
    def load(cls, path: str | Path, **kwargs) -> Tagger:
        return cls(load_model(path), **kwargs)

    @property
    def reading(self):
        """How the model's training files were read (the defaults for reading other files)."""
        return self.parts.reading

    # ------------------------------------------------------------------ the forward pass
    def forward_step(self, probs: bool = False):
        """``step(inputs) -> (best tag ids, probability of each chosen tag or None)``: the
        network and the decoding in ``keras.ops``, for any backend and inside any graph
        (the SavedModel export traces it too). ``inputs``: the word ids (batch, time), or a
        dict with "words" and "chars" for models that read characters."""
        return self._step(self.model, probs)

    def _step(self, model, probs: bool):
        from keras import ops

        parts = self.parts

        def step(inputs):
            words = inputs["words"] if isinstance(inputs, dict) else inputs
            output = model(inputs, training=False)
            if probs == "output":  # the decoder's input, for seqlab.confidence
                return best_tags(parts, output, ops.not_equal(words, 0))[0], output
            return best_tags(parts, output, ops.not_equal(words, 0), probs)

        return step

    def _inference_parts(self):
        """The char encoder as a model of its own (None when the model reads no characters)
        and the network fed its features and a frozen transformer's mixed layers
        (`ModelParts.char_model`, `ModelParts.inference_model`), built once."""
        if self._split is None:
            run = None
            if self.chars is not None:
                run = char_model = self.parts.char_model()
                if _tensorflow():
                    import tensorflow as tf

                    spec = tf.TensorSpec([None, None, self.chars.max_length], tf.int32)
                    run = tf.function(lambda chars: tf.cast(char_model(chars, training=False),
                                                            tf.float32),
                                      input_signature=[spec], autograph=False)
            self._split = run, self.parts.inference_model()
        return self._split

    def _forward(self, probs: bool):
        """The forward pass, traced once on TensorFlow for every batch shape (Keras'
        `predict_on_batch` would retrace for each new sentence length). For models that
        read characters or a frozen transformer it is `ModelParts.inference_model`, fed the
        char features of :meth:`_char_table` and the mixed transformer features of
        :meth:`encode` (`predict_ids`)."""
        if probs in self._compiled:
            return self._compiled[probs]
        if self.chars is None and not self.parts.mixes_outside:
            step = self.forward_step(probs)
        else:
            step = self._step(self._inference_parts()[1], probs)
        if _tensorflow():
            import tensorflow as tf

            spec = tf.TensorSpec([None, None], tf.int32)
            if self.chars is not None or self.parts.transformer is not None:
                spec = {"words": spec}
            if self.chars is not None:
                spec["chars"] = tf.TensorSpec([None, None, self.parts.char_width], tf.float32)
            if self.parts.fine_tuned:
                spec.update({k: tf.TensorSpec([None] * (2 if k == "subword_count" else 3),
                                              tf.int32) for k in ENCODED})
            elif self.parts.transformer is not None:
                spec["transformer"] = tf.TensorSpec([None, None, 1, self.parts.mixed_width],
                                                    tf.float32)
            inner = step
            step = tf.function(lambda inputs: tuple(x for x in inner(inputs) if x is not None),
                               input_signature=[spec], autograph=False)
        self._compiled[probs] = step
        return step

    def _char_table(self, rows: np.ndarray, chunk: int = 2048) -> np.ndarray:
        """The char encoder's features of each distinct token (``rows``: their char ids)
        after a row of zeros for padding: (1 + distinct tokens, features). The encoder
        reads each token on its own, so running it once per distinct token gives each
        token's features to the last bit, in a fourth of the time on CoNLL-2003 test
        (BENCHMARKS.md)."""
        run = self._inference_parts()[0]
        table = np.zeros((len(rows) + 1, self.parts.char_width), dtype=np.float32)
        for start in range(0, len(rows), chunk):
            features = np.asarray(run(rows[None, start:start + chunk]), np.float32)[0]
            table[1 + start:1 + start + len(features)] = features
        return table

    def predict_ids(self, sentences: Sequence[Sequence[str]], batch_size: int = 64,
                    probs: bool | str = False, documents: Sequence | None = None
                    ) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
        """Tag ids for each sentence, in input order (no sentence is split here).

        Sentences are sorted by length, batched and padded per batch (padding is masked).
        Empty sentences give empty arrays. ``documents``: see :meth:`encode`.

        Returns:
            ``(ids, scores)``: ``ids[i]`` the tag ids of sentence ``i``; ``scores[i]`` the
            probability of each chosen tag when ``probs``, the network's output (time, K)
            when ``probs == "output"``, else ``scores`` is None.
        """
        reads_chars = self.chars is not None
        encoded = self.encode(sentences, distinct_chars=reads_chars, documents=documents,
                              mixed=True)
        table = self._char_table(encoded.chars) if reads_chars else None
        empty = np.zeros(0, dtype=np.int64)
        ids: list[np.ndarray] = [empty] * len(sentences)
        none = np.zeros((0, len(self.labels)) if probs == "output" else 0, np.float32)
        scores = [none] * len(sentences) if probs else None
        lengths = encoded.lengths
        forward = self._forward(probs)
        for rows, batch in padded_batches(encoded, batch_size):
            if reads_chars:
                batch = {k: v for k, v in batch.items() if k != "types"} | {
                    "chars": table[batch["types"]]}
            batch = self.with_encoded(batch, [sentences[i] for i in rows])
            out = forward(batch)
            best = np.asarray(out[0])
            chosen = np.asarray(out[1]) if probs else None
            for r, i in enumerate(rows):
                ids[i] = best[r, : lengths[i]]
                if probs:
                    scores[i] = chosen[r, : lengths[i]]
        return ids, scores

    @property
    def context(self) -> int:
        """Subwords of document context the model's transformer reads on each side of a
        sentence (``model.transformer.context``; 0: none, or no transformer)."""
        layer = self.parts.transformer
        return 0 if layer is None else int(getattr(layer, "context", 0))

    def encode(self, sentences: Sequence[Sequence[str]], distinct_chars: bool = False,
               documents: Sequence | None = None, mixed: bool = False):
        """The sentences as the model's inputs (``seqlab.vocab.Encoded``): word and char ids,
        and, when the model has a transformer, its frozen features of the raw words (from
        :attr:`feature_cache` where there, else computed by its ``word_features``).

        ``documents``: each sentence's document (None for one that stands alone), sentences
        of a document consecutive: a transformer with :attr:`context` reads each sentence
        with its neighbours in its document, as in training
        (``seqlab.transformer.plan_contexts``); None: every sentence alone.

        ``mixed``: the transformer's layers combined by the model's ``ScalarMix`` (or
        ``ConcatLayers``) as it is now, in NumPy, ``(words, 1, width)``, for
        :meth:`_forward`; else ``(words, L, H)``, the whole model's input."""
        encoded = encode_corpus(self.vocab, sentences, chars=self.chars,
                                distinct_chars=distinct_chars)
        if (layer := self.parts.transformer) is not None and not self.parts.fine_tuned:
            from seqlab.transformer import feature_keys

            combine = self.parts.transformer_mix().combine() if mixed else None
            keys = feature_keys(sentences, layer.contexts(sentences, documents))
            todo = list({k: None for k in keys if k not in self.feature_cache})
            found = dict(zip(todo, layer.word_features([list(k[0]) for k in todo],
                                                       contexts=[k[1] for k in todo],
                                                       combine=combine))) if todo else {}
            features = [found[k] if k in found else self.feature_cache[k] if combine is None
                        else combine(self.feature_cache[k]) for k in keys]
            empty = (1, self.parts.mixed_width) if mixed else (layer.num_outputs,
                                                                layer.hidden_dim)
            encoded.transformer = np.concatenate(features) if features else \
                np.zeros((0, *empty), np.float32)
        return encoded

    def with_encoded(self, batch, sentences):
        """A padded batch (``padded_batches``) of ``sentences`` with a fine-tuned
        transformer's inputs (``TransformerWords.encode``) added; as it was otherwise."""
        if not self.parts.fine_tuned:
            return batch
        batch = dict(batch) if isinstance(batch, dict) else {"words": batch}
        encoded = self.parts.transformer.encode(sentences)
        width = batch["words"].shape[1]
        for key in ("subword_index", "subword_count"):  # an empty sentence alone: 0 words
            value = encoded[key]
            if value.shape[1] < width:
                pad = [(0, 0), (0, width - value.shape[1])] + [(0, 0)] * (value.ndim - 2)
                encoded[key] = np.pad(value, pad)
        batch.update(encoded)
        return batch

    # ------------------------------------------------------------------ tags
    def _predict(self, sentences, batch_size: int, probs: bool, documents=None):
        why = "global attention" if self.global_attention else "max_length"
        if not self.context:
            documents = None
        return in_windows(lambda pieces, docs: self.predict_ids(pieces, batch_size, probs,
                                                                docs),
                          sentences, self.max_length, self.warn, why, documents)

    def tag(self, sentences: Sequence[Sequence[str]], batch_size: int = 64,
            documents: Sequence | None = None) -> list[list[str]]:
        """Tags for each sentence, in the scheme of the training files; ``documents``: each
        sentence's document, for a transformer's context (:meth:`encode`)."""
        ids, _ = self._predict(sentences, batch_size, False, documents)
        return self.tags_of(ids)

    def outputs(self, sentences: Sequence[Sequence[str]], batch_size: int = 64,
                documents: Sequence | None = None
                ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """``(ids, outputs)``: each sentence's best tag ids and the network's output (time,
        K) that :mod:`seqlab.confidence` reads, from one forward pass (sentences tagged in
        windows have their windows' outputs joined); ``documents``: as :meth:`tag`."""
        return self._predict(sentences, batch_size, "output", documents)

    @property
    def temperature(self) -> float:
        """What the scores divide the log potentials by (fitted on the dev set in training;
        1 for older models): :func:`seqlab.confidence.model_potentials`."""
        return self.parts.temperature

    def analyse(self, sentences: Sequence[Sequence[str]], batch_size: int = 64,
                nbest: int = 0, temperature: float | None = None,
                documents: Sequence | None = None) -> list:
        """Each sentence's best tags with the probability of each of its chunks and of the
        whole sequence, and its ``nbest`` most probable tag sequences
        (:class:`seqlab.confidence.Analysis`; ids in the model's scheme, see :meth:`to_tags`).
        A sentence tagged in windows is scored on its windows' outputs joined.
        ``temperature``: the scores' (None: the model's, :attr:`temperature`);
        ``documents``: as :meth:`tag`."""
        from seqlab.confidence import analyse

        ids, outputs = self.outputs(sentences, batch_size, documents)
        return analyse(ids, outputs, self.parts, n_best=nbest, temperature=temperature)

    def to_tags(self, ids) -> list[str]:
        """Tag ids of one sentence as tags in the training files' scheme."""
        return to_tags(np.asarray(ids), self.labels, self.scheme, self.source_scheme)

    def tags_of(self, ids) -> list[list[str]]:
        """:meth:`to_tags` of each sentence's ids, each distinct sequence converted once."""
        return all_to_tags(ids, self.labels, self.scheme, self.source_scheme)

    def tag_with_probs(self, sentences: Sequence[Sequence[str]], batch_size: int = 64
                       ) -> tuple[list[list[str]], list[list[float]]]:
        """Tags for each sentence and the model's probability of each (a CRF's marginal, a
        softmax model's output probability; at the model's :attr:`temperature`), rounded to
        6 decimals, as :meth:`analyse` gives them."""
        from seqlab.confidence import round_probs

        analyses = self.analyse(sentences, batch_size)
        return self.tags_of([a.ids for a in analyses]), [round_probs(a.probs) for a in analyses]


def _tensorflow() -> bool:
    import keras

    return keras.backend.backend() == "tensorflow"
