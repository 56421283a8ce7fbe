"""Batches: each epoch's plan in NumPy, and the tf.data pipelines that feed the model.

Each epoch's batches (similar lengths together, shuffled from the config's seed) are planned
in NumPy; `tf.data` gathers, pads and prefetches them. A corpus streamed from disk is encoded
on the fly behind a seeded shuffle buffer instead.
"""

from __future__ import annotations

import numpy as np

from seqlab.vocab import CharVocabulary, Encoded, LabelVocabulary, Vocabulary


def _boundaries(max_len: int) -> list[int]:
    bounds, edge = [], 8
    while edge < max_len:
        bounds.append(edge)
        edge = edge + 8 if edge < 64 else edge * 2
    return bounds


def plan_batches(lengths: np.ndarray, batch_size: int, shuffle: bool = False, seed: int = 0,
                 pool: int = 100, max_tokens: int | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """One epoch's batches as (order, starts): batch k holds sentences
    `order[starts[k]:starts[k + 1]]` (the last batch runs to the end).

    Sentences are cut into pools of `pool` batches; each pool is sorted by length and cut
    into batches, so sentences of similar length share a batch and little goes to padding.
    With `shuffle`, the sentences are permuted before pooling and the batches are permuted
    after, both from `seed` alone, so an epoch's batches depend only on the seed.

    With `max_tokens`, a batch holds as many sentences as fit in that many padded tokens
    (its longest sentence times its sentences), at most `batch_size`, and at least one: short
    sentences go in big batches, long ones in small ones, so each step does about the same
    work. The pools then hold `pool` times `max_tokens` tokens.
    """
    n = len(lengths)
    rng = np.random.default_rng(seed)
    order = rng.permutation(n) if shuffle else np.arange(n)
    if max_tokens:
        mean = max(1.0, float(lengths.mean())) if n else 1.0
        span = max(1, int(pool * max_tokens / mean))
    else:
        span = batch_size * pool
    starts = []
    for first in range(0, n, span):
        chunk = order[first:first + span]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        order[first:first + span] = chunk
        if max_tokens:
            starts.extend(first + i for i in _token_cuts(lengths[chunk], max_tokens, batch_size))
        else:
            starts.extend(range(first, first + len(chunk), batch_size))
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.append(starts[1:], n)[:len(starts)]
    if shuffle:
        pick = rng.permutation(len(starts))
        # Re-lay the sentences batch after batch in the new batch order.
        order = np.concatenate([order[starts[k]:ends[k]] for k in pick]) if n else order
        sizes = (ends - starts)[pick]
        starts = (np.cumsum(sizes) - sizes).astype(np.int64)
    return order, starts


def _token_cuts(sorted_lengths: np.ndarray, max_tokens: int, most: int) -> list[int]:
    """Start offsets of batches over length-sorted sentences: each batch as long as its
    sentences times its longest one stays within ``max_tokens``, and ``most`` at most."""
    cuts, start = [], 0
    n = len(sorted_lengths)
    while start < n:
        cuts.append(start)
        end = start + 1
        while end < n and end - start < most and \
                (end + 1 - start) * max(int(sorted_lengths[end]), 1) <= max_tokens:
            end += 1
        start = end
    return cuts


def corpus_tensors(encoded: Encoded) -> dict:
    """The flat arrays of an encoded corpus as TensorFlow constants, for `make_dataset`.

    Make them once a corpus and pass them to every epoch's dataset: a constant made anew each
    epoch is a new copy that the finished epoch's pipeline does not give back (the size of a
    frozen transformer's features a epoch: 4.6 GB with MiniLM's on CoNLL-2003).
    """
    arrays = {"words": encoded.words, "offsets": encoded.offsets[:-1],
              "lengths": encoded.lengths, "labels": encoded.labels, "chars": encoded.chars,
              "transformer": encoded.transformer}
    return {k: in_place_tensor(a) if a is not None else None for k, a in arrays.items()}


def in_place_tensor(array: np.ndarray):
    """A TensorFlow tensor of ``array``: reading its memory in place (DLPack) when it is
    C-contiguous and 64-byte aligned (``seqlab.transformer.aligned_empty``), else a copy.

    ``tf.constant`` copies, and held three times an array's size at its peak: 6.6 GB for
    the 2.2 GB of MiniLM's features of CoNLL-2003 train. The array must not change while
    the tensor lives.
    """
    import tensorflow as tf

    if array.flags.c_contiguous and array.size and array.ctypes.data % 64 == 0 \
            and array.dtype.kind in "fiu":
        return tf.experimental.dlpack.from_dlpack(array.__dlpack__())
    return tf.constant(array)


def make_dataset(encoded: Encoded, batch_size: int, shuffle: bool = False, seed: int = 0,
                 max_tokens: int | None = None, tensors: dict | None = None):
    """A tf.data pipeline of (words, labels) batches of similar-length sentences, padded per
    batch with 0.

    The epoch's batches are planned in NumPy (`plan_batches`); tf.data then gathers and pads
    each whole batch in one vectorised step. With `shuffle`, the order is fixed by `seed`.
    ``tensors``: `corpus_tensors(encoded)`, made once for all epochs.
    """
    import tensorflow as tf

    order, starts = plan_batches(encoded.lengths, batch_size, shuffle, seed,
                                 max_tokens=max_tokens)
    ends = np.append(starts[1:], len(order))[:len(starts)]
    t = tensors if tensors is not None else corpus_tensors(encoded)
    words, offsets, lengths = t["words"], t["offsets"], t["lengths"]
    labels, chars, transformer = t["labels"], t["chars"], t["transformer"]
    order = tf.constant(order)

    def batch(start, end):
        rows = order[start:end]
        row_lengths = tf.gather(lengths, rows)
        steps = tf.range(tf.reduce_max(row_lengths))
        real = steps[None, :] < row_lengths[:, None]
        # Token positions in the flat arrays; padding points at row starts, then is zeroed.
        at = tf.gather(offsets, rows)[:, None] + tf.where(real, steps[None, :], 0)

        def take(flat):
            values = tf.gather(flat, at)
            mask = tf.reshape(real, tf.concat(
                [tf.shape(real), tf.ones([values.shape.rank - 2], tf.int32)], 0))
            return tf.where(mask, values, tf.zeros_like(values))

        # A model that reads only words has one plain input; with chars or a transformer's
        # features, inputs by name.
        inputs = take(words)
        if chars is not None or transformer is not None:
            inputs = {"words": inputs}
            if chars is not None:
                inputs["chars"] = take(chars)
            if transformer is not None:
                inputs["transformer"] = take(transformer)
        if labels is None:
            return inputs
        return inputs, take(labels)

    dataset = tf.data.Dataset.from_tensor_slices((starts, ends))
    dataset = dataset.map(batch, num_parallel_calls=2, deterministic=True)
    return dataset.prefetch(2).with_options(_options())


def numpy_batch(encoded: Encoded, rows: np.ndarray) -> tuple[dict, np.ndarray | None]:
    """The padded inputs ("words", "chars" when there) and labels of sentences ``rows``."""
    lengths = encoded.lengths[rows]
    width = max(1, int(lengths.max())) if len(rows) else 1
    real = np.arange(width)[None] < lengths[:, None]
    tokens = (encoded.offsets[:-1][rows][:, None] + np.arange(width)[None])[real]

    def take(flat):
        out = np.zeros((len(rows), width, *flat.shape[1:]), dtype=np.int32)
        out[real] = flat[tokens]
        return out

    inputs = {"words": take(encoded.words)}
    if encoded.chars is not None:
        inputs["chars"] = take(encoded.chars)
    return inputs, take(encoded.labels) if encoded.labels is not None else None


def encoding_dataset(encoded: Encoded, sentences, encode, batch_size: int, seed: int = 0,
                     max_tokens: int | None = None):
    """Like `make_dataset` (shuffled, the same plan), for a fine-tuned transformer: each
    batch also holds ``encode(its sentences)`` (``TransformerWords.encode``: token ids,
    padding mask, subword index and count), computed in NumPy as the batch is read."""
    import tensorflow as tf

    order, starts = plan_batches(encoded.lengths, batch_size, True, seed, max_tokens=max_tokens)
    ends = np.append(starts[1:], len(order))[:len(starts)]

    def batches():
        for start, end in zip(starts, ends):
            rows = order[start:end]
            inputs, labels = numpy_batch(encoded, rows)
            inputs.update(encode([sentences[i] for i in rows]))
            yield inputs, labels

    ids = tf.TensorSpec([None, None], tf.int32)
    grid = tf.TensorSpec([None, None, None], tf.int32)
    spec = {"words": ids, "token_ids": grid, "padding_mask": grid, "subword_index": grid,
            "subword_count": ids}
    if encoded.chars is not None:
        spec["chars"] = tf.TensorSpec([None, None, encoded.chars.shape[1]], tf.int32)
    dataset = tf.data.Dataset.from_generator(batches, output_signature=(spec, ids))
    return dataset.prefetch(2).with_options(_options())


def _options():
    """tf.data without its autotuner: a batch costs well under a millisecond to gather, and
    the autotuner's own threads then cost more than they save (an epoch of the NER config
    ran 1.37x slower with it on one core; BENCHMARKS.md)."""
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return options


def padded_batches(encoded: Encoded, batch_size: int, spread: float | None = 1.5
                   ) -> list[tuple[np.ndarray, dict]]:
    """Inference batches: sentences sorted by length, padded per batch.

    A batch holds up to `batch_size` sentences and ends early before a sentence more than
    `spread` times as long as its first (None: never), so that a file's few long sentences
    do not pad a batch of shorter ones to their length: in batches of 128, 25% of the
    positions CoNLL-2003 test ran were padding (one batch held lengths 38 to 124), 8% with
    `spread` 1.5, and tagging the file got 7-9% faster (BENCHMARKS.md).

    Returns (indices, inputs) pairs: `inputs` is the padded word-id array, or, when the model
    reads characters, a dict of the "words" and "chars" arrays (with `Encoded.types`,
    "types": each token's distinct-token row plus one, 0 at padding, instead of "chars"),
    and "transformer" (batch, time, L, H) with `Encoded.transformer`;
    `indices` maps rows back to corpus order.
    """
    order = np.argsort(encoded.lengths, kind="stable")
    lengths = encoded.lengths[order]
    starts = encoded.offsets[:-1][order]
    batches = []
    start = 0
    while start < len(order):
        stop = min(start + batch_size, len(order))
        if spread is not None:
            longer = lengths[start:stop] > spread * max(int(lengths[start]), 1)
            stop = start + max(1, int(np.argmax(longer))) if longer.any() else stop
        rows = order[start:stop]
        width = max(1, int(lengths[stop - 1]))  # the longest: lengths are sorted
        real = np.arange(width)[None] < lengths[start:stop, None]  # (rows, width)
        tokens = (starts[start:stop, None] + np.arange(width)[None])[real]
        start = stop
        words = np.zeros((len(rows), width), dtype=np.int32)
        words[real] = encoded.words[tokens]
        inputs = {"words": words}
        if encoded.types is not None:
            types = np.zeros((len(rows), width), dtype=np.int64)
            types[real] = encoded.types[tokens] + 1
            inputs["types"] = types
        elif encoded.chars is not None:
            chars = np.zeros((len(rows), width, encoded.chars.shape[1]), dtype=np.int32)
            chars[real] = encoded.chars[tokens]
            inputs["chars"] = chars
        if encoded.transformer is not None:
            features = np.zeros((len(rows), width, *encoded.transformer.shape[1:]),
                                dtype=np.float32)
            features[real] = encoded.transformer[tokens]
            inputs["transformer"] = features
        batches.append((rows, inputs if len(inputs) > 1 else words))
    return batches


def stream_dataset(read, vocab: Vocabulary, labels: LabelVocabulary,
                   chars: CharVocabulary | None, batch_size: int, seed: int,
                   buffer: int = 8192, where: str = ""):
    """Like `make_dataset`, for a corpus read from disk each epoch and encoded on the fly.

    `read()` returns a fresh iterator of (tokens, labels) pairs. Memory stays bounded by the
    shuffle buffer (`buffer` sentences, seeded) and the length buckets, whatever the corpus size.
    """
    import tensorflow as tf

    def encoded():
        for tokens, tags in read():
            if not tokens:
                continue
            word_ids = vocab.encode(tokens)
            tag_ids = labels.encode(tags, where)
            if chars is None:
                yield word_ids, tag_ids
            else:
                yield {"words": word_ids, "chars": chars.encode(tokens)}, tag_ids

    words_spec = tf.TensorSpec([None], tf.int32)
    inputs_spec = words_spec if chars is None else {
        "words": words_spec, "chars": tf.TensorSpec([None, chars.max_length], tf.int32)}
    dataset = tf.data.Dataset.from_generator(
        encoded, output_signature=(inputs_spec, tf.TensorSpec([None], tf.int32)))
    dataset = dataset.shuffle(buffer, seed=seed, reshuffle_each_iteration=False)
    bounds = _boundaries(1024)
    dataset = dataset.bucket_by_sequence_length(
        element_length_func=lambda inputs, *rest: tf.shape(
            inputs["words"] if isinstance(inputs, dict) else inputs)[0],
        bucket_boundaries=bounds,
        bucket_batch_sizes=[batch_size] * (len(bounds) + 1),
    )
    return dataset.prefetch(2).with_options(_options())
