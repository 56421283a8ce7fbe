"""Readers and writers (seqlab.formats): column files in both CoNLL-2003 forms, CoNLL-U, text,
JSON lines; encodings, byte-order marks and gzip; format from content; bad input."""

import gzip
import io

import pytest

from seqlab.errors import SeqlabError
from seqlab.formats import (
    Reading,
    Record,
    guess_corpus_format,
    guess_input_format,
    read_corpus,
    read_lines,
    read_records,
    sentences,
)
from seqlab.schemes import detect_scheme, get_chunks
from seqlab.training.data import check_labels

# The original CoNLL-2003 distribution: IOB1, -DOCSTART- lines, 4 columns.
IOB1_DOCSTART = """\
-DOCSTART- -X- -X- O

EU NNP I-NP I-ORG
rejects VBZ I-VP O
German JJ I-NP I-MISC
call NN I-NP O
.  .  O O

Peter NNP I-NP I-PER
Blackburn NNP I-NP I-PER

-DOCSTART- -X- -X- O

BRUSSELS NNP I-NP I-LOC
1996-08-22 CD I-NP O

Germany NNP I-NP I-LOC
Britain NNP I-NP B-LOC
"""

# The form in ../shared/data: IOB2, no -DOCSTART-.
IOB2_PLAIN = """\
EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O
. . O O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER
"""

CONLLU = """\
# newdoc id = doc1
# sent_id = 1
# text = Vámonos al mar.
1-2\tVámonos\t_\t_\t_\t_\t_\t_\t_\t_
1\tVamos\tir\tVERB\tVMM\t_\t0\troot\t_\tNER=O
2\tnos\tnosotros\tPRON\tPP\t_\t1\tobj\t_\tNER=O
3-4\tal\t_\t_\t_\t_\t_\t_\t_\t_
3\ta\ta\tADP\tSP\t_\t5\tcase\t_\tNER=O
4\tel\tel\tDET\tDA\t_\t5\tdet\t_\t_
5\tmar\tmar\tNOUN\tNC\t_\t1\tobl\t_\tNER=B-LOC|SpaceAfter=No
6\t.\t.\tPUNCT\tFp\t_\t1\tpunct\t_\tNER=O

# sent_id = 2
1\tSue\tSue\tPROPN\tNNP\t_\t2\tnsubj\t_\tNER=B-PER
1.1\tlikes\tlike\tVERB\tVBZ\t_\t_\t_\t0:root\t_
2\tleft\tleave\tVERB\tVBD\t_\t0\troot\t_\tNER=O
3\t_\t_\tSYM\tSYM\t_\t2\tpunct\t_\tNER=O

# newdoc id = doc2
1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\tNER=O
"""


def write(tmp_path, name, text, encoding="utf-8", newline="\n"):
    path = tmp_path / name
    data = text.replace("\n", newline).encode(encoding)
    if name.endswith(".gz"):
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def read_conll(path, **reading):
    return read_corpus(path, Reading(format="conll", **reading))


def read_conllu(path, label_field="upos"):
    return read_corpus(path, Reading(format="conllu", label_field=label_field))


def test_conll2003_original_form_iob1_with_docstart(tmp_path):
    path = write(tmp_path, "train.txt", IOB1_DOCSTART)
    sents = read_conll(path)
    assert [s.tokens for s in sents] == [
        ["EU", "rejects", "German", "call", "."],
        ["Peter", "Blackburn"],
        ["BRUSSELS", "1996-08-22"],
        ["Germany", "Britain"],
    ]
    assert sents[0].labels == ["I-ORG", "O", "I-MISC", "O", "O"]
    assert [s.line for s in sents] == [3, 9, 14, 17]
    assert [s.document for s in sents] == [0, 0, 1, 1]
    assert sents[0].rows[4] == [".", ".", "O", "O"]
    assert sents[0].raw[4] == ".  .  O O"
    assert detect_scheme(s.labels for s in sents) == "iob1"
    assert get_chunks(sents[3].labels) == [("LOC", 0, 1), ("LOC", 1, 2)]
    # every line is a record: sentences, blank lines and -DOCSTART- lines, in order
    kinds = [r.kind for r in read_records(path, Reading(format="conll"))]
    assert kinds == ["docstart", "blank", "sentence", "blank", "sentence", "blank", "docstart",
                     "blank", "sentence", "blank", "sentence"]


def test_conll2003_iob2_form_and_other_columns(tmp_path):
    path = write(tmp_path, "train.iob", IOB2_PLAIN)
    sents = read_conll(path)
    assert len(sents) == 2 and sents[1].labels == ["B-PER", "I-PER"]
    assert detect_scheme(s.labels for s in sents) == "iob2"
    chunks = read_conll(path, token_column=0, label_column=2)
    assert chunks[0].labels == ["B-NP", "B-VP", "B-NP", "I-NP", "O"]
    pos = read_conll(path, label_column=1)
    assert pos[1].labels == ["NNP", "NNP"]
    assert detect_scheme(s.labels for s in pos) == "plain"
    unlabelled = read_corpus(path, Reading(format="conll"), labelled=False)
    assert unlabelled[0].labels is None and unlabelled[0].tokens[0] == "EU"


def test_layout_variants_read_the_same(tmp_path):
    expected = [(s.tokens, s.labels) for s in read_conll(write(tmp_path, "a.txt", IOB2_PLAIN))]
    variants = {
        "crlf.txt": write(tmp_path, "crlf.txt", IOB2_PLAIN, newline="\r\n"),
        "bom.txt": write(tmp_path, "bom.txt", IOB2_PLAIN, encoding="utf-8-sig"),
        "utf16.txt": write(tmp_path, "utf16.txt", IOB2_PLAIN, encoding="utf-16"),
        "utf16be.txt": write(tmp_path, "utf16be.txt", "\ufeff" + IOB2_PLAIN,
                             encoding="utf-16-be"),
        "utf32.txt": write(tmp_path, "utf32.txt", IOB2_PLAIN, encoding="utf-32"),
        "tabs.tsv": write(tmp_path, "tabs.tsv", IOB2_PLAIN.replace(" ", "\t")),
        "trailing.txt": write(tmp_path, "trailing.txt", IOB2_PLAIN.replace("\n", "  \n")),
        "no_final_newline.txt": write(tmp_path, "no_final_newline.txt", IOB2_PLAIN.rstrip("\n")),
        "blank_runs.txt": write(
            tmp_path, "blank_runs.txt", "\n\n" + IOB2_PLAIN.replace("\n\n", "\n\n \n\n") + "\n\n"
        ),
        "gz.txt.gz": write(tmp_path, "gz.txt.gz", IOB2_PLAIN),
        "gz_without_the_name": write(tmp_path, "gzipped.gz", IOB2_PLAIN).rename(
            tmp_path / "gz_without_the_name"),
        "docstart_no_blank.txt": write(
            tmp_path,
            "docstart_no_blank.txt",
            "-DOCSTART- -X- -X- O\n" + IOB2_PLAIN.replace("\n\n", "\n-DOCSTART- -X- O O\n"),
        ),
    }
    for name, path in variants.items():
        got = [(s.tokens, s.labels) for s in read_corpus(path)]
        assert got == expected, name
    docs = read_conll(variants["docstart_no_blank.txt"])
    assert [s.document for s in docs] == [0, 1]


def test_unicode_tokens_and_nbsp(tmp_path):
    path = write(tmp_path, "u.txt", "São\u00a0Paulo\tB-LOC\nmañana O\n")
    sents = read_conll(path)
    assert sents[0].tokens == ["São\u00a0Paulo", "mañana"]


def test_other_encodings_by_name(tmp_path):
    text = "Müller NNP B-PER\nsagte VVFIN O\n\nZürich NE B-LOC\n"
    for encoding in ("latin-1", "cp1252", "iso-8859-15"):
        path = write(tmp_path, f"x.{encoding}", text, encoding=encoding)
        sents = read_conll(path, encoding=encoding)
        assert sents[0].tokens == ["Müller", "sagte"] and sents[1].tokens == ["Zürich"]
        gz = write(tmp_path, f"x.{encoding}.gz", text, encoding=encoding)
        assert [s.tokens for s in read_conll(gz, encoding=encoding)] == \
            [s.tokens for s in sents]
    # cp1252's curly quotes and euro sign are not latin-1
    path = write(tmp_path, "quotes.txt", "\u201cEuro\u201d O\n\u20ac O\n", encoding="cp1252")
    assert read_conll(path, encoding="cp1252")[0].tokens == ["\u201cEuro\u201d", "\u20ac"]
    with pytest.raises(SeqlabError, match="unknown encoding 'klingon'"):
        read_conll(path, encoding="klingon")


def test_streaming_is_lazy(tmp_path):
    path = write(tmp_path, "bad.txt", IOB2_PLAIN + "\nbroken line with five columns\n")
    it = sentences(path)
    assert next(it).tokens[0] == "EU"
    with pytest.raises(SeqlabError):
        list(it)


def test_conllu_skips_ranges_and_empty_nodes(tmp_path):
    path = write(tmp_path, "es.conllu", CONLLU)
    sents = read_conllu(path)
    assert [s.tokens for s in sents] == [
        ["Vamos", "nos", "a", "el", "mar", "."],
        ["Sue", "left", "_"],
        ["Hi"],
    ]
    assert sents[0].labels == ["VERB", "PRON", "ADP", "DET", "NOUN", "PUNCT"]
    assert sents[1].labels == ["PROPN", "VERB", "SYM"]
    assert [s.document for s in sents] == [0, 0, 1]
    assert sents[0].line == 1 and sents[0].line_of(0) == 5 and sents[0].line_of(2) == 8
    assert sents[1].line_of(1) == 16
    assert len(sents[0].rows[sents[0].words[0]]) == 10
    assert [s.labels for s in read_conllu(path, "xpos")][1] == ["NNP", "VBD", "SYM"]
    assert read_conllu(path, "deprel")[0].labels[0] == "root"
    # a MISC key as label; missing where MISC is "_"
    with pytest.raises(SeqlabError, match=r"es\.conllu:9: .*no MISC key NER"):
        read_conllu(path, "NER")
    fixed = write(tmp_path, "fixed.conllu", CONLLU.replace("\t_\t_\n", "\t_\tNER=O\n"))
    assert read_conllu(fixed, "misc:NER")[0].labels == ["O", "O", "O", "O", "B-LOC", "O"]
    # the format is guessed from the extension; .gz is transparent
    gz = write(tmp_path, "es.conllu.gz", CONLLU)
    assert [s.tokens for s in read_corpus(gz)] == [s.tokens for s in sents]
    assert read_corpus(gz, Reading(label_field="lemma"))[0].labels[0] == "ir"


def test_conllu_word_ids_must_count_up(tmp_path):
    skip = "1\tHi\thi\tINTJ\t_\t_\t0\troot\t_\t_\n5\tyou\tyou\tPRON\t_\t_\t1\tobj\t_\t_\n"
    path = write(tmp_path, "skip.conllu", skip)
    with pytest.raises(SeqlabError, match=r"skip\.conllu:2: word ID 5 follows word 1; expected 2"):
        read_conllu(path)
    bad_range = write(tmp_path, "range.conllu", "1-x\tHi\t_\t_\t_\t_\t_\t_\t_\t_\n")
    with pytest.raises(SeqlabError, match=r"range\.conllu:1: expected a word ID"):
        read_conllu(bad_range)
    # each sentence counts from 1 again; ranges and empty nodes do not count
    assert [len(s) for s in read_conllu(write(tmp_path, "ok.conllu", CONLLU))] == [6, 3, 1]


def test_conllu_underscore_label_is_an_error(tmp_path):
    path = write(tmp_path, "x.conllu", "1\tHi\thi\tINTJ\t_\t_\t0\troot\t_\t_\n")
    with pytest.raises(SeqlabError, match=r"x\.conllu:1: the word has no xpos value"):
        read_conllu(path, "xpos")
    bad = write(tmp_path, "y.conllu", "1 Hi hi INTJ _ _ 0 root _ _\n")
    with pytest.raises(SeqlabError, match=r"y\.conllu:1: expected 10 tab-separated fields"):
        read_conllu(bad)


def test_format_from_the_name_or_the_content(tmp_path):
    assert guess_corpus_format("a/train.conllu") == "conllu"
    assert guess_corpus_format("a/train.conllu.gz") == "conllu"
    for name in ("x.txt", "x.conll", "x.iob", "x.bio", "x.tsv", "x.txt.gz", "X.TXT"):
        assert guess_corpus_format(name) == "conll", name
    # names as corpora ship them: the content says
    for name in ("eng.train", "esp.testa", "ned.testb", "train", "x.dev.gz"):
        conll = write(tmp_path, name, IOB1_DOCSTART)
        assert guess_corpus_format(conll) == "conll", name
        assert len(read_corpus(conll)) == 4
        conllu = write(tmp_path, "u" + name, CONLLU)
        assert guess_corpus_format(conllu) == "conllu", name
        assert len(read_corpus(conllu)) == 3
    # an explicit format still wins
    path = write(tmp_path, "data.json", IOB2_PLAIN)
    assert len(read_corpus(path, Reading(format="conll"))) == 2
    with pytest.raises(SeqlabError, match="unknown format 'csv'"):
        Reading(format="csv")
    # input to tag: text unless the name or a CoNLL-U first line says otherwise
    assert guess_input_format(write(tmp_path, "in.txt", "EU rejects\n")) == "text"
    assert guess_input_format(write(tmp_path, "in", CONLLU)) == "conllu"
    assert guess_input_format("x.jsonl") == "jsonl" and guess_input_format("x.iob") == "conll"


def test_text_and_tokenizers():
    text = "Hello, world!\n\nU.S. sales rose 3.5% in 1,000 don't-stop days.\r\n"

    def tokens(tokenizer):
        return [r.tokens for r in read_records(io.BytesIO(text.encode()), Reading(format="text"),
                                               tokenizer=tokenizer)]

    assert tokens("whitespace") == [["Hello,", "world!"], [], ["U.S.", "sales", "rose",
                                    "3.5%", "in", "1,000", "don't-stop", "days."]]
    assert tokens("simple") == [
        ["Hello", ",", "world", "!"],
        [],
        ["U.S.", "sales", "rose", "3.5", "%", "in", "1,000", "don't-stop", "days", "."],
    ]
    with pytest.raises(SeqlabError, match="unknown tokenizer"):
        tokens("bpe")


# --------------------------------------------------------------------------------------------
# Bad input: one line each, with file and line (byte offset for encoding errors)
# --------------------------------------------------------------------------------------------


def test_wrong_number_of_columns(tmp_path):
    path = write(tmp_path, "train.txt", IOB2_PLAIN.replace("call NN I-NP O", "call NN O"))
    with pytest.raises(SeqlabError) as err:
        read_conll(path)
    assert str(err.value) == f"{path}:4: expected 4 columns like the lines before, found 3"


def test_label_that_does_not_fit_the_scheme(tmp_path):
    path = write(tmp_path, "train.txt", IOB2_PLAIN.replace("I-PER", "E-PER"))
    sents = read_conll(path)

    def check(scheme):
        for s in sents:
            check_labels(s.labels, scheme, path, s.line_of)

    check("iobes")
    with pytest.raises(SeqlabError) as err:
        check("iob2")
    assert str(err.value).startswith(f"{path}:8: label 'E-PER' does not fit the declared scheme")
    check("plain")
    conllu = write(tmp_path, "x.conllu", CONLLU)
    s = read_conllu(conllu)[0]
    with pytest.raises(SeqlabError, match=r"x\.conllu:5: label 'VERB' does not fit"):
        check_labels(s.labels, "iob2", conllu, s.line_of)


@pytest.mark.parametrize("text", ["", "\n\n  \n", "-DOCSTART- -X- -X- O\n\n"])
def test_empty_file(tmp_path, text):
    path = write(tmp_path, "empty.txt", text)
    with pytest.raises(SeqlabError, match=r"empty\.txt: empty file"):
        read_conll(path)
    conllu = write(tmp_path, "empty.conllu", "# only a comment\n" if text else "")
    with pytest.raises(SeqlabError, match=r"empty\.conllu: empty file"):
        read_corpus(conllu)


def test_not_utf8(tmp_path):
    text = IOB2_PLAIN.encode() + "Müller NNP B-NP B-PER\n".encode("latin-1")
    path = tmp_path / "latin1.txt"
    path.write_bytes(text)
    offset = len(IOB2_PLAIN.encode()) + 1  # the ü
    with pytest.raises(SeqlabError) as err:
        read_conll(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}:9: byte {offset}: not valid UTF-8 (byte 0xfc)")
    assert "another encoding" in msg and err.value.argument == "encoding"
    assert "\n" not in msg
    assert read_conll(path, encoding="latin-1")[1].tokens[-1] == "Müller"
    # UTF-16 without a byte-order mark: NUL bytes between the letters
    utf16 = write(tmp_path, "utf16.txt", IOB2_PLAIN, encoding="utf-16-le")
    with pytest.raises(SeqlabError, match=r"utf16\.txt:1: byte 1: a NUL byte: the file looks like "
                                          "UTF-16"):
        read_conll(utf16)
    assert len(read_conll(utf16, encoding="utf-16-le")) == 2


def test_error_offset_in_a_later_block(tmp_path):
    from seqlab.formats.lines import _BLOCK  # the bytes decoded at once

    # Over two blocks of sentences, lines cut across the blocks, then a bad byte.
    repeats = 2 * _BLOCK // len(IOB2_PLAIN + "\n") + 1
    good = (IOB2_PLAIN + "\n") * repeats
    lines = good.count("\n")
    path = tmp_path / "x.txt"
    path.write_bytes(good.encode() + b"ab\xff O\n")
    with pytest.raises(SeqlabError,
                       match=rf"x\.txt:{lines + 1}: byte {len(good.encode()) + 2}: "):
        read_conll(path)
    path.write_bytes(good.encode())
    assert len(read_conll(path)) == 2 * repeats
    assert [n for n, _ in read_lines(path)] == list(range(1, lines + 1))
    assert "".join(line + "\n" for _, line in read_lines(path)) == good
    # the same through the incremental decoder (UTF-16), lines cut across blocks
    path.write_bytes(good.encode("utf-16"))
    assert "".join(line + "\n" for _, line in read_lines(path)) == good


def test_lines_of_a_pipe_come_as_they_arrive():
    """A stream that is not a regular file is read line by line (interactive stdin)."""
    import os
    import threading

    read_fd, write_fd = os.pipe()
    reader = os.fdopen(read_fd, "rb")
    lines = read_lines(reader, "<stdin>")
    os.write(write_fd, b"first line\n")
    got = []
    thread = threading.Thread(target=lambda: got.append(next(lines)))
    thread.start()
    thread.join(timeout=10)
    assert got == [(1, "first line")], "the first line waited for more input"
    os.write(write_fd, "Zürich\n".encode())
    os.close(write_fd)
    assert list(lines) == [(2, "Zürich")]


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(SeqlabError, match=r"nope\.txt: no such file"):
        read_conll(tmp_path / "nope.txt")
    with pytest.raises(SeqlabError, match="is a directory"):
        read_conll(tmp_path)


def test_broken_gzip(tmp_path):
    path = tmp_path / "x.txt.gz"
    path.write_bytes(b"this is not gzip\n")
    with pytest.raises(SeqlabError, match=r"x\.txt\.gz(:1)?: the gzip stream is broken"):
        read_conll(path)
    path.write_bytes(gzip.compress(IOB2_PLAIN.encode())[:-12])
    with pytest.raises(SeqlabError, match="gzip stream is broken"):
        read_conll(path)


def test_columns_that_do_not_exist(tmp_path):
    one = write(tmp_path, "one.txt", "EU\nrejects\n")
    with pytest.raises(SeqlabError, match=r"one\.txt:1: expected at least 2 columns"):
        read_conll(one)
    assert read_corpus(one, Reading(format="conll"), labelled=False)[0].tokens == \
        ["EU", "rejects"]
    path = write(tmp_path, "four.txt", IOB2_PLAIN)
    with pytest.raises(SeqlabError, match=r"four\.txt:1: there is no label column 7"):
        read_conll(path, label_column=7)
    with pytest.raises(SeqlabError, match="two of the columns are the same"):
        read_conll(path, label_column=0)


def test_record_defaults():
    r = Record(tokens=["a", "b"])
    assert r.labels is None and r.rows is None and r.line == 0 and r.document == 0
    assert len(r) == 2 and r.kind == "sentence" and r.line_of(1) == 1
