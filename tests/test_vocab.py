import numpy as np

from seqlab.batching import padded_batches
from seqlab.vocab import Encoded, LabelVocabulary, Vocabulary, encode_corpus


def test_vocabulary_counts_normalises_and_orders():
    sents = [["The", "EU", "in", "1996"], ["the", "EU", "1997"]]
    vocab = Vocabulary.build(sents, lowercase=True, normalize_digits=True)
    # pad, unk, then by frequency (ties alphabetical)
    assert vocab.tokens == ["<pad>", "<unk>", "0000", "eu", "the", "in"]
    assert vocab.encode(["THE", "2001", "unseen"]).tolist() == [4, 2, 1]


def test_min_count_and_max_size():
    sents = [["a", "a", "b", "c", "c", "c"]]
    assert Vocabulary.build(sents, min_count=2).tokens == ["<pad>", "<unk>", "c", "a"]
    assert Vocabulary.build(sents, max_size=3).tokens == ["<pad>", "<unk>", "c"]


def test_oov_rate():
    vocab = Vocabulary.build([["a", "b"]])
    assert vocab.oov_rate([["a", "x"], ["y", "b"]]) == 0.5


def test_labels_put_o_first_and_decode():
    labels = LabelVocabulary.build([["B-PER", "O"], ["I-PER", "B-LOC"]])
    assert labels.labels == ["O", "B-LOC", "B-PER", "I-PER"]
    assert labels.decode(labels.encode(["B-PER", "O"])) == ["B-PER", "O"]


def test_encoded_corpus_is_flat_and_batches_restore_order():
    vocab = Vocabulary.build([["a", "b", "c"]])
    sents = [["a", "b", "c"], ["c"], [], ["b", "a"]]
    enc = encode_corpus(vocab, sents)
    assert enc.lengths.tolist() == [3, 1, 0, 2]
    assert len(enc.words) == 6
    seen = {}
    for rows, batch in padded_batches(enc, batch_size=2):
        for r, i in enumerate(rows):
            seen[int(i)] = batch[r, : enc.lengths[i]].tolist()
            assert (batch[r, enc.lengths[i]:] == 0).all()
    assert seen == {i: vocab.encode(s).tolist() for i, s in enumerate(sents)}


def test_batches_end_before_a_sentence_much_longer_than_their_first():
    vocab = Vocabulary.build([["a"]])
    lengths = [5, 1, 13, 3, 2, 6, 4]
    enc = encode_corpus(vocab, [["a"] * n for n in lengths])
    def shapes(**kwargs):
        return [[lengths[i] for i in rows] + [batch.shape]
                for rows, batch in padded_batches(enc, batch_size=3, **kwargs)]
    # sorted: 1 2 3 4 5 6 13; by default a batch ends before 1.5 times its first length
    assert shapes() == [[1, (1, 1)], [2, 3, (2, 3)], [4, 5, 6, (3, 6)], [13, (1, 13)]]
    # 3 > 2 * 1, 13 > 2 * 6
    assert shapes(spread=2) == [[1, 2, (2, 2)], [3, 4, 5, (3, 5)], [6, (1, 6)], [13, (1, 13)]]
    assert shapes(spread=None) == [[1, 2, 3, (3, 3)], [4, 5, 6, (3, 6)], [13, (1, 13)]]


def test_dataset_batches_hold_every_sentence_once_padded_with_zeros():
    from seqlab.batching import make_dataset

    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 40, size=100)
    n = int(lengths.sum())
    enc = Encoded(rng.integers(2, 50, size=n).astype(np.int32), lengths,
                  rng.integers(1, 5, size=n).astype(np.int32),
                  rng.integers(1, 9, size=(n, 4)).astype(np.int32))
    offsets = enc.offsets
    expected = sorted((tuple(enc.words[a:b]), tuple(enc.labels[a:b]), enc.chars[a:b].tobytes())
                      for a, b in zip(offsets[:-1], offsets[1:]))
    seen = []
    for x, y in make_dataset(enc, batch_size=8, shuffle=True, seed=1):
        w, c, y = x["words"].numpy(), x["chars"].numpy(), y.numpy()
        assert w.shape == y.shape == c.shape[:2] and w.shape[0] <= 8
        for r in range(len(w)):
            size = int((w[r] > 0).sum())
            assert size > 0 and (w[r, size:] == 0).all() and (y[r, size:] == 0).all()
            assert (c[r, size:] == 0).all()
            seen.append((tuple(w[r, :size]), tuple(y[r, :size]), c[r, :size].tobytes()))
    assert sorted(seen) == expected


def test_aligned_arrays_reach_tensorflow_in_place_and_others_are_copied():
    from seqlab.batching import in_place_tensor, make_dataset
    from seqlab.transformer import aligned_empty

    block = aligned_empty((50, 3, 4), np.float32)
    assert block.ctypes.data % 64 == 0
    block[...] = np.arange(600).reshape(50, 3, 4)
    shared = in_place_tensor(block)
    np.testing.assert_array_equal(shared.numpy(), block)
    block[7, 1, 2] = -1.0  # features never change; here it shows that nothing was copied
    assert float(shared[7, 1, 2]) == -1.0
    unaligned = aligned_empty((601,), np.float32)[1:]
    unaligned[...] = np.arange(600)
    copied = in_place_tensor(unaligned)
    unaligned[0] = -1.0
    assert float(copied[0]) == 0.0
    # A training set whose features sit in such a block: every token gets its own row.
    lengths = np.array([3, 1, 4, 2] * 5)
    enc = Encoded(np.arange(1, 51, dtype=np.int32), lengths, np.ones(50, np.int32))
    enc.transformer = block
    rows = 0
    for x, _ in make_dataset(enc, batch_size=4, shuffle=True, seed=3):
        words, features = x["words"].numpy(), x["transformer"].numpy()
        for w, f in zip(words.ravel(), features.reshape(-1, 3, 4)):
            np.testing.assert_array_equal(f, block[w - 1] if w else 0)
            rows += bool(w)
    assert rows == 50


def test_batch_plan_depends_on_the_seed_alone_and_pads_little():
    from seqlab.batching import plan_batches

    rng = np.random.default_rng(4)
    lengths = rng.integers(1, 60, size=5000)

    def cells(order, starts):
        ends = np.append(starts[1:], len(order))
        return sum(int(lengths[order[a:b]].max()) * (b - a) for a, b in zip(starts, ends))

    order, starts = plan_batches(lengths, 32, shuffle=True, seed=7)
    again = plan_batches(lengths.copy(), 32, shuffle=True, seed=7)
    assert np.array_equal(order, again[0]) and np.array_equal(starts, again[1])
    assert not np.array_equal(order, plan_batches(lengths, 32, shuffle=True, seed=8)[0])
    assert sorted(order.tolist()) == list(range(5000))
    assert np.diff(np.append(starts, 5000)).max() == 32
    # Random batches pad to about 1.9x the tokens here; length-sorted pools stay near 1x.
    assert cells(order, starts) < 1.1 * lengths.sum()
    unsorted = plan_batches(lengths, 32, shuffle=True, seed=7, pool=1)
    assert cells(*unsorted) > 1.5 * lengths.sum()
    empty = plan_batches(np.zeros(0, dtype=np.int64), 32, shuffle=True, seed=7)
    assert len(empty[0]) == 0 and len(empty[1]) == 0


def test_token_budget_batches_hold_every_sentence_once_within_the_budget():
    from seqlab.batching import plan_batches

    rng = np.random.default_rng(5)
    lengths = np.concatenate([rng.integers(1, 6, size=3000), rng.integers(30, 130, size=300),
                              [900]])  # one sentence longer than the budget
    order, starts = plan_batches(lengths, 128, shuffle=True, seed=3, max_tokens=1024)
    assert sorted(order.tolist()) == list(range(len(lengths)))
    ends = np.append(starts[1:], len(order))
    sizes = ends - starts
    padded = [int(lengths[order[a:b]].max()) * (b - a) for a, b in zip(starts, ends)]
    for size, cells in zip(sizes, padded):
        assert size <= 128 and (cells <= 1024 or size == 1)
    # short sentences share big batches, long ones small: fewer steps than 32 a batch
    assert sizes.max() == 128 and sizes.min() == 1
    assert len(starts) < len(plan_batches(lengths, 32, shuffle=True, seed=3)[1]) / 2
    again = plan_batches(lengths.copy(), 128, shuffle=True, seed=3, max_tokens=1024)
    assert np.array_equal(order, again[0]) and np.array_equal(starts, again[1])


def test_char_vocabulary_pads_and_keeps_prefix_and_suffix():
    from seqlab.vocab import CharVocabulary

    chars = CharVocabulary.build([["abc", "aab"]], max_length=4)
    assert chars.chars[:2] == ["<pad>", "<unk>"]
    assert chars.chars[2:] == ["a", "b", "c"]  # by frequency
    ids = chars.encode(["ab", "abcxyzc"])
    assert ids.tolist() == [[2, 3, 0, 0], [2, 3, 1, 4]]  # 'x' unknown; cut to 'ab' + 'zc'


def test_encoding_each_distinct_token_once_equals_token_by_token():
    """Words and chars are looked up once per distinct token; the oracle looks up each
    token on its own (repeats, case and digits that normalise alike, long and empty
    tokens, characters outside the vocabulary)."""
    from seqlab.vocab import CharVocabulary, Vocabulary

    rng = np.random.default_rng(5)
    pool = ["the", "The", "THE", "1996", "2001", "Müller", "x" * 30, "", "naïve", "€5", "zz"]
    tokens = [pool[i] for i in rng.integers(0, len(pool), size=200)]
    vocab = Vocabulary(["the", "0000", "müller"], lowercase=True, normalize_digits=True)
    chars = CharVocabulary(list("theTHE01962üMlr"), max_length=6)
    expected_words = [vocab._index.get(vocab.normalize(t), 1) for t in tokens]
    assert vocab.encode(tokens).tolist() == expected_words
    assert set(expected_words) == {1, 2, 3, 4}
    head = (6 + 1) // 2
    for token, row in zip(tokens, chars.encode(tokens).tolist(), strict=True):
        kept = token if len(token) <= 6 else token[:head] + token[len(token) - (6 - head):]
        want = [chars._index.get(c, 1) for c in kept]
        assert row == want + [0] * (6 - len(want))
    assert chars.encode([]).shape == (0, 6) and vocab.encode([]).shape == (0,)


def test_one_pass_vocabularies_equal_the_in_memory_ones():
    from seqlab.vocab import CharVocabulary, build_vocabularies

    pairs = [(["The", "EU", "1996"], ["O", "B-ORG", "O"]), (["EU", "x"], ["B-ORG", "B-PER"])]
    vocab, labels, chars = build_vocabularies(iter(pairs), min_count=1, normalize_digits=True,
                                              char_length=6)
    tokens = [t for t, _ in pairs]
    assert vocab.tokens == Vocabulary.build(tokens, normalize_digits=True).tokens
    assert labels.labels == LabelVocabulary.build([lab for _, lab in pairs]).labels
    assert chars.chars == CharVocabulary.build(tokens, max_length=6).chars


def test_streamed_batches_cover_every_token_once():
    from seqlab.batching import stream_dataset
    from seqlab.vocab import CharVocabulary

    rng = np.random.default_rng(3)
    pairs = [([f"w{int(i)}" for i in rng.integers(0, 30, n)], ["O"] * n)
             for n in rng.integers(1, 30, size=50)]
    vocab = Vocabulary.build([t for t, _ in pairs])
    labels = LabelVocabulary(["O"])
    chars = CharVocabulary.build([t for t, _ in pairs], max_length=4)
    dataset = stream_dataset(lambda: iter(pairs), vocab, labels, chars, batch_size=8, seed=1,
                             buffer=16)
    seen = sorted(tuple(int(x) for x in row[row > 0])
                  for inputs, _ in dataset for row in inputs["words"].numpy())
    assert seen == sorted(tuple(vocab.encode(t).tolist()) for t, _ in pairs)
