"""Pretrained vectors: GloVe / word2vec / fastText text files written by the tests."""

import gzip

import numpy as np
import pytest

from seqlab.errors import SeqlabError
from seqlab.vectors import read_vectors

GLOVE = """\
the 0.1 0.2 0.3
paris 1 2 3
berlin -1 -2 -3.5e-1
Paris 9 9 9
the 5 5 5
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    data = text.encode()
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return path


@pytest.mark.parametrize(
    "name, text",
    [
        ("glove.txt", GLOVE),
        ("w2v.txt", "5 3\n" + GLOVE),
        ("fast.vec", "5 3\n" + GLOVE.replace("\n", " \n")),  # fastText: trailing space
        ("glove.txt.gz", GLOVE),
        ("crlf.txt", GLOVE.replace("\n", "\r\n")),
    ],
)
def test_formats_read_the_same(tmp_path, name, text):
    v = read_vectors(write(tmp_path, name, text))
    words, matrix = v.words, v.matrix
    assert words == ["the", "paris", "berlin", "Paris"]  # first occurrence wins
    assert matrix.dtype == np.float32 and matrix.shape == (4, 3)
    np.testing.assert_allclose(matrix[0], [0.1, 0.2, 0.3], rtol=1e-6)
    np.testing.assert_allclose(matrix[2], [-1, -2, -0.35], rtol=1e-6)


def test_vocabulary_and_lower_case_fallback(tmp_path):
    path = write(tmp_path, "glove.txt", GLOVE.replace("Paris 9 9 9\n", ""))
    vocab = ["Paris", "the", "Berlin", "Rome", "paris"]
    v = read_vectors(path, vocabulary=vocab)
    assert v.words == ["Paris", "the", "Berlin", "paris"]
    assert v.source == ["paris", "the", "berlin", "paris"]
    assert (v.exact, v.lowercase, v.missing) == (2, 2, ["Rome"])
    assert v.coverage == pytest.approx(4 / 5)
    np.testing.assert_allclose(v.matrix[0], [1, 2, 3])
    words = read_vectors(path, vocabulary=vocab, lower_fallback=False).words
    assert words == ["the", "paris"]


def test_exact_match_preferred_and_cased_file_words(tmp_path):
    path = write(tmp_path, "w2v.txt", "3 2\nParis 9 9\nparis 1 1\nBERLIN 4 4\n")
    v = read_vectors(path, vocabulary=["Paris", "paris", "berlin"])
    assert v.words == ["Paris", "paris", "berlin"]
    np.testing.assert_allclose(v.matrix, [[9, 9], [1, 1], [4, 4]])
    assert (v.exact, v.lowercase) == (2, 1)


def test_words_with_spaces(tmp_path):
    path = write(tmp_path, "glove.txt", "a 1 2\n. . . 3 4\nb 5 6\n")
    v = read_vectors(path)
    words, matrix = v.words, v.matrix
    assert words == ["a", ". . .", "b"]
    np.testing.assert_allclose(matrix[1], [3, 4])


@pytest.mark.parametrize(
    "text, message",
    [
        ("a 1 2 3\nb 1 2\n",
         r"v\.txt:2: expected a word and 3 numbers like the lines before, found 2"),
        ("a 1 2\nb 1 2 3\n", r"v\.txt:2: expected a word and 2 numbers .* found 3"),
        ("2 3\na 1 2 3\nb 1 2\n", r"v\.txt:3: expected a word and 3 numbers"),
        ("a 1 2\nb 1 x\n", r"v\.txt:2: expected numbers after the word, found 'x'"),
        ("3 2\na 1 2\nb 1 2\n", r"v\.txt:1: the header says 3 vectors, the file holds 2"),
        ("", r"v\.txt: empty file"),
        ("\n\n", r"v\.txt: empty file"),
    ],
)
def test_malformed(tmp_path, text, message):
    with pytest.raises(SeqlabError, match=message):
        read_vectors(write(tmp_path, "v.txt", text))


def test_malformed_line_found_even_when_not_in_vocabulary(tmp_path):
    path = write(tmp_path, "v.txt", "a 1 2\nb 1\n")
    with pytest.raises(SeqlabError, match=r"v\.txt:2: expected a word and 2 numbers"):
        read_vectors(path, vocabulary=["a"])


def test_not_utf8_and_missing(tmp_path):
    path = tmp_path / "v.txt"
    path.write_bytes(b"a 1 2\nb\xe9 1 2\n")
    with pytest.raises(SeqlabError, match=r"v\.txt:2: byte 7: not valid UTF-8"):
        read_vectors(path)
    with pytest.raises(SeqlabError, match=r"none\.vec: no such file"):
        read_vectors(tmp_path / "none.vec")


def word2vec_binary(words, matrix, newline=True) -> bytes:
    """word2vec's binary layout, written as its C tool (and gensim) write it."""
    out = f"{len(words)} {matrix.shape[1]}\n".encode()
    for word, row in zip(words, matrix):
        out += word.encode() + b" " + np.asarray(row, "<f4").tobytes() + (b"\n" if newline else b"")
    return out


@pytest.mark.parametrize("name, newline", [("w2v.bin", True), ("w2v.bin.gz", True),
                                           ("no_newlines.bin", False), ("named.txt", True)])
def test_word2vec_binary(tmp_path, name, newline):
    words = ["the", "Paris", "New_York", "été"]
    matrix = np.arange(12, dtype=np.float32).reshape(4, 3) / 7 - 0.5
    data = word2vec_binary(words, matrix, newline)
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    v = read_vectors(path)
    assert v.words == words and v.file_words == 4
    np.testing.assert_array_equal(v.matrix, matrix)  # bit for bit, no text round trip
    v = read_vectors(path, vocabulary=["paris", "été", "Rome"])
    assert v.words == ["paris", "été"] and v.missing == ["Rome"]
    np.testing.assert_array_equal(v.matrix, matrix[[1, 3]])


def test_word2vec_binary_truncated(tmp_path):
    data = word2vec_binary(["a", "b"], np.ones((2, 3), np.float32))
    path = tmp_path / "cut.bin"
    path.write_bytes(data[:-5])
    with pytest.raises(SeqlabError, match=r"cut\.bin: vector 2: the file ends early"):
        read_vectors(path)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN", "1e999"])
def test_non_finite_numbers_refused_with_their_line(tmp_path, value):
    path = write(tmp_path, "v.txt.gz", f"a 1 2\nb 3 {value}\nc 5 6\n")
    with pytest.raises(SeqlabError, match=r"v\.txt\.gz:2: expected finite numbers"):
        read_vectors(path)
    with pytest.raises(SeqlabError, match=r"v\.txt\.gz:2: expected finite numbers"):
        read_vectors(path, vocabulary=["b"])
    assert read_vectors(path, vocabulary=["a", "c"]).words == ["a", "c"]  # not used: not read


def test_non_finite_in_binary_names_the_vector(tmp_path):
    matrix = np.ones((3, 2), np.float32)
    matrix[2, 1] = np.nan
    path = tmp_path / "v.bin"
    path.write_bytes(word2vec_binary(["a", "b", "c"], matrix))
    with pytest.raises(SeqlabError, match=r"v\.bin: vector 3: expected finite numbers"):
        read_vectors(path)


def test_header_dimension_out_of_range(tmp_path):
    with pytest.raises(SeqlabError, match=r"v\.vec:1: the header says the vectors have 0"):
        read_vectors(write(tmp_path, "v.vec", "2 0\na\nb\n"))


@pytest.mark.slow
def test_training_with_vectors_freezes_only_unseen_words(tmp_path, root):
    """vectors_add_words: words of the file join the vocabulary, those seen in training (even
    below min_count) train, those never seen keep their vectors in a frozen table; the saved
    model holds them all and tags with them."""
    from collections import Counter

    import keras

    from seqlab.config import load_config
    from seqlab.model import ModelParts
    from seqlab.training.data import prepare_data
    from seqlab.training.loop import build_compiled

    train_words = Counter(line.split()[0].lower() for line in
                          (root / "data/train.txt").read_text().splitlines() if line.strip())
    once = next(w for w, n in train_words.items() if n == 1 and w.isalpha())
    twice = next(w for w, n in train_words.items() if n >= 2 and w.isalpha())
    unseen = ["zyzzyva", "quokka"]
    lines = [f"{w} " + " ".join(str((i + 1) * 0.01 + j) for j in range(4))
             for i, w in enumerate([unseen[0], once, twice, unseen[1]])]
    vectors = write(tmp_path, "v.txt.gz", "\n".join(lines) + "\n")
    config = load_config(root / "configs/quickstart.yaml", [
        f"vocab.vectors={vectors}", "vocab.vectors_add_words=true", "vocab.lowercase=true",
        "model.embedding.dim=4", "model.lstm.units=8", "model.attention.enabled=false",
        "model.chars.encoder=none", "model.embedding.dropout=0", "data.test=null"])
    prep = prepare_data(config, say=lambda *a: None)
    tokens = prep.vocab.tokens
    assert tokens.index(once) < prep.trainable_words <= tokens.index(unseen[0])
    assert tokens[-2:] == unseen  # file order among the unseen
    assert twice in tokens[: tokens.index(once)]  # the training vocabulary comes first
    model = build_compiled(config, prep)
    emb = ModelParts(model).word_embedding
    start = emb.matrix()
    np.testing.assert_allclose(start[tokens.index(unseen[1])], [0.04 + j for j in range(4)],
                               rtol=1e-6)
    x = prep.dataset(8, seed=1)
    model.fit(x, epochs=1, verbose=0, shuffle=False)
    end = emb.matrix()
    np.testing.assert_array_equal(end[prep.trainable_words:], start[prep.trainable_words:])
    assert not np.array_equal(end[tokens.index(once)], start[tokens.index(once)])
    model.save(tmp_path / "m.keras")
    loaded = ModelParts(keras.saving.load_model(tmp_path / "m.keras")).word_embedding
    np.testing.assert_array_equal(loaded.matrix(), end)
    assert loaded.vocabulary == tokens
