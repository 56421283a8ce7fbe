"""Words to WordPiece ids: keras-hub's tokenizer, with the `tokenizers` package's Rust
WordPiece for the words where both are the same function.

keras-hub's ``WordPieceTokenizer`` (TensorFlow Text under TensorFlow) is the tokenizer of
record: it is what a checkpoint was read with, what ``model.keras`` saves and what
``export --format saved_model`` puts in the graph. It costs about 120 µs a word on one core;
the `tokenizers` package (a keras-hub dependency, Hugging Face's Rust implementation) about
12 µs. For a word of printable ASCII (``!`` to ``~``) of at most 100 characters both compute
the same thing: lower-casing is ASCII's (keras-hub folds case with NFKC_Casefold, which
differs only outside ASCII), no accents to strip, the same split on whitespace and ASCII
punctuation, the same greedy longest-match WordPiece with the same suffix marker, unknown
token and length limit. Every other word (accents, other scripts, control characters, empty
strings, anything longer) goes to keras-hub, so the ids are keras-hub's for every word; a
test checks the Rust path against keras-hub on the corpora's words and on random ASCII.

Without `tokenizers` installed, or for a tokenizer set up otherwise (``split=False``, special
tokens kept whole in strings), every word goes to keras-hub.
"""

from __future__ import annotations

from collections.abc import Sequence

# The longest word the Rust path takes; keras-hub's own limit (MAX_BYTES_PER_WORD) is 100
# bytes, and an ASCII word's bytes are its characters.
MAX_FAST_CHARS = 100


def fast_word(word: str) -> bool:
    """Whether both tokenizers give ``word`` the same ids: printable ASCII, no space, at
    most :data:`MAX_FAST_CHARS` characters."""
    return 0 < len(word) <= MAX_FAST_CHARS and word.isascii() and word.isprintable() \
        and " " not in word


class WordPieces:
    """``WordPieces(tokenizer)(words)``: each word's subword ids, as keras-hub's
    ``tokenizer(words)`` gives them.

    Args:
        tokenizer: a keras-hub ``WordPieceTokenizer`` (its vocabulary may be set later, as a
            loaded model's is: the Rust tokenizer is built on first use).
    """

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self._rust = None
        self._checked = False

    def rust(self):
        """The equivalent `tokenizers.Tokenizer`, or None (not installed, or set up
        otherwise than the Rust path reproduces)."""
        if not self._checked and getattr(self.tokenizer, "vocabulary", None) is not None:
            self._checked = True
            self._rust = _rust_tokenizer(self.tokenizer)
        return self._rust

    def __call__(self, words: Sequence[str]) -> list[list[int]]:
        rust = self.rust()
        fast = [] if rust is None else [i for i, w in enumerate(words) if fast_word(w)]
        out: list[list[int] | None] = [None] * len(words)
        if fast:
            encodings = rust.encode_batch([words[i] for i in fast], add_special_tokens=False)
            for i, encoding in zip(fast, encodings):
                out[i] = list(encoding.ids)
        slow = [i for i, ids in enumerate(out) if ids is None]
        if slow:
            ids = self.tokenizer([words[i] for i in slow])
            ids = ids.to_list() if hasattr(ids, "to_list") else [list(x) for x in ids]
            for i, pieces in zip(slow, ids):
                out[i] = [int(p) for p in pieces]
        return out


def _rust_tokenizer(tokenizer):
    try:
        from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    except ImportError:
        return None
    if not getattr(tokenizer, "split", False) or getattr(tokenizer, "special_tokens_in_strings",
                                                         True):
        return None
    vocabulary = tokenizer.get_vocabulary()
    # keras-hub maps a token to its first index (tf_text's table) and its Python path to its
    # last: a vocabulary with a repeated token is left to keras-hub.
    if not vocabulary or len(set(vocabulary)) != len(vocabulary):
        return None
    rust = Tokenizer(models.WordPiece(
        {token: i for i, token in enumerate(vocabulary)}, unk_token=tokenizer.oov_token,
        continuing_subword_prefix=tokenizer.suffix_indicator,
        max_input_chars_per_word=MAX_FAST_CHARS,
    ))
    if tokenizer.lowercase:
        rust.normalizer = normalizers.Lowercase()
    rust.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return rust
