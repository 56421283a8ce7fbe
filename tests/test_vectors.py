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
