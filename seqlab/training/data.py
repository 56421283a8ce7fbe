"""The data a run trains on: the corpus read, its tag scheme checked, vocabularies built, the
training set encoded (in memory) or read afresh each epoch (streamed). Both ways go through
the same reader and the same checks."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seqlab.config import Config
from seqlab.errors import SeqlabError
from seqlab.formats import (
    Reading,
    documents_of,
    guess_corpus_format,
    read_corpus,
    sentences,
)
from seqlab.schemes import (
    convert,
    detect_scheme,
    expected_tags,
    invalid_transitions,
    normalize_scheme,
    tag_fits,
)


def reading_of(config: Config) -> Reading:
    """How the config's files are read; a format left open is told from the training file."""
    d = config.data
    return Reading(d.format or guess_corpus_format(d.train), d.token_column, d.label_column,
                   d.label_field, d.encoding)


@dataclass
class Corpus:
    tokens: list[list[str]]
    labels: list[list[str]]
    path: str
    # Each sentence's document (`formats.documents_of`; None: the format has none): the
    # neighbours a transformer with `context` reads around a sentence.
    documents: list | None = None

    def __len__(self) -> int:
        return len(self.tokens)


def check_labels(labels: Iterable[str], scheme: str, where: str, line_of,
                 how: str = "declared") -> None:
    """SeqlabError at the first label that does not fit a chunk scheme ('plain' takes any
    label). Invalid transitions (I-X after O) are not errors: conlleval reads them."""
    for i, label in enumerate(labels):
        if not tag_fits(label, scheme):
            raise SeqlabError(f"{where}:{line_of(i)}: label {label!r} does not fit the {how} "
                              f"scheme {scheme}; expected {expected_tags(scheme)}",
                              argument="scheme")


def read_split(config: Config, key: str, reading: Reading) -> Corpus | None:
    """A dev or test (or in-memory train) file, its labels checked against a declared
    scheme."""
    path = getattr(config.data, key)
    if path is None:
        return None
    fmt = config.data.format or guess_corpus_format(path)
    found = read_corpus(path, reading.updated(format=fmt))
    declared = _declared(config)
    if declared is not None:
        for s in found:
            check_labels(s.labels, declared, path, s.line_of)
    return Corpus([s.tokens for s in found], [s.labels for s in found], path,
                  documents_of(found, fmt))


def _declared(config: Config) -> str | None:
    scheme = config.data.scheme
    return None if scheme == "auto" else normalize_scheme(scheme)


def schemes_of(config: Config, label_sequences: Iterable[list[str]], where: str
               ) -> tuple[str, str]:
    """(the files' scheme, the scheme the model trains in), or SeqlabError naming the key."""
    scheme = _declared(config) or detect_scheme(label_sequences)
    train_scheme = config.data.train_scheme or scheme
    if train_scheme != scheme and scheme == "plain":
        raise SeqlabError(f"key 'data.train_scheme': {train_scheme} needs chunk labels "
                          f"(B-/I-...), but {where} holds plain tags")
    return scheme, train_scheme


@dataclass
class Transitions:
    """Invalid transitions met in a pass over the training file (I-X after O in IOB2...)."""

    count: int = 0
    line: int = 0  # the first one's

    def warning(self, where: str, scheme: str) -> str | None:
        if not self.count:
            return None
        return (f"warning: {where}: {self.count} invalid {scheme} transition"
                f"{'s' if self.count > 1 else ''} (first at line {self.line}, e.g. I-X after "
                "O); training keeps them, read as conlleval reads them (an I-X that does not "
                "continue a chunk starts one); `seqlab data stats` lists them")


def training_pairs(records: Iterable, scheme: str, train_scheme: str, where: str,
                   how: str = "declared", transitions: Transitions | None = None
                   ) -> Iterator[tuple[list[str], list[str]]]:
    """(tokens, labels in the training scheme) of each training sentence, every label checked
    against the files' chunk scheme (``how`` it was chosen: declared or detected); invalid
    transitions are counted into ``transitions`` when given."""
    chunked = scheme != "plain"
    for s in records:
        labels = s.labels
        if chunked:
            check_labels(labels, scheme, where, s.line_of, how)
            if transitions is not None and (bad := invalid_transitions(labels, scheme)):
                if not transitions.count:
                    transitions.line = s.line_of(bad[0])
                transitions.count += len(bad)
        if train_scheme != scheme:
            try:
                labels = convert(labels, train_scheme, source=scheme)
            except ValueError as exc:
                raise SeqlabError(f"{where}:{s.line}: {exc}") from None
        yield s.tokens, labels


@dataclass
class Prepared:
    """Everything the model needs from the data, built deterministically from the config."""

    train: Corpus
    dev: Corpus | None
    test: Corpus | None
    scheme: str          # the files' scheme
    train_scheme: str    # the scheme the model learns
    reading: Reading     # how the files were read (stored in the model)
    vocab: object
    labels: object
    chars: object
    encoded: object      # the training set encoded in memory; None when streamed
    embeddings: np.ndarray | None = None
    read: object = None  # when streamed: a fresh iterator of (tokens, labels) per call
    trainable_words: int | None = None  # rows of vocab that train (None: all; see with_vectors)
    # model.transformer: the TransformerWords layer (the backbone and tokenizer, frozen), and
    # the frozen features of the dev and test sentences (tuple of tokens -> (words, L, H)),
    # computed once, for scoring (the training set's are in `encoded.transformer`).
    transformer: object = None
    features: dict | None = None
    # `batching.corpus_tensors` of `encoded`, made at the first epoch, for every epoch.
    tensors: tuple | None = field(default=None, repr=False)

    def dataset(self, batch_size: int, seed: int, shuffle_buffer: int = 8192,
                max_tokens: int | None = None):
        """One epoch of training batches, in an order fixed by `seed` (at most `max_tokens`
        padded tokens a batch, when given; in memory only)."""
        from seqlab.batching import (
            corpus_tensors,
            encoding_dataset,
            make_dataset,
            stream_dataset,
        )

        if self.transformer is not None and self.transformer.trainable:
            return encoding_dataset(self.encoded, self.train.tokens, self.transformer.encode,
                                    batch_size, seed, max_tokens)
        if self.encoded is not None:
            if self.tensors is None or self.tensors[0] is not self.encoded:
                self.tensors = (self.encoded, corpus_tensors(self.encoded))
            return make_dataset(self.encoded, batch_size, shuffle=True, seed=seed,
                                max_tokens=max_tokens, tensors=self.tensors[1])
        return stream_dataset(self.read, self.vocab, self.labels, self.chars, batch_size, seed,
                              buffer=shuffle_buffer, where=self.train.path)

    def batch_tokens(self, batch_size: int, seed: int, max_tokens: int | None = None):
        """The real tokens of each batch of the epoch :meth:`dataset` gives for the same
        arguments, in order (None when streamed: the batches are not known in advance)."""
        if self.encoded is None:
            return None
        from seqlab.batching import plan_batches

        order, starts = plan_batches(self.encoded.lengths, batch_size, shuffle=True, seed=seed,
                                     max_tokens=max_tokens)
        return np.add.reduceat(self.encoded.lengths[order], starts) if len(starts) else \
            np.zeros(0, dtype=np.int64)


def transformer_words(config: Config):
    """The ``TransformerWords`` layer of ``model.transformer`` (frozen, or fine-tuned with
    ``trainable: true``), loaded from its local
    checkpoint, or SeqlabError naming the key (path, layers, pooling)."""
    from seqlab.layers.transformer import TransformerWords
    from seqlab.model import TRANSFORMER_WORDS
    from seqlab.transformer import check_pooling, load_checkpoint

    t = config.model.transformer
    check_pooling(t.pooling)
    import keras

    # The backbone's dropout layers draw their seeds when made: from the config's seed, so
    # that a fine-tuned run is reproducible.
    keras.utils.set_random_seed(config.seed)
    checkpoint = load_checkpoint(t.path)
    return TransformerWords(checkpoint.backbone, checkpoint.tokenizer, layers=t.layers,
                            pooling=t.pooling, context=t.context, trainable=t.trainable,
                            name=TRANSFORMER_WORDS)


def frozen_features(words, sentences, what: str, say=print, console=None,
                    contexts=None, flat: bool = False):
    """Each sentence's frozen transformer features ``(words, L, H)`` float32, in order (read
    with its document ``contexts``, ``TransformerWords.contexts``, when given; with ``flat``,
    one array of all the words), with a progress bar on ``console`` and a line saying how
    long the pass took."""
    import time

    from seqlab.training.progress import pass_progress

    started = time.perf_counter()
    with pass_progress(console, f"transformer features ({what})") as update:
        features = words.word_features(sentences, progress=update, contexts=contexts,
                                       flat=flat)
    seconds = time.perf_counter() - started
    tokens = sum(len(s) for s in sentences)
    say(f"transformer features ({what}): {len(sentences)} sentences, {tokens} tokens in "
        f"{seconds:.1f} s ({tokens / max(seconds, 1e-9):,.0f} tokens/s)")
    return features


# The frozen features of the last run prepared in this process, reused by the next run of
# the same checkpoint, settings and data files (`seqlab train --seeds` trains in one process).
_LAST_FEATURES: dict = {}


def _features_key(config: Config) -> tuple:
    """What the frozen features depend on: the checkpoint's files, the layers, pooling and
    context, and the data files (each as path, size and modification time)."""
    import os

    def stamp(path):
        if path is None:
            return None
        try:
            found = os.stat(path)
        except OSError:
            return (path, None)
        return (path, found.st_size, found.st_mtime_ns)

    t = config.model.transformer
    folder = t.path
    files = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    return (repr(t.layers), t.pooling, t.context,
            tuple(stamp(os.path.join(folder, f)) for f in files),
            *(stamp(getattr(config.data, k)) for k in ("train", "dev", "test")))


def _all_features(transformer, train, dev, test, say, console):
    """(train features flat in token order, {dev/test feature key: features}); the keys are
    the Tagger's feature cache's (`seqlab.transformer.feature_keys`: words and context)."""
    from seqlab.transformer import feature_keys

    flat = frozen_features(transformer, train.tokens, "train", say, console,
                           transformer.contexts(train.tokens, train.documents), flat=True)
    features: dict = {}
    for name, split in (("dev", dev), ("test", test)):
        if split is not None:
            contexts = transformer.contexts(split.tokens, split.documents)
            todo = {}
            for key in feature_keys(split.tokens, contexts):
                if key not in features:
                    todo[key] = None
            computed = frozen_features(transformer, [list(k[0]) for k in todo], name, say,
                                       console, [k[1] for k in todo])
            features.update(zip(todo, computed))
    return flat, features


def prepare_data(config: Config, say=print, console=None) -> Prepared:
    """Read and check the corpus, build the vocabularies, encode the training set; ``say``
    hears a line about each file. With ``model.transformer``, the checkpoint is loaded and
    the frozen features of every sentence computed once (progress on ``console``)."""
    from seqlab.vocab import (
        CharVocabulary,
        LabelVocabulary,
        Vocabulary,
        build_vocabularies,
        encode_corpus,
    )

    reading = reading_of(config)
    v, chars_config = config.vocab, config.model.chars
    char_length = chars_config.max_length if chars_config.encoder != "none" else None
    path = config.data.train
    transitions = Transitions()
    if config.data.stream:
        def records():
            return sentences(path, reading)

        # The scheme from the first sentences: one look, not another pass.
        scheme, train_scheme = schemes_of(
            config, (s.labels for s in itertools.islice(records(), 20000)), path)

        how = "declared" if _declared(config) else "detected"

        def read():
            return training_pairs(records(), scheme, train_scheme, path, how)

        vocab, labels, chars = build_vocabularies(
            training_pairs(records(), scheme, train_scheme, path, how, transitions),
            v.min_count, v.max_size, v.lowercase, v.normalize_digits, char_length,
            chars_config.min_count)
        if not len(labels):
            raise SeqlabError(f"{path}: empty file: expected sentences of labelled tokens")
        train, encoded = Corpus([], [], path), None
        say(f"train: streamed from {path}, {len(vocab)} words, {len(labels)} labels ({scheme})")
    else:
        found = read_corpus(path, reading)
        scheme, train_scheme = schemes_of(config, (s.labels for s in found), path)
        how = "declared" if _declared(config) else "detected"
        pairs = list(training_pairs(found, scheme, train_scheme, path, how, transitions))
        train = Corpus([s.tokens for s in found], [s.labels for s in found], path,
                       documents_of(found, reading.format))
        train_labels = [labels for _, labels in pairs]
        vocab = Vocabulary.build(train.tokens, v.min_count, v.max_size, v.lowercase,
                                 v.normalize_digits)
        labels = LabelVocabulary.build(train_labels)
        chars = CharVocabulary.build(train.tokens, chars_config.min_count, char_length) \
            if char_length else None
        read = None
    if len(labels) == 1:
        raise SeqlabError(f"{path}: every token has the label {labels.labels[0]!r}; a tagger "
                          "learns from at least two labels (is the label column or field the "
                          "right one?)")
    if (warning := transitions.warning(path, scheme)) is not None:
        say(warning)
    embeddings = trainable_words = None
    if v.vectors:
        seen = None if read is not None else {vocab.normalize(t) for s in train.tokens for t in s}
        vocab, embeddings, trainable_words = with_vectors(config, vocab, say, seen)
    if read is None:
        encoded = encode_corpus(vocab, train.tokens, labels, train_labels, path, chars=chars)
        say(f"train: {len(train)} sentences, {len(encoded.words)} tokens, {len(vocab)} words, "
            f"{len(labels)} labels ({scheme}"
            + (f", trained as {train_scheme}" if train_scheme != scheme else "") + ")")
    dev, test = read_split(config, "dev", reading), read_split(config, "test", reading)
    for split in (dev, test):
        if split is not None:
            say(f"{Path(split.path).name}: {len(split)} sentences, "
                f"OOV {vocab.oov_rate(split.tokens):.1%}")
    transformer = features = None
    if config.model.transformer is not None:
        transformer = transformer_words(config)
        key = _features_key(config)
        if transformer.trainable:  # fine-tuned: encoded batch by batch, run in the graph
            pass
        elif _LAST_FEATURES.get("key") == key:  # --seeds: the same pass as the previous run's
            encoded.transformer, features = _LAST_FEATURES["train"], _LAST_FEATURES["other"]
            say("transformer features: the previous run's (same checkpoint and data)")
        else:
            _LAST_FEATURES.clear()  # let the previous run's go before computing these
            encoded.transformer, features = _all_features(transformer, train, dev, test, say,
                                                          console)
            _LAST_FEATURES.update(key=key, train=encoded.transformer, other=features)
    prep = Prepared(train, dev, test, scheme, train_scheme, reading, vocab, labels, chars,
                    encoded, embeddings, trainable_words=trainable_words,
                    transformer=transformer, features=features)
    prep.read = read
    return prep


def with_vectors(config: Config, vocab, say=print, seen: set[str] | None = None):
    """Initial embedding matrix from a vectors file (words without a vector get N(0, 0.1)).

    With ``vocab.vectors_add_words``, the file's words join the vocabulary after the training
    vocabulary: first those seen in training (``seen``, normalised tokens; below min_count),
    then those never seen. Returns ``(vocabulary, matrix, trainable_words)``: the rows of
    words never seen in training never get a gradient, so they are kept frozen (the first
    ``trainable_words`` rows train; None when all do, or when ``seen`` is unknown).
    """
    from seqlab.vectors import match, read_vectors
    from seqlab.vocab import Vocabulary

    v = config.vocab
    found = read_vectors(v.vectors, vocabulary=None if v.vectors_add_words else vocab.tokens)
    if found.dim != config.model.embedding.dim:
        raise SeqlabError(f"key 'model.embedding.dim': {config.model.embedding.dim}, but the "
                          f"vectors in {v.vectors} have {found.dim} dimensions")
    trainable = None
    if v.vectors_add_words:
        known = set(vocab.tokens)
        extra = [w for w in found.words if vocab.normalize(w) == w and w not in known]
        if seen is not None:
            in_train = [w for w in extra if w in seen]
            extra = in_train + [w for w in extra if w not in seen]
            trainable = len(vocab) + len(in_train)
        vocab = Vocabulary(vocab.tokens + extra, vocab.lowercase, vocab.normalize_digits)
        found = match(found, vocab.tokens)
    rng = np.random.default_rng(config.seed)
    matrix = rng.normal(0.0, 0.1, (len(vocab), found.dim)).astype("float32")
    matrix[0] = 0.0
    index = {w: i for i, w in enumerate(vocab.tokens)}
    for word, row in zip(found.words, found.matrix):
        matrix[index[word]] = row
    say(f"vectors: {found.exact + found.lowercase} of {len(vocab)} words found "
        f"({found.coverage:.1%}; {found.lowercase} by lower-casing)")
    return vocab, matrix, trainable
