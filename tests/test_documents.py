"""`seqlab predict -i document`: running text, split into sentences and tokens with their
character offsets (issue 36, item 4), and its bad inputs (item 7).

The oracles are independent of spaCy and of the reader: the documents are cut from the raw
input by a loop over its lines written here; a document's tokens, concatenated, must be its
text without whitespace, character for character; a span's ``text`` must be the document's
text between its offsets, and its own characters (without whitespace) exactly its tokens'.
"""

from __future__ import annotations

import html.parser
import io
import json
import re
import sys

import pytest

from conftest import invoke, one_line_error

pytest.importorskip("spacy", reason="-i document needs spaCy: pip install 'seqlab[documents]'")

# Accents (precomposed and combining), emoji (astral, a ZWJ family, a flag), tabs, runs of
# spaces, CRLF line ends, sentences broken across lines, a no-break space, CJK, a blank line
# of spaces and one of CRLF between documents.
HOSTILE = (
    "  Peter Blackburn of the EU met Zoë Ångström in\tNew   York on Monday.\r\n"
    "He said the café\u0301 in Bonn 😀 was 👨‍👩‍👧 fine. Japan 🇯🇵 won\n"
    "2-1 on 1996-12-06, a one-day\u00a0match!\tOK?\n"
    "   \n"
    "\r\n"
    "Second document: Müller   visited\n"
    "\tLondon.\r\n"
    "\n\n\n"
    "東京 is in Japan. Paris\r\n"
)


def documents_of(raw: str) -> list[tuple[int, str]]:
    """The oracle: ``(first line, text)`` of each document of ``raw``: maximal runs of lines
    that are not whitespace alone, joined by "\\n"; the last line's "\\r" is not text."""
    found, held, first = [], [], 0
    for number, line in enumerate(raw.split("\n"), 1):
        if line.strip():
            if not held:
                first = number
            held.append(line)
        elif held:
            found.append((first, "\n".join(held)))
            held = []
    if held:
        found.append((first, "\n".join(held)))
    return [(first, text[:-1] if text.endswith("\r") else text) for first, text in found]


def read(raw: str | bytes):
    from seqlab.formats import Reading, read_records

    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    return list(read_records(io.BytesIO(data), Reading(format="document"), "doc.txt",
                             labelled=False))


def by_document(records):
    """``[(document record, its sentence records)]`` in order."""
    out, held = [], []
    for r in records:
        if r.kind == "sentence":
            held.append(r)
        else:
            assert r.kind == "document"
            out.append((r, held))
            held = []
    assert not held, "sentences after the last document record"
    return out


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


# --------------------------------------------------------------------------------- reading
def test_offsets_are_exact_on_accents_emoji_tabs_spaces_and_line_breaks():
    documents = by_document(read(HOSTILE))
    expected = documents_of(HOSTILE)
    assert [(d.line, d.data["text"]) for d, _ in documents] == expected
    assert len(expected) == 3
    lines_before = HOSTILE.split("\n")
    for index, ((document, sentences), (first, text)) in enumerate(zip(documents, expected)):
        assert sentences, text
        assert document.document == index and all(r.document == index for r in sentences)
        at = 0
        for r in sentences:
            assert len(r.offsets) == len(r.tokens) > 0
            for token, (start, end) in zip(r.tokens, r.offsets):
                assert at <= start < end, (token, start, end)
                assert text[start:end] == token
                assert not any(c.isspace() for c in token), repr(token)
                assert not text[at:start].strip(), "text skipped between tokens"
                at = end
            # The line of a sentence is the line of its first token, counted independently.
            assert r.line == first + text.count("\n", 0, r.offsets[0][0])
            assert r.tokens[0] in lines_before[r.line - 1]
        assert not text[at:].strip()
        assert "".join(t for r in sentences for t in r.tokens) == squeeze(text)
    tokens = [t for _, sentences in documents for r in sentences for t in r.tokens]
    # The tokenizer keeps what CoNLL-2003 keeps whole (spaCy cuts an emoji sequence into its
    # code points, the joiners too: their offsets are exact all the same).
    for whole in ("Zoë", "Ångström", "café\u0301", "😀", "2-1", "1996-12-06", "one-day",
                  "東京", "Müller"):
        assert whole in tokens, whole
    assert tokens[-1] == "Paris" and "Monday" in tokens and "London" in tokens


def test_sentences_are_split_inside_lines_and_joined_across_them():
    documents = by_document(read("Mr. Smith went to Washington. He\nleft on\nMonday! Did he?"))
    (_, sentences), = documents
    assert [r.tokens for r in sentences] == [
        ["Mr.", "Smith", "went", "to", "Washington", "."],
        ["He", "left", "on", "Monday", "!"], ["Did", "he", "?"]]
    assert [r.line for r in sentences] == [1, 1, 3]


def test_an_opening_bracket_or_quote_starts_the_next_sentence():
    (_, sentences), = by_document(read(
        'He wrote in 1972. "In the end," he said. (Quite so.) She said "Stop." Then '
        "'Go!' 'Now.'"))
    assert [r.tokens[0] for r in sentences] == ["He", '"', "(", "She", "Then", "'"]
    assert [r.tokens[-1] for r in sentences] == [".", ".", ")", '"', "'", "'"]


@pytest.mark.parametrize("separator", ["\n\n", "\n   \n", "\r\n\r\n", "\n\t\n\n\n", "\r\n \r\n"])
def test_blank_lines_of_any_kind_end_documents(separator):
    raw = f"Bonn is big.{separator}Oslo is cold.\nIt snows.{separator}Rome."
    documents = by_document(read(raw))
    assert [(d.line, d.data["text"]) for d, _ in documents] == documents_of(raw)
    assert [[r.tokens for r in s] for _, s in documents] == [
        [["Bonn", "is", "big", "."]], [["Oslo", "is", "cold", "."], ["It", "snows", "."]],
        [["Rome", "."]]]


def test_whitespace_alone_is_no_document():
    assert read("") == [] and read(" \n\t\n\r\n\u00a0\n\n") == []


def test_the_readme_example_is_exact(root):
    readme = (root / "README.md").read_text(encoding="utf-8")
    block = readme.split("**Documents as they come.**")[1].split("```json\n")[1].split("```")[0]
    o = json.loads(block.replace(", ...]", "]"))
    text = o["text"]
    assert [text[s["start_char"]:s["end_char"]] for s in o["spans"]] == \
        [s["text"] for s in o["spans"]] == ["Peter Blackburn", "Bonn"]
    assert [(s["start_char"], s["end_char"]) for s in o["sentences"]] == [(0, len(text))]
    (_, sentences), = by_document(read(text))
    assert sentences[0].offsets[0] == (o["tokens"][0]["start_char"], o["tokens"][0]["end_char"])
    assert [r.tokens for r in sentences] == [["Peter", "Blackburn", "visited", "Bonn", "."]]


# ------------------------------------------------------------------------- the writers alone
def tagged(raw: str, tag_of):
    """The documents of ``raw`` with each token tagged ``tag_of(token)`` (B-/I- decided by
    the previous token's tag), as the tagger would leave them."""
    records = read(raw)
    for r in records:
        if r.kind == "sentence":
            r.tags, previous = [], None
            for token in r.tokens:
                kind = tag_of(token)
                r.tags.append("O" if kind is None else
                              f"{'I' if previous == kind else 'B'}-{kind}")
                previous = kind
    return records


def write(records, output_format, chunked=True, labels=("B-PER", "I-PER", "B-LOC", "O")):
    from seqlab.formats import writer

    out = io.StringIO()
    w = writer(output_format, "document", chunked=chunked, labels=list(labels))
    w.begin(out)
    for r in records:
        w(out, r)
    w.end(out)
    return out.getvalue()


NAMES = {"Peter": "PER", "Blackburn": "PER", "Zoë": "PER", "Ångström": "PER", "New": "LOC",
         "York": "LOC", "Bonn": "LOC", "😀": "LOC", "Müller": "PER", "visited": "PER",
         "London": "PER", "東京": "LOC", "Japan": "LOC", "🇯": "LOC", "🇵": "LOC", "won": "LOC",
         "2-1": "LOC"}


def test_span_offsets_give_the_original_text_line_breaks_and_all():
    objects = [json.loads(line) for line in
               write(tagged(HOSTILE, NAMES.get), "jsonl").splitlines()]
    assert [(o["line"], o["text"]) for o in objects] == documents_of(HOSTILE)
    texts = []
    for o in objects:
        text = o["text"]
        tokens = [text[t["start_char"]:t["end_char"]] for t in o["tokens"]]
        assert "".join(tokens) == squeeze(text)
        for s in o["spans"]:
            assert text[s["start_char"]:s["end_char"]] == s["text"]
            inside = [t for t, tok in zip(tokens, o["tokens"])
                      if s["start_char"] <= tok["start_char"] < s["end_char"]]
            assert squeeze(s["text"]) == "".join(inside)
            assert all(NAMES.get(t) == s["type"] for t in inside)
            texts.append(s["text"])
        for sentence in o["sentences"]:
            assert text[sentence["start_char"]:sentence["end_char"]].strip() == \
                text[sentence["start_char"]:sentence["end_char"]]
    # Spans that run over a tab, several spaces, a CRLF line end and a line break:
    assert "Zoë Ångström" in texts and "New   York" in texts
    assert "Japan 🇯🇵 won\n2-1" in texts
    assert "Müller   visited\n\tLondon" in texts
    assert "東京" in texts and "Bonn 😀" in texts


def test_html_shows_the_original_text_with_the_spans_marked():
    records = tagged(HOSTILE, NAMES.get)
    page = write(records, "html")
    objects = [json.loads(line) for line in write(records, "jsonl").splitlines()]

    class Text(html.parser.HTMLParser):
        """The text of each document div, the span labels left out, and the marks."""

        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.documents, self.marks, self.depth, self.label = [], [], 0, False

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if tag == "div" and attrs.get("class") == "document":
                self.documents.append("")
                self.depth = 1
            elif self.depth and tag == "mark":
                self.marks.append(attrs["data-type"])
            self.label = tag == "span" and attrs.get("class") == "label"

        def handle_endtag(self, tag):
            self.label = False
            if tag == "div":
                self.depth = 0

        def handle_data(self, data):
            if self.depth and not self.label:
                self.documents[-1] += data

    parser = Text()
    parser.feed(page)
    assert parser.documents == [o["text"] for o in objects]  # every character, in place
    assert parser.marks == [s["type"] for o in objects for s in o["spans"]]
    assert "3 documents tagged" in page and "white-space: pre-wrap" in page


def test_plain_tags_pieces_cover_the_text():
    from seqlab.formats.document import document_pieces

    for document, sentences in by_document(tagged(HOSTILE, lambda t: "X")):
        pieces = document_pieces(document.data["text"], sentences, chunked=False)
        assert "".join(p["text"] for p in pieces) == document.data["text"]
        assert [p["text"] for p in pieces if "tag" in p] == \
            [t for r in sentences for t in r.tokens]


def test_conll_output_marks_each_document():
    out = write(tagged("Peter met Bonn.\nOslo.\n\nZoë left.", NAMES.get), "conll")
    assert out == ("-DOCSTART- O\n\nPeter B-PER\nmet O\nBonn B-LOC\n. O\n\nOslo O\n. O\n\n"
                   "-DOCSTART- O\n\nZoë B-PER\nleft O\n. O\n\n")


# ----------------------------------------------------------------------- through the command
@pytest.fixture(scope="module")
def model(trained):
    return trained / "model.keras"


def objects_of(result):
    assert result.exit_code == 0, (result.output, result.exception)
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_predict_documents_from_a_file_and_from_stdin(model, tmp_path):
    path = tmp_path / "doc.txt"
    path.write_bytes(HOSTILE.encode("utf-8"))
    from_file = objects_of(invoke("predict", model, path, "-i", "document"))
    from_stdin = objects_of(invoke("predict", model, "-", "-i", "document",
                                   input=HOSTILE.encode("utf-8")))
    assert from_file == from_stdin
    assert [(o["line"], o["text"]) for o in from_file] == documents_of(HOSTILE)
    spans = 0
    for o in from_file:
        assert set(o) == {"text", "line", "spans", "sentences", "tokens"}
        text = o["text"]
        assert "".join(text[t["start_char"]:t["end_char"]] for t in o["tokens"]) == \
            squeeze(text)
        for s in o["spans"]:
            assert set(s) == {"start_char", "end_char", "type", "text", "score"}
            assert text[s["start_char"]:s["end_char"]] == s["text"]
            assert 0.0 < s["score"] <= 1.0
            spans += 1
        # The tags of each span's tokens are the span's: B- (or I- of a new type) then I-.
        tags = {(t["start_char"], t["end_char"]): t["tag"] for t in o["tokens"]}
        for s in o["spans"]:
            inside = [tag for (a, _), tag in tags.items()
                      if s["start_char"] <= a < s["end_char"]]
            assert inside and all(tag.endswith("-" + s["type"]) for tag in inside)
    assert spans, "the model found no span at all: the span checks above checked nothing"


def test_probs_nbest_and_min_score_for_documents(model, tmp_path):
    path = tmp_path / "doc.txt"
    path.write_text("Peter Blackburn visited Bonn. The EU met\nin Paris on Monday.\n\n"
                    "Japan beat Syria in Tokyo.", encoding="utf-8")
    full = objects_of(invoke("predict", model, path, "-i", "document", "--probs",
                             "--nbest", "2"))
    scores = []
    for o in full:
        assert all(0.0 < t["prob"] <= 1.0 for t in o["tokens"])
        at = 0
        for sentence in o["sentences"]:
            n = sum(sentence["start_char"] <= t["start_char"] < sentence["end_char"]
                    for t in o["tokens"])
            assert sentence["nbest"][0]["tags"] == [t["tag"] for t in o["tokens"][at:at + n]]
            at += n
        assert at == len(o["tokens"])
        scores += [s["score"] for s in o["spans"]]
    assert len(scores) >= 2
    ranked = sorted(scores)
    floor = (ranked[len(ranked) // 2 - 1] + ranked[len(ranked) // 2]) / 2
    kept = objects_of(invoke("predict", model, path, "-i", "document", "--min-score", floor))
    for o, f in zip(kept, full):
        assert o["spans"] == [s for s in f["spans"] if s["score"] >= floor]
        dropped = [s for s in f["spans"] if s["score"] < floor]
        for t in o["tokens"]:
            if any(s["start_char"] <= t["start_char"] < s["end_char"] for s in dropped):
                assert t["tag"] == "O"
    assert sum(len(o["spans"]) for o in kept) < len(scores)


def test_html_and_conll_output_of_documents(model, tmp_path):
    path = tmp_path / "doc.txt"
    path.write_text(HOSTILE, encoding="utf-8")
    objects = objects_of(invoke("predict", model, path, "-i", "document"))
    page = invoke("predict", model, path, "-i", "document", "-f", "html")
    assert page.exit_code == 0, page.output
    assert page.stdout.count('<div class="document"') == len(objects) == 3
    assert page.stdout.count("<mark ") == sum(len(o["spans"]) for o in objects)
    conll = invoke("predict", model, path, "-i", "document", "-f", "conll")
    assert conll.exit_code == 0, conll.output
    rows = [line.split(" ") for line in conll.stdout.splitlines() if line]
    assert rows.count(["-DOCSTART-", "O"]) == 3
    assert [r for r in rows if r[0] != "-DOCSTART-"] == [
        [o["text"][t["start_char"]:t["end_char"]], t["tag"]]
        for o in objects for t in o["tokens"]]


@pytest.mark.slow
def test_a_document_is_answered_when_its_blank_line_comes(model):
    """A pipe: each document is written as soon as the blank line that ends it arrives,
    before the next is sent."""
    from conftest import live_process

    with live_process("predict", model, "-", "-i", "document") as proc:
        answers = []
        for document in ("Maria flew\nto Oslo. It rained.", "Bonn"):
            proc.stdin.write(document + "\n\n")
            proc.stdin.flush()
            answers.append(json.loads(proc.stdout.readline()))
        proc.stdin.close()
        assert proc.wait() == 0, proc.stderr.read()
    assert [a["text"] for a in answers] == ["Maria flew\nto Oslo. It rained.", "Bonn"]
    assert len(answers[0]["sentences"]) == 2


# ------------------------------------------------------------------------------ bad inputs
def test_an_empty_or_blank_file_is_one_line_and_an_empty_stream_empty_output(model, tmp_path):
    for content in (b"", b" \n\t\n\r\n\n"):
        path = tmp_path / "empty.txt"
        path.write_bytes(content)
        one_line_error(invoke("predict", model, path, "-i", "document"),
                       f"{path}: the file holds no sentence to tag")
        result = invoke("predict", model, "-", "-i", "document", input=content)
        assert result.exit_code == 0 and result.stdout == "", result.output
        assert "the input held no sentence" in result.stderr


def test_a_megabyte_line_is_one_line(model, tmp_path):
    path = tmp_path / "long.txt"
    path.write_bytes(b"Short first document.\n\n" + b"word " * (1 << 18) + b"\n")
    one_line_error(invoke("predict", model, path, "-i", "document"),
                   f"{path}:3: a line of 1,310,720 characters, over the 1,000,000 a "
                   "document may hold")


def test_a_document_past_the_limit_is_one_line_naming_where_it_starts(model, tmp_path):
    from seqlab.formats.document import MAX_CHARS

    line = "All work and no play makes Jack a dull boy. " * 20 + "\n"
    count = MAX_CHARS // len(line) + 1
    path = tmp_path / "long.txt"
    path.write_text("Intro.\n\n\n" + line * count, encoding="utf-8")
    # The document starts at line 4 and passes the limit at its line `count`.
    one_line_error(invoke("predict", model, path, "-i", "document"),
                   f"{path}:{3 + count}: the document from line 4 runs past 1,000,000 "
                   "characters")
    # One line fewer fits, and is tagged whole.
    fits = tmp_path / "fits.txt"
    fits.write_text(line * (count - 1), encoding="utf-8")
    from seqlab.formats import Reading, read_records

    records = list(read_records(fits, Reading(format="document")))
    assert [r.kind for r in records].count("document") == 1
    assert len(records[-1].data["text"]) == len(line) * (count - 1) - 1 <= MAX_CHARS


def test_bytes_that_do_not_decode_are_one_line(model, tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"Fine text.\n\nCaf\xe9 au lait.\n")
    one_line_error(invoke("predict", model, path, "-i", "document"),
                   f"{path}:3: byte 15: not valid UTF-8")
    one_line_error(invoke("predict", model, "-", "-i", "document",
                          input=b"Fine.\n\xff\xfe\x00x\n"), "<stdin>:2: byte 6: not valid UTF-8")
    # The encoding named, the same bytes read.
    result = invoke("predict", model, path, "-i", "document", "--encoding", "latin-1")
    assert [o["text"] for o in objects_of(result)] == ["Fine text.", "Café au lait."]


def test_conllu_output_of_documents_is_one_line(model, tmp_path):
    path = tmp_path / "doc.txt"
    path.write_text("Bonn.", encoding="utf-8")
    one_line_error(invoke("predict", model, path, "-i", "document", "-f", "conllu"),
                   "--format conllu needs CoNLL-U input")


def test_without_spacy_the_error_names_the_extra(model, tmp_path, monkeypatch):
    import importlib.util

    from seqlab.formats import document

    path = tmp_path / "doc.txt"
    path.write_text("Bonn.", encoding="utf-8")
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "spacy" else find_spec(name, *a))
    monkeypatch.delitem(sys.modules, "spacy", raising=False)
    one_line_error(invoke("predict", model, path, "-i", "document"),
                   "--input-format document splits sentences and tokens with spaCy",
                   "pip install 'seqlab[documents]'")
    # The import itself failing (an installed but broken spaCy) says the same.
    monkeypatch.setitem(sys.modules, "spacy", None)
    document.pipeline.cache_clear()
    try:
        with pytest.raises(document.SeqlabError, match=r"seqlab\[documents\]"):
            document.split_text("Bonn.")
    finally:
        monkeypatch.undo()
        document.pipeline.cache_clear()
