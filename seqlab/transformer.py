"""Transformer embeddings of words from a local checkpoint (keras-hub; nothing is downloaded).

A word's vector is pooled from the hidden states of its subwords, computed by a pretrained
encoder read from a local directory: a keras-hub preset (``backbone.save_to_preset``) or a
Hugging Face model directory (``config.json``, ``model.safetensors``, ``vocab.txt``,
``tokenizer_config.json``). keras-hub is an optional extra (``pip install seqlab[pretrained]``):
this module imports it, and Keras, only inside the functions that need them, so ``import
seqlab`` stays light.

The pieces, in the order a run uses them:

- :func:`load_checkpoint` (config key ``model.transformer.path``) reads the directory into a
  :class:`Checkpoint` (backbone, tokenizer, sizes), or raises a one-line
  :class:`~seqlab.errors.SeqlabError` naming the key: a path that does not exist or holds no
  checkpoint, a hub name (``bert_base_en``, ``hf://org/model``, ``kaggle://...``: refused, never
  downloaded), a model type keras-hub cannot convert, a tokenizer that is not WordPiece (BERT,
  DistilBERT are read; RoBERTa-style BPE is refused), a missing vocabulary or weights file,
  keras-hub not installed.
- :func:`resolve_layers` (``model.transformer.layers``) and :func:`check_pooling`
  (``model.transformer.pooling``) validate the other two keys against the checkpoint.
- :class:`Encoder` does the work: each distinct word is tokenized once (cached; keras-hub's
  ids, most words through the Rust WordPiece of :mod:`seqlab.wordpiece`); a word the
  tokenizer turns into nothing (an empty string, a control or zero-width character) gets the
  unknown token, so every word has a vector; each sentence is cut into windows of at most the
  checkpoint's ``max_sequence_length`` subwords including ``[CLS]``/``[SEP]``
  (:func:`plan_windows`: overlapping, with context on both sides, each word read from the window
  where it is most central; a sentence that fits is one window, so nothing is ever truncated).
  ``Encoder.encode(sentences)`` gives the NumPy batch, ``Encoder.__call__(batch)`` the
  differentiable forward pass in ``keras.ops`` (backbone over the windows, selected hidden
  states stacked, subwords pooled in-graph), and ``Encoder.word_features(sentences)`` the frozen
  pass: per sentence a float array ``(n_words, n_layers, hidden)``.

Hidden states are numbered as Hugging Face's ``output_hidden_states``: 0 is the embedding layer's
output (token + position + segment embeddings, layer-normalised), 1..N the N transformer blocks;
negative indices count from the end (-1 is the last block). ``layers: last`` is ``[-1]``;
``layers: all`` is every one of them, the embedding output included, as ELMo and flair mix them.

How the model plugs it in (``seqlab.layers.transformer``; the same ``TransformerWords`` layer
sits in the graph either way, so ``model.keras`` carries the backbone and the vocabulary):

- frozen (``trainable: false``): ``TransformerWords.word_features(sentences)`` once a run (the
  frozen pass, progress callback included), padded per batch to ``(batch, words, n_layers,
  hidden)`` and fed as an input; the layer passes it through, then ``ScalarMix(n_layers)`` turns
  it into ``(batch, words, hidden)`` (with one layer it is a learned scale), concatenated with
  the word embedding and the char encoder.
- fine-tuned (``trainable: true``): the batch of ``TransformerWords.encode(sentences)``
  (``token_ids``, ``padding_mask``, ``subword_index``, ``subword_count``) is the input, the
  backbone runs in the graph, and the output has the frozen features' shape.
- prediction: the Tagger finds the ``TransformerWords`` layer of the loaded model and computes
  its input from raw words; neither the network nor the checkpoint directory is needed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from seqlab.errors import SeqlabError
from seqlab.wordpiece import WordPieces

PATH_KEY = "model.transformer.path"
LAYERS_KEY = "model.transformer.layers"
POOLING_KEY = "model.transformer.pooling"
CONTEXT_KEY = "model.transformer.context"
POOLINGS = ("first", "last", "mean")
# Hugging Face model types whose tokenizer is WordPiece, and keras-hub's tokenizer for each.
WORDPIECE_MODEL_TYPES = {"bert": "BertTokenizer", "distilbert": "DistilBertTokenizer"}
_HUB_SCHEMES = ("hf://", "kaggle://", "gs://", "s3://", "http://", "https://", "modelscope://")


def _keras_hub():
    try:
        import keras_hub
    except ImportError as error:
        raise SeqlabError(
            f"{PATH_KEY}: transformer embeddings need keras-hub, which is not installed "
            f"({error}); install seqlab[pretrained]"
        ) from None
    return keras_hub


@dataclass
class Checkpoint:
    """A pretrained encoder read from a local directory.

    Attributes:
        backbone: the keras-hub backbone (a functional Keras model).
        tokenizer: its keras-hub WordPiece tokenizer.
        path: the directory it was read from.
        source: ``"keras-hub"`` (a preset saved by keras-hub) or ``"huggingface"``.
        num_layers: transformer blocks (hidden states are ``num_layers + 1``, with the
            embedding output).
        hidden_dim: the size of each hidden state.
        max_length: the most subwords one window may hold, ``[CLS]`` and ``[SEP]`` included.
    """

    backbone: object
    tokenizer: object
    path: str
    source: str
    num_layers: int
    hidden_dim: int
    max_length: int


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _read_json(path: str, what: str) -> dict:
    try:
        with open(path, encoding="utf-8") as file:
            data = json.load(file)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SeqlabError(
            f"{PATH_KEY}: cannot read {what} {path}: {_first_line(error)}"
        ) from None
    if not isinstance(data, dict):
        raise SeqlabError(f"{PATH_KEY}: {what} {path} is not a JSON object")
    return data


def _check_local(path) -> str:
    """The checkpoint directory as a string, or a SeqlabError for anything else."""
    if not isinstance(path, (str, os.PathLike)) or not str(path).strip():
        raise SeqlabError(
            f"{PATH_KEY}: expected the path of a local checkpoint directory, got {path!r}"
        )
    text = os.fspath(path)
    if any(text.lower().startswith(scheme) for scheme in _HUB_SCHEMES) or (
        "://" in text and not os.path.exists(text)
    ):
        raise SeqlabError(
            f"{PATH_KEY}: {text!r} is a hub address; seqlab never downloads: give the path of "
            "a local keras-hub preset or Hugging Face model directory"
        )
    if not os.path.exists(text):
        hint = ""
        if os.sep not in text and "/" not in text:
            hint = " (a bare name such as a keras-hub preset is never downloaded)"
        raise SeqlabError(
            f"{PATH_KEY}: {text} does not exist{hint}: expected a local keras-hub preset "
            "or Hugging Face model directory"
        )
    if not os.path.isdir(text):
        raise SeqlabError(
            f"{PATH_KEY}: {text} is a file: expected a checkpoint directory (keras-hub preset "
            "or Hugging Face model directory holding config.json)"
        )
    return text


def _require(directory: str, names: Sequence[str], what: str) -> None:
    if not any(os.path.isfile(os.path.join(directory, name)) for name in names):
        raise SeqlabError(
            f"{PATH_KEY}: {directory} has no {what} ({' or '.join(names)})"
        )


def load_checkpoint(path) -> Checkpoint:
    """Read a pretrained encoder and its tokenizer from a local directory; never downloads.

    Args:
        path: a keras-hub preset directory (``config.json`` naming a keras-hub class,
            ``model.weights.h5``, ``tokenizer.json`` and ``assets/tokenizer/vocabulary.txt``)
            or a Hugging Face directory (``config.json`` with ``model_type`` bert or distilbert,
            ``model.safetensors``, ``vocab.txt``, ``tokenizer_config.json``).

    Returns:
        a :class:`Checkpoint`.

    Raises:
        SeqlabError: one line naming ``model.transformer.path`` and what was expected.
    """
    directory = _check_local(path)
    config_path = os.path.join(directory, "config.json")
    if not os.path.isfile(config_path):
        raise SeqlabError(
            f"{PATH_KEY}: {directory} holds no checkpoint (no config.json): expected a "
            "keras-hub preset or Hugging Face model directory"
        )
    config = _read_json(config_path, "checkpoint config")
    keras_hub = _keras_hub()
    if "registered_name" in config:
        source = "keras-hub"
        _require(directory, ["tokenizer.json"], "tokenizer config")
        _require(
            directory, [os.path.join("assets", "tokenizer", "vocabulary.txt")],
            "tokenizer vocabulary",
        )
        _require(directory, ["model.weights.h5", "model.weights.json"], "weights file")
        tokenizer = _load(lambda: keras_hub.tokenizers.Tokenizer.from_preset(directory),
                          directory, "tokenizer")
    elif "model_type" in config:
        source = "huggingface"
        model_type = str(config["model_type"])
        tokenizer_class = WORDPIECE_MODEL_TYPES.get(model_type)
        if tokenizer_class is None:
            # Let keras-hub say whether it knows the type at all; either way it is refused.
            try:
                from keras_hub.src.utils.transformers.preset_loader import (
                    TransformersPresetLoader,
                )

                TransformersPresetLoader(directory, config)
            except Exception:
                raise SeqlabError(
                    f"{PATH_KEY}: keras-hub cannot convert model type {model_type!r} "
                    f"({config_path}); expected a WordPiece encoder: "
                    f"{', '.join(WORDPIECE_MODEL_TYPES)}"
                ) from None
            raise SeqlabError(
                f"{PATH_KEY}: model type {model_type!r} ({config_path}) is not supported: "
                f"expected a WordPiece encoder ({', '.join(WORDPIECE_MODEL_TYPES)}); "
                "BPE and SentencePiece tokenizers are not read"
            )
        _require(directory, ["vocab.txt"], "vocabulary file")
        _require(directory, ["model.safetensors", "model.safetensors.index.json"],
                 "safetensors weights (pytorch_model.bin is not read)")
        tokenizer_config = {}
        if os.path.isfile(os.path.join(directory, "tokenizer_config.json")):
            tokenizer_config = _read_json(
                os.path.join(directory, "tokenizer_config.json"), "tokenizer config"
            )
        # Hugging Face's BasicTokenizer: do_lower_case defaults to true, and strip_accents
        # unset follows do_lower_case (keras-hub's converter leaves accents on: "naïve" -> UNK).
        lowercase = bool(tokenizer_config.get("do_lower_case", True))
        strip_accents = tokenizer_config.get("strip_accents")
        strip_accents = lowercase if strip_accents is None else bool(strip_accents)
        cls = getattr(keras_hub.models, tokenizer_class)
        tokenizer = _load(
            lambda: cls(vocabulary=os.path.join(directory, "vocab.txt"), lowercase=lowercase,
                        strip_accents=strip_accents),
            directory, "vocabulary",
        )
    else:
        raise SeqlabError(
            f"{PATH_KEY}: {config_path} is neither a keras-hub preset config "
            "(registered_name) nor a Hugging Face config (model_type)"
        )
    from keras_hub.src.tokenizers.word_piece_tokenizer import WordPieceTokenizer

    if not isinstance(tokenizer, WordPieceTokenizer):
        raise SeqlabError(
            f"{PATH_KEY}: {directory} has a {type(tokenizer).__name__}: expected a WordPiece "
            "tokenizer (BERT, DistilBERT); BPE and SentencePiece tokenizers are not read"
        )
    backbone = _load(lambda: keras_hub.models.Backbone.from_preset(directory), directory,
                     "model")
    layers = getattr(backbone, "transformer_layers", None)
    if not layers or not hasattr(backbone, "max_sequence_length"):
        raise SeqlabError(
            f"{PATH_KEY}: {directory} holds a {type(backbone).__name__}: expected a "
            "transformer encoder (BERT, DistilBERT)"
        )
    return Checkpoint(
        backbone=backbone, tokenizer=tokenizer, path=directory, source=source,
        num_layers=len(layers), hidden_dim=int(backbone.hidden_dim),
        max_length=int(backbone.max_sequence_length),
    )


def _load(make, directory: str, what: str):
    try:
        return make()
    except SeqlabError:
        raise
    except Exception as error:  # keras-hub's ValueError / FileNotFoundError / KeyError ...
        raise SeqlabError(
            f"{PATH_KEY}: cannot load the {what} of {directory}: {_first_line(error)}"
        ) from None


def resolve_layers(layers, num_layers: int) -> list[int]:
    """The hidden states ``layers`` selects, as indices 0..num_layers (0: embedding output).

    Args:
        layers: ``"last"``, ``"all"``, or a list of distinct indices in
            ``-(num_layers + 1) .. num_layers`` (negative from the end: -1 the last block).
        num_layers: the checkpoint's transformer blocks.

    Raises:
        SeqlabError: naming ``model.transformer.layers``.
    """
    count = num_layers + 1
    if layers == "last":
        return [num_layers]
    if layers == "all":
        return list(range(count))
    if isinstance(layers, int) and not isinstance(layers, bool):
        layers = [layers]
    if not isinstance(layers, (list, tuple)) or not layers:
        raise SeqlabError(
            f"{LAYERS_KEY}: expected last, all or a non-empty list of layer indices, "
            f"got {layers!r}"
        )
    chosen = []
    for index in layers:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise SeqlabError(f"{LAYERS_KEY}: expected integer layer indices, got {index!r}")
        if not -count <= index < count:
            raise SeqlabError(
                f"{LAYERS_KEY}: layer {index} is out of range: this checkpoint has "
                f"{num_layers} layers, expected indices {-count}..{num_layers} "
                "(0: embeddings, -1: last)"
            )
        resolved = int(index) % count
        if resolved in chosen:
            raise SeqlabError(f"{LAYERS_KEY}: layer {index} is named twice")
        chosen.append(resolved)
    return chosen


def check_pooling(pooling) -> str:
    """``pooling`` if it is one of first, last, mean; else a SeqlabError naming the key."""
    if pooling not in POOLINGS:
        raise SeqlabError(f"{POOLING_KEY}: expected one of {', '.join(POOLINGS)}, got {pooling!r}")
    return pooling


def check_context(context) -> int:
    """``context`` (subwords of document context on each side) if it is a non-negative
    integer; else a SeqlabError naming ``model.transformer.context``."""
    if isinstance(context, bool) or not isinstance(context, (int, np.integer)) or context < 0:
        raise SeqlabError(
            f"{CONTEXT_KEY}: expected a non-negative integer (subwords of the neighbouring "
            f"sentences on each side; 0: none), got {context!r}"
        )
    return int(context)


# The context of one sentence: the subword ids of its document's text before it and after it.
Context = tuple[tuple[int, ...], tuple[int, ...]]
NO_CONTEXT: Context = ((), ())


def plan_contexts(pieces: Sequence[Sequence[Sequence[int]]], documents: Sequence | None,
                  context: int, budget: int) -> list[Context]:
    """Each sentence's document context (FLERT, Schweter & Akbik 2020), trimmed to the budget.

    A sentence is read with up to ``context`` subwords of the sentences before it and after
    it in the same document; ``documents[i]`` names sentence ``i``'s document, and sentences
    of one document are consecutive in the list (None: a sentence of its own; empty sentences
    add nothing). The window must still hold: each side keeps at most
    ``(budget - own subwords) // 2`` (the subwords nearest the sentence), so a sentence too
    long for one window gets no context and is windowed as without it.

    Args:
        pieces: per sentence, each word's subword ids (:meth:`Encoder.subwords`).
        documents: per sentence, its document (any value compared with ``==``; None: none),
            or None: no sentence has context.
        context: the most subwords on each side (0: none).
        budget: the most subwords a window holds (special tokens excluded).

    Returns:
        per sentence ``(left, right)``: tuples of subword ids, left the end of the text
        before, right the start of the text after.
    """
    n = len(pieces)
    if not context or documents is None:
        return [NO_CONTEXT] * n
    flat = [[p for word in sentence for p in word] for sentence in pieces]
    out = []
    for i in range(n):
        document = documents[i]
        side = min(context, max(budget - len(flat[i]), 0) // 2)
        if document is None or side == 0:
            out.append(NO_CONTEXT)
            continue
        left: list[int] = []
        j = i - 1
        while j >= 0 and documents[j] == document and len(left) < side:
            left[:0] = flat[j]
            j -= 1
        right: list[int] = []
        j = i + 1
        while j < n and documents[j] == document and len(right) < side:
            right.extend(flat[j])
            j += 1
        out.append((tuple(left[len(left) - side:] if len(left) > side else left),
                    tuple(right[:side])))
    return out


def feature_keys(sentences: Sequence[Sequence[str]],
                 contexts: Sequence[Context] | None = None) -> list[tuple]:
    """What a sentence's frozen features depend on, as a dict key: its words and its context
    (:func:`plan_contexts`): the key of the Tagger's feature cache and of a run's dev and
    test features."""
    if contexts is None:
        contexts = [NO_CONTEXT] * len(sentences)
    return [(tuple(s), c) for s, c in zip(sentences, contexts)]


def plan_windows(lengths: Sequence[int], budget: int) -> tuple[list[tuple[int, int]], list[int]]:
    """Cut a sentence into overlapping windows of whole words.

    Args:
        lengths: each word's subword count (each at most ``budget // 2``).
        budget: the most subwords a window may hold (special tokens excluded).

    Returns:
        ``(windows, owner)``: windows as ``(first word, end word)`` pairs, consecutive ones
        overlapping by about half a window; ``owner[i]`` is the window word ``i`` is read from,
        the one where it is most central (the most subwords of context on its shorter side;
        ties go to the earlier window). A sentence that fits is one window.
    """
    n = len(lengths)
    offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
    if offsets[-1] <= budget:
        return [(0, n)], [0] * n
    stride = max(1, budget // 2)
    windows = []
    start = 0
    while True:
        end = int(np.searchsorted(offsets, offsets[start] + budget, side="right")) - 1
        end = max(end, start + 1)
        windows.append((start, end))
        if end >= n:
            break
        following = int(np.searchsorted(offsets, offsets[start] + stride, side="left"))
        start = max(min(following, end), start + 1)
    owner = []
    for word in range(n):
        best, best_score = 0, None
        for w, (first, end) in enumerate(windows):
            if first <= word < end:
                score = min(offsets[word] - offsets[first], offsets[end] - offsets[word + 1])
                if best_score is None or score > best_score:
                    best, best_score = w, score
        owner.append(best)
    return windows, owner


class Encoder:
    """Words to pooled subword hidden states, with a checkpoint's backbone and tokenizer.

    Args:
        backbone: a keras-hub encoder backbone (``transformer_layers``,
            ``max_sequence_length``).
        tokenizer: its keras-hub WordPiece tokenizer.
        layers: ``"last"``, ``"all"`` or a list of hidden-state indices (see
            :func:`resolve_layers`).
        pooling: ``"first"``, ``"last"`` or ``"mean"`` of a word's subword vectors.
        max_length: the most subwords per window, ``[CLS]``/``[SEP]`` included; defaults to
            (and may not exceed) the backbone's ``max_sequence_length``.
        context: the most subwords of document context on each side of a sentence
            (:func:`plan_contexts`; 0: none, each sentence read alone).

    Attributes:
        layer_indices: the selected hidden states (0: embeddings, N: last block).
        num_outputs: ``len(layer_indices)``.
        hidden_dim: the size of each hidden state.
        max_word_subwords: a word of more subwords keeps its first ``max_word_subwords - 1``
            and its last one (``first``/``last`` pooling stay exact); ``capped_words`` counts
            the distinct words it happened to.
    """

    def __init__(self, backbone, tokenizer, layers="last", pooling="first",
                 max_length: int | None = None, context: int = 0) -> None:
        self.backbone = backbone
        self.tokenizer = tokenizer
        self.num_layers = len(backbone.transformer_layers)
        self.hidden_dim = int(backbone.hidden_dim)
        self.layer_indices = resolve_layers(layers, self.num_layers)
        self.num_outputs = len(self.layer_indices)
        self.pooling = check_pooling(pooling)
        limit = int(backbone.max_sequence_length)
        if max_length is None:
            max_length = limit
        if not isinstance(max_length, int) or not 4 <= max_length <= limit:
            raise SeqlabError(
                f"model.transformer.max_length: expected an integer from 4 to the checkpoint's "
                f"maximum {limit}, got {max_length!r}"
            )
        self.max_length = max_length
        self.budget = max_length - 2
        self.context = check_context(context)
        self.max_word_subwords = max(1, self.budget // 2)
        self._special = None
        self._cache: dict[str, tuple[int, ...]] = {}
        self.wordpieces = WordPieces(tokenizer)
        self.capped_words = 0
        self._hidden_model = None
        self._forward = None

    # -- words to subwords ------------------------------------------------------------------
    def special_ids(self) -> tuple[int, int, int, int]:
        """``(cls, sep, pad, unk)`` ids; read on first use (a loaded model's tokenizer gets
        its vocabulary after it is made)."""
        if self._special is None:
            t = self.tokenizer
            self._special = tuple(
                int(t.token_to_id(token))
                for token in (t.start_token, t.end_token, t.pad_token, t.oov_token)
            )
        return self._special

    def subwords(self, words: Sequence[str]) -> list[tuple[int, ...]]:
        """Each word's subword ids; distinct words are tokenized once (cached), an empty
        result becomes the unknown token, a long word is capped (``max_word_subwords``)."""
        new = sorted({w for w in words if w not in self._cache})
        for chunk in range(0, len(new), 8192):
            batch = new[chunk:chunk + 8192]
            for word, pieces in zip(batch, self.wordpieces(batch)):
                pieces = [int(p) for p in pieces] or [self.special_ids()[3]]
                if len(pieces) > self.max_word_subwords:
                    self.capped_words += 1
                    pieces = pieces[:self.max_word_subwords - 1] + pieces[-1:]
                self._cache[word] = tuple(pieces)
        return [self._cache[w] for w in words]

    def contexts(self, sentences: Sequence[Sequence[str]],
                 documents: Sequence | None = None) -> list[Context]:
        """Each sentence's ``(left, right)`` context subword ids (:func:`plan_contexts` with
        this encoder's ``context`` and budget); all empty when ``documents`` is None or
        ``context`` is 0."""
        if not self.context or documents is None:
            return [NO_CONTEXT] * len(sentences)
        if len(documents) != len(sentences):
            raise ValueError(f"{len(documents)} documents for {len(sentences)} sentences")
        words = [w for s in sentences for w in s]
        pieces = iter(self.subwords(words))
        split = [[next(pieces) for _ in s] for s in sentences]
        return plan_contexts(split, documents, self.context, self.budget)

    # -- the NumPy batch ---------------------------------------------------------------------
    def encode(self, sentences: Sequence[Sequence[str]],
               contexts: Sequence[Context] | None = None) -> dict[str, np.ndarray]:
        """The inputs of :meth:`__call__` for a batch of sentences (lists of words).

        Args:
            sentences: lists of words.
            contexts: per sentence ``(left, right)`` subword ids (:meth:`contexts`), read
                around it in its window: ``[CLS] left sentence right [SEP]`` (only the
                sentence's words are pooled); None: none. A sentence cut into windows has
                none (:func:`plan_contexts` gives it none).

        Returns:
            ``token_ids`` and ``padding_mask``: int32 ``(batch, windows, length)``, each window
            ``[CLS] subwords [SEP]`` then padding (a sentence with fewer windows than the
            batch's most gets windows holding only ``[CLS] [SEP]``); ``subword_index``: int32
            ``(batch, words, k)``, the positions of each word's subwords in its sentence's
            windows laid end to end (``window * length + position``); ``subword_count``: int32
            ``(batch, words)``, how many of them are real (0 for padding words).
        """
        words = [w for sentence in sentences for w in sentence]
        pieces = iter(self.subwords(words))
        plans = []
        for row, sentence in enumerate(sentences):
            ids = [next(pieces) for _ in sentence]
            windows, owner = plan_windows([len(p) for p in ids], self.budget)
            left, right = contexts[row] if contexts is not None else NO_CONTEXT
            if (left or right) and (len(windows) > 1 or len(left) + len(right) + sum(
                    len(p) for p in ids) > self.budget):
                raise ValueError(f"the context of sentence {row} does not fit the window "
                                 f"budget of {self.budget} subwords (see plan_contexts)")
            plans.append((ids, windows, owner, left, right))
        batch = len(sentences)
        n_windows = max([len(p[1]) for p in plans] + [1])
        length = 2 + max(
            [len(left) + len(right) + sum(len(ids[i]) for i in range(a, b))
             for ids, windows, _, left, right in plans for a, b in windows] + [0]
        )
        n_words = max([len(s) for s in sentences] + [1])
        k = max([len(p) for ids, *_ in plans for p in ids] + [1])
        cls_id, sep_id, pad_id, _ = self.special_ids()
        token_ids = np.full((batch, n_windows, length), pad_id, np.int32)
        padding_mask = np.zeros((batch, n_windows, length), np.int32)
        token_ids[:, :, 0] = cls_id
        token_ids[:, :, 1] = sep_id
        padding_mask[:, :, :2] = 1
        index = np.zeros((batch, n_words, k), np.int32)
        count = np.zeros((batch, n_words), np.int32)
        for row, (ids, windows, owner, left, right) in enumerate(plans):
            starts = {}
            for w, (a, b) in enumerate(windows):
                flat = [*left, *(p for i in range(a, b) for p in ids[i]), *right]
                token_ids[row, w, 0] = cls_id
                token_ids[row, w, 1:len(flat) + 1] = flat
                token_ids[row, w, len(flat) + 1] = sep_id
                padding_mask[row, w, :] = 0
                padding_mask[row, w, :len(flat) + 2] = 1
                position = 1 + len(left)
                for i in range(a, b):
                    starts[(w, i)] = position
                    position += len(ids[i])
            for i, w in enumerate(owner):
                first = w * length + starts[(w, i)]
                n = len(ids[i])
                index[row, i, :n] = np.arange(first, first + n)
                count[row, i] = n
        return {"token_ids": token_ids, "padding_mask": padding_mask,
                "subword_index": index, "subword_count": count}

    # -- the forward pass (keras.ops, differentiable) ---------------------------------------
    def hidden_model(self):
        """A Keras model from the backbone's inputs to the selected hidden states, stacked
        ``(windows, length, n_layers, hidden)``; it shares the backbone's weights."""
        if self._hidden_model is None:
            import keras

            backbone = self.backbone
            first = backbone.transformer_layers[0].input
            states = [first[0] if isinstance(first, (list, tuple)) else first]
            states += [layer.output for layer in backbone.transformer_layers]
            chosen = [states[i] for i in self.layer_indices]
            stacked = keras.ops.stack(chosen, axis=2)
            self._hidden_model = keras.Model(backbone.input, stacked)
        return self._hidden_model

    def __call__(self, inputs: dict, training=None):
        """Pooled word features ``(batch, words, n_layers, hidden)`` from :meth:`encode`'s
        batch (NumPy arrays or tensors); padding words are zeros. Differentiable."""
        from keras import ops

        token_ids = ops.convert_to_tensor(inputs["token_ids"], "int32")
        padding_mask = ops.convert_to_tensor(inputs["padding_mask"], "int32")
        index = ops.convert_to_tensor(inputs["subword_index"], "int32")
        count = ops.convert_to_tensor(inputs["subword_count"], "int32")
        shape = ops.shape(token_ids)
        batch, n_windows, length = shape[0], shape[1], shape[2]
        flat_ids = ops.reshape(token_ids, (-1, length))
        flat_mask = ops.reshape(padding_mask, (-1, length))
        feed = {"token_ids": flat_ids, "padding_mask": flat_mask,
                "segment_ids": ops.zeros_like(flat_ids)}
        feed = {k: v for k, v in feed.items() if k in _input_names(self.backbone)}
        hidden = self.hidden_model()(feed, training=training)
        hidden = ops.reshape(
            hidden, (batch, n_windows * length, self.num_outputs, self.hidden_dim)
        )
        return pool_subwords(hidden, index, count, self.pooling)

    # -- the frozen pass ---------------------------------------------------------------------
    def word_features(self, sentences: Sequence[Sequence[str]], batch_size: int = 32,
                      dtype="float32",
                      progress: Callable[[int, int], None] | None = None,
                      contexts: Sequence[Context] | None = None, flat: bool = False,
                      combine: Callable[[np.ndarray], np.ndarray] | None = None):
        """Frozen features of every sentence, in order: ``(n_words, n_layers, hidden)`` each,
        views of one block (with ``flat``, that block: every sentence's words end to end);
        with ``combine``, ``(n_words, 1, width)``: the layers combined by it.

        Sentences are batched by subword length (windows of similar length together, so
        little padding); the result does not depend on the batching beyond float rounding
        and is the same on every call.

        Args:
            sentences: lists of words.
            batch_size: sentences per forward pass.
            dtype: ``"float32"``, or ``"float16"`` to halve the memory. Measured on MiniLM-L6
                over 1,000 CoNLL-2003 sentences: float16 changes features by at most 0.00098
                (``last``, values up to 3.8) and 0.0020 (``all``, values up to 7.6), a relative
                4.9e-4, float16's own rounding; a full 203,621-token CoNLL train pass holds
                0.31 GB (``last``) or 2.19 GB (``all``, 7 states) at float32, half at float16.
            progress: called as ``progress(done, total)`` in sentences after each batch.
            contexts: per sentence its document context (:meth:`contexts`), or None: each
                sentence read alone.
            flat: return the block ``(all words, n_layers, hidden)`` instead of its views.
            combine: the model's combining layer in NumPy (``ScalarMix.combine()``, the
                layers mixed by :func:`mix_layers`; ``ConcatLayers.combine()``), from
                ``(batch, words, n_layers, hidden)`` to ``(batch, words, 1, width)``: each
                batch's features are combined as they come, so the block holds one vector a
                word (a mix: a seventh of MiniLM's memory and copies at prediction).

        The block is allocated once, 64-byte aligned (TensorFlow then reads it in place,
        ``seqlab.batching.corpus_tensors``), and filled batch by batch: a block per sentence
        fragmented the heap between the pass's temporaries, and a CoNLL-2003 train pass of
        2.2 GB of features held 12 GB.
        """
        if np.dtype(dtype) not in (np.float32, np.float16):
            raise ValueError(f"dtype must be float32 or float16, got {dtype!r}")
        sentences = [list(s) for s in sentences]
        total = len(sentences)
        words = [w for s in sentences for w in s]
        self.subwords(words)
        cost = [sum(len(self._cache[w]) for w in s) for s in sentences]
        if contexts is not None:
            if len(contexts) != total:
                raise ValueError(f"{len(contexts)} contexts for {total} sentences")
            cost = [c + len(left) + len(right) for c, (left, right) in zip(cost, contexts)]
        order = sorted(range(total), key=lambda i: (cost[i], i))
        offsets = np.concatenate([[0], np.cumsum([len(s) for s in sentences], dtype=np.int64)])
        shape = (self.num_outputs, self.hidden_dim)
        if combine is not None:
            shape = combine(np.zeros((1, 1, *shape), np.float32)).shape[-2:]
        block = aligned_empty((int(offsets[-1]), *shape), dtype)
        done = 0
        forward = self._compiled()
        for chunk in range(0, total, batch_size):
            rows = [i for i in order[chunk:chunk + batch_size] if sentences[i]]
            if rows:
                batch = self.encode([sentences[i] for i in rows],
                                    None if contexts is None else [contexts[i] for i in rows])
                features = np.asarray(forward(batch))
                if combine is not None:
                    features = combine(features)
                for j, i in enumerate(rows):
                    block[offsets[i]:offsets[i + 1]] = features[j, :len(sentences[i])]
                del batch, features
            done += min(batch_size, total - chunk)
            if progress is not None:
                progress(done, total)
        if flat:
            return block
        return [block[offsets[i]:offsets[i + 1]] for i in range(total)]

    def _compiled(self):
        """The inference forward pass, traced once for every shape (TensorFlow), else eager."""
        if self._forward is None:
            import keras

            def forward(batch):  # float32 out, also from a backbone computing in bfloat16
                return keras.ops.cast(self(batch, training=False), "float32")

            if keras.backend.backend() == "tensorflow":
                import tensorflow as tf

                ranks = {"token_ids": 3, "padding_mask": 3, "subword_index": 3,
                         "subword_count": 2}
                signature = {k: tf.TensorSpec([None] * r, tf.int32) for k, r in ranks.items()}
                traced = tf.function(forward, input_signature=[signature])  # traced once
                self._forward = lambda batch: traced(
                    {k: tf.constant(v) for k, v in batch.items()}
                ).numpy()
            else:  # pragma: no cover - seqlab runs on TensorFlow
                self._forward = lambda batch: keras.ops.convert_to_numpy(forward(batch))
        return self._forward


def mix_layers(features: np.ndarray, coefficients) -> np.ndarray:
    """``sum_j coefficients[j] * features[..., j, :]`` as ``(..., 1, hidden)`` float32: a
    ``ScalarMix`` with fixed weights (``ScalarMix.coefficients``), in NumPy.

    The layers are added one by one in order, element by element, so a word's mixed vector
    is the same to the last bit however its features were batched (the frozen pass's
    batches, the feature cache's sentences)."""
    coefficients = np.asarray(coefficients, np.float32)
    if features.shape[-2] != len(coefficients):
        raise ValueError(f"{len(coefficients)} coefficients for {features.shape[-2]} layers")
    mixed = features[..., 0, :] * coefficients[0]
    for j in range(1, len(coefficients)):
        mixed += features[..., j, :] * coefficients[j]
    return mixed[..., None, :].astype(np.float32, copy=False)


def aligned_empty(shape, dtype, alignment: int = 64) -> np.ndarray:
    """``np.empty(shape, dtype)`` whose data starts on an ``alignment``-byte boundary, the
    alignment TensorFlow needs to use an array's memory without copying it."""
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    raw = np.empty(size + alignment, np.uint8)
    start = -raw.ctypes.data % alignment
    return raw[start:start + size].view(dtype).reshape(shape)


def freeze_pooler(backbone) -> None:
    """Keep BERT's pooler (keras-hub names it ``pooled_dense``) out of fine-tuning: word
    features never use it, and a weight without a gradient only warns."""
    for layer in backbone.layers:
        if layer.name == "pooled_dense":
            layer.trainable = False


def _input_names(backbone) -> set[str]:
    inputs = backbone.input
    if isinstance(inputs, dict):
        return set(inputs)
    return {t.name for t in backbone.inputs}


def pool_subwords(hidden, index, count, pooling: str):
    """Each word's vector from its subwords' hidden states, in ``keras.ops``.

    Args:
        hidden: ``(batch, positions, n_layers, hidden)``.
        index: int ``(batch, words, k)``: a word's subword positions (first ``count`` real).
        count: int ``(batch, words)``: its number of subwords (0: a padding word).
        pooling: ``"first"``, ``"last"`` or ``"mean"``.

    Returns:
        ``(batch, words, n_layers, hidden)``, zeros for padding words.

    The subwords are picked by one gather over the batch's rows laid end to end (a row of
    ``n_layers * hidden`` values a position): ``take_along_axis`` broadcast its index to
    every value and took 10x as long, a third of MiniLM's whole frozen pass.
    """
    from keras import ops

    shape = ops.shape(hidden)
    batch, positions, n_layers, size = shape[0], shape[1], shape[2], shape[3]
    rows = ops.reshape(hidden, (batch * positions, n_layers * size))
    index = index + (ops.arange(batch, dtype="int32") * positions)[:, None, None]
    real = ops.cast(ops.greater(count, 0), hidden.dtype)[:, :, None]
    if pooling in ("first", "last"):
        if pooling == "first":
            position = index[:, :, 0]
        else:
            last = ops.maximum(count - 1, 0)[:, :, None]
            position = ops.take_along_axis(index, last, axis=2)[:, :, 0]
        picked = ops.take(rows, position, axis=0) * real
    else:
        words, k = ops.shape(index)[1], ops.shape(index)[2]
        picked = ops.take(rows, ops.reshape(index, (-1,)), axis=0)
        picked = ops.reshape(picked, (batch, words, k, n_layers * size))
        valid = ops.cast(ops.arange(k)[None, None, :] < count[:, :, None], hidden.dtype)
        total = ops.sum(picked * valid[:, :, :, None], axis=2)
        divisor = ops.cast(ops.maximum(count, 1), hidden.dtype)[:, :, None]
        picked = total / divisor * real
    return ops.reshape(picked, (batch, -1, n_layers, size))
