import numpy as np

from seqlab.vocab import Encoded, LabelVocabulary, Vocabulary, encode_corpus, padded_batches


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


def test_dataset_batches_cover_every_token_once():
    from seqlab.vocab import make_dataset

    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 40, size=100)
    words = rng.integers(2, 50, size=int(lengths.sum())).astype(np.int32)
    labels = rng.integers(0, 5, size=int(lengths.sum())).astype(np.int32)
    enc = Encoded(words, lengths, labels)
    total, rows = 0, 0
    for w, y in make_dataset(enc, batch_size=8, shuffle=True, seed=1):
        w, y = w.numpy(), y.numpy()
        assert w.shape == y.shape and w.shape[0] <= 8
        assert (w > 0).sum(axis=1).min() > 0  # no all-padding rows
        total += int((w > 0).sum())
        rows += w.shape[0]
    assert rows == 100 and total == int(lengths.sum())


def test_char_vocabulary_pads_and_keeps_prefix_and_suffix():
    from seqlab.vocab import CharVocabulary

    chars = CharVocabulary.build([["abc", "aab"]], max_length=4)
    assert chars.chars[:2] == ["<pad>", "<unk>"]
    assert chars.chars[2:] == ["a", "b", "c"]  # by frequency
    ids = chars.encode(["ab", "abcxyzc"])
    assert ids.tolist() == [[2, 3, 0, 0], [2, 3, 1, 4]]  # 'x' unknown; cut to 'ab' + 'zc'


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
    from seqlab.vocab import CharVocabulary, stream_dataset

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
