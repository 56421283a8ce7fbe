"""seqlab.wordpiece: the Rust WordPiece path gives keras-hub's ids, word for word.

The oracle is keras-hub's own WordPieceTokenizer (TensorFlow Text), the tokenizer of record:
on hand-worked words, on every word of the data/ samples, on random strings of printable
ASCII, and on words the Rust path must leave to keras-hub (accents, case folding beyond
ASCII, control characters, too long)."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

keras_hub = pytest.importorskip("keras_hub")
pytest.importorskip("tokenizers")

from seqlab.wordpiece import WordPieces, fast_word  # noqa: E402

DATA = Path(__file__).resolve().parent.parent / "data"
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "hello", "the",
         "new", "york", "##s", "##ing", "##ed", "a", "b", "c", "##a", "##b", "##c", "1", "##1",
         "##9", "9", "strasse", "strase", "naive", *"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"]


def _keras_hub_ids(tokenizer, words):
    ids = tokenizer(words)
    return ids.to_list() if hasattr(ids, "to_list") else [list(x) for x in ids]


@pytest.fixture(scope="module")
def tokenizer():
    return keras_hub.models.BertTokenizer(vocabulary=VOCAB, lowercase=True)


def test_worked_examples(tokenizer):
    pieces = WordPieces(tokenizer)
    assert pieces.rust() is not None
    ids = {t: i for i, t in enumerate(VOCAB)}
    words = ["Unaffable!", "New-York's", "hellos", "xyz", "abc", "1991", "U.S."]
    expected = [
        [ids["un"], ids["##aff"], ids["##able"], ids["!"]],
        [ids["new"], ids["-"], ids["york"], ids["'"], ids["[UNK]"]],
        [ids["hello"], ids["##s"]],
        [ids["[UNK]"]],
        [ids["a"], ids["##b"], ids["##c"]],
        [ids["1"], ids["##9"], ids["##9"], ids["##1"]],
        [ids["[UNK]"], ids["."], ids["[UNK]"], ids["."]],
    ]
    assert pieces(words) == expected
    assert _keras_hub_ids(tokenizer, words) == expected


def test_words_of_the_samples(tokenizer):
    words = set()
    for path in DATA.rglob("*"):
        if path.is_file() and path.suffix in {".txt", ".conll", ".conllu", ".tsv"}:
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                words.update(line.split())
    words = sorted(words)
    assert len(words) > 200 and sum(map(fast_word, words)) > 200
    assert WordPieces(tokenizer)(words) == _keras_hub_ids(tokenizer, words)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(alphabet=string.printable, min_size=0, max_size=12), min_size=1,
                max_size=20))
def test_random_ascii_agrees_with_keras_hub(tokenizer, words):
    assert WordPieces(tokenizer)(words) == _keras_hub_ids(tokenizer, words)


def test_words_left_to_keras_hub(tokenizer):
    words = ["Straße", "STRASSE", "naïve", "ﬁ", "Ａ", "a\x00b", "", " ", "\t", "a b",
             "a" * 101, "a" * 100, "\u200b", "İ"]
    assert [fast_word(w) for w in words] == [False, True] + [False] * 9 + [True, False, False]
    assert WordPieces(tokenizer)(words) == _keras_hub_ids(tokenizer, words)


def test_cased_tokenizer(tokenizer):
    cased = keras_hub.models.BertTokenizer(vocabulary=VOCAB + ["Hello"], lowercase=False)
    words = ["Hello", "hello", "HELLO", "Hellos"]
    assert WordPieces(cased)(words) == _keras_hub_ids(cased, words)
    assert WordPieces(cased)(["Hello"]) == [[len(VOCAB)]]


def test_settings_the_rust_path_does_not_reproduce_go_to_keras_hub():
    kept = keras_hub.models.BertTokenizer(vocabulary=VOCAB, special_tokens_in_strings=True)
    assert WordPieces(kept).rust() is None
    assert WordPieces(kept)(["[CLS]", "hello"]) == _keras_hub_ids(kept, ["[CLS]", "hello"])
    unset = keras_hub.models.BertTokenizer()
    assert WordPieces(unset).rust() is None
