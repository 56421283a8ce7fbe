"""What every reader yields and every writer takes: one :class:`Record` per sentence, and one
per line that is not a sentence, so a file can be written back exactly as it was read."""

from __future__ import annotations

from dataclasses import dataclass, field

SENTENCE, BLANK, DOCSTART = "sentence", "blank", "docstart"
# Running text (``-i document``): the record that ends a document, after its sentences.
DOCUMENT = "document"


@dataclass(slots=True)
class Record:
    """One unit of a corpus or of input to tag.

    Attributes:
        kind: ``"sentence"``; ``"blank"`` for a blank line that is not part of a sentence;
            ``"docstart"`` for a column file's ``-DOCSTART-`` line; ``"document"`` after
            the sentences of a document of running text, with its text in ``data``.
        tokens: the words (empty for an empty sentence).
        labels: one gold label per word, or None (unlabelled input, or none asked for).
        line: 1-based line number where the record starts.
        document: 0-based index of its document (a new one starts at each ``-DOCSTART-``
            line of a column file and each ``# newdoc`` comment of a CoNLL-U file).
        rows: the fields of each line as read: column files, one list per token line;
            CoNLL-U, the 10 fields of each line of the sentence, comments as ``["# ..."]``.
        words: CoNLL-U: the index in ``rows`` of each syntactic word (multiword-token ranges
            and empty nodes are rows but not words).
        raw: column files: the lines as read, without ``"\\n"`` (a CRLF line keeps its
            ``"\\r"``), so writers keep every separator and line ending.
        data: JSON lines: the object read (writers keep its other keys).
        tags: tags given by a tagger (or read from a predictions file's last column).
        probs: the probability of each tag, when asked for.
        spans: the tagger's spans with their probabilities (``seqlab.schemes.Span``), when
            scored; writers otherwise read the spans off ``tags``.
        nbest: the most probable tag sequences, ``{"tags": [...], "prob": p}`` each, when
            asked for.
        offsets: running text: each token's ``(start, end)`` characters in the text of its
            document (``text[start:end]`` is the token).
    """

    kind: str = SENTENCE
    tokens: list[str] = field(default_factory=list)
    labels: list[str] | None = None
    line: int = 0
    document: int = 0
    rows: list[list[str]] | None = None
    words: list[int] | None = None
    raw: list[str] | None = None
    data: dict | None = None
    tags: list[str] | None = None
    probs: list[float] | None = None
    spans: list | None = None
    nbest: list[dict] | None = None
    offsets: list[tuple[int, int]] | None = None

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def is_sentence(self) -> bool:
        return self.kind == SENTENCE

    def line_of(self, index: int) -> int:
        """The line number of token ``index``."""
        if self.words is not None:
            return self.line + self.words[index]
        return self.line + index
