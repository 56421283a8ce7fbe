"""Plain text to tag: one sentence a line, and the tokenizers that split it."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from seqlab.errors import SeqlabError
from seqlab.formats.record import Record

TOKENIZERS = ("whitespace", "simple")

_SIMPLE_TOKEN = re.compile(
    r"\d+(?:[.,]\d+)+"  # numbers with separators: 3.5, 1,000
    r"|(?:[^\W\d_]\.){2,}"  # abbreviations: U.S., e.g.
    r"|\w+(?:['’\-]\w+)*"  # words, with inner hyphens and apostrophes
    r"|[^\w\s]"  # any other character: punctuation, symbols
)


def check_tokenizer(tokenizer: str) -> str:
    if tokenizer not in TOKENIZERS:
        raise SeqlabError(f"unknown tokenizer {tokenizer!r}; expected one of "
                          f"{', '.join(TOKENIZERS)}", argument="tokenizer")
    return tokenizer


def tokenize(text: str, tokenizer: str = "whitespace") -> list[str]:
    """Split one sentence into tokens: 'whitespace' splits on spaces only; 'simple' also
    splits punctuation off words (keeping numbers like 3.5, abbreviations like U.S. and words
    like don't or well-known whole)."""
    if tokenizer == "whitespace":
        return text.split()
    if tokenizer == "simple":
        return _SIMPLE_TOKEN.findall(text)
    check_tokenizer(tokenizer)
    return []


def read_text(lines: Iterable[tuple[int, str]], tokenizer: str = "whitespace"
              ) -> Iterator[Record]:
    """One sentence a line; a blank line is an empty sentence, kept in place."""
    check_tokenizer(tokenizer)
    for lineno, line in lines:
        yield Record(tokens=tokenize(line, tokenizer), line=lineno)
