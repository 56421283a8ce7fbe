"""Readers: column files in both CoNLL-2003 forms, CoNLL-U, raw text, and bad input."""

import gzip

import pytest

from seqlab.data import (
    Sentence,
    check_labels,
    guess_format,
    iter_conll,
    iter_lines,
    iter_text,
    read_conll,
    read_conllu,
    read_corpus,
)
from seqlab.errors import SeqlabError
from seqlab.schemes import detect_scheme, get_chunks

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
    assert sents[0].columns[4] == [".", ".", "O", "O"]
    assert detect_scheme(s.labels for s in sents) == "iob1"
    assert get_chunks(sents[3].labels) == [("LOC", 0, 1), ("LOC", 1, 2)]


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
    unlabelled = read_conll(path, labelled=False)
    assert unlabelled[0].labels is None and unlabelled[0].tokens[0] == "EU"


def test_layout_variants_read_the_same(tmp_path):
    expected = [(s.tokens, s.labels) for s in read_conll(write(tmp_path, "a.txt", IOB2_PLAIN))]
    variants = {
        "crlf.txt": write(tmp_path, "crlf.txt", IOB2_PLAIN, newline="\r\n"),
        "bom.txt": write(tmp_path, "bom.txt", IOB2_PLAIN, encoding="utf-8-sig"),
        "tabs.tsv": write(tmp_path, "tabs.tsv", IOB2_PLAIN.replace(" ", "\t")),
        "trailing.txt": write(tmp_path, "trailing.txt", IOB2_PLAIN.replace("\n", "  \n")),
        "no_final_newline.txt": write(tmp_path, "no_final_newline.txt", IOB2_PLAIN.rstrip("\n")),
        "blank_runs.txt": write(
            tmp_path, "blank_runs.txt", "\n\n" + IOB2_PLAIN.replace("\n\n", "\n\n \n\n") + "\n\n"
        ),
        "gz.txt.gz": write(tmp_path, "gz.txt.gz", IOB2_PLAIN),
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


def test_streaming_is_lazy(tmp_path):
    path = write(tmp_path, "bad.txt", IOB2_PLAIN + "\nbroken line with five columns\n")
    it = iter_conll(path)
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
    assert sents[0].line == 5 and sents[0].line_of(2) == 8 and sents[1].line_of(1) == 16
    assert len(sents[0].columns[0]) == 10
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
    assert read_corpus(gz, label_field="lemma")[0].labels[0] == "ir"


def test_conllu_underscore_label_is_an_error(tmp_path):
    path = write(tmp_path, "x.conllu", "1\tHi\thi\tINTJ\t_\t_\t0\troot\t_\t_\n")
    with pytest.raises(SeqlabError, match=r"x\.conllu:1: the word has no xpos value"):
        read_conllu(path, "xpos")
    bad = write(tmp_path, "y.conllu", "1 Hi hi INTJ _ _ 0 root _ _\n")
    with pytest.raises(SeqlabError, match=r"y\.conllu:1: expected 10 tab-separated fields"):
        read_conllu(bad)


def test_format_guessing(tmp_path):
    assert guess_format("a/train.conllu") == "conllu"
    assert guess_format("a/train.conllu.gz") == "conllu"
    for name in ("x.txt", "x.conll", "x.iob", "x.bio", "x.tsv", "x.txt.gz", "X.TXT"):
        assert guess_format(name) == "conll", name
    with pytest.raises(SeqlabError, match=r"train\.json: cannot tell the format.*format: conll"):
        guess_format("train.json")
    with pytest.raises(SeqlabError, match="cannot tell the format"):
        guess_format("train")
    path = write(tmp_path, "data.json", IOB2_PLAIN)
    assert len(read_corpus(path, format="conll")) == 2
    with pytest.raises(SeqlabError, match="unknown corpus format 'csv'"):
        read_corpus(path, format="csv")


def test_iter_text():
    lines = ["Hello, world!\n", "\n", "U.S. sales rose 3.5% in 1,000 don't-stop days.\r\n"]
    assert list(iter_text(lines)) == [["Hello,", "world!"], [], ["U.S.", "sales", "rose",
                                      "3.5%", "in", "1,000", "don't-stop", "days."]]
    assert list(iter_text(lines, tokenizer="simple")) == [
        ["Hello", ",", "world", "!"],
        [],
        ["U.S.", "sales", "rose", "3.5", "%", "in", "1,000", "don't-stop", "days", "."],
    ]
    with pytest.raises(SeqlabError, match="unknown tokenizer"):
        list(iter_text(lines, tokenizer="bpe"))


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
    check_labels(sents, "iobes", path)
    with pytest.raises(SeqlabError) as err:
        check_labels(sents, "iob2", path)
    assert str(err.value).startswith(f"{path}:8: label 'E-PER' does not fit the declared scheme")
    check_labels(sents, "plain", path)
    conllu = write(tmp_path, "x.conllu", CONLLU)
    with pytest.raises(SeqlabError, match=r"x\.conllu:5: label 'VERB' does not fit"):
        check_labels(read_conllu(conllu), "iob2", conllu)


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
    assert "\n" not in msg
    utf16 = write(tmp_path, "utf16.txt", IOB2_PLAIN, encoding="utf-16")
    with pytest.raises(SeqlabError, match=r"utf16\.txt:1: byte 0: the file looks like UTF-16"):
        read_conll(utf16)


def test_error_offset_in_a_later_block(tmp_path, monkeypatch):
    from seqlab import data

    monkeypatch.setattr(data, "_BLOCK", 16)  # many blocks, lines cut across them
    good = (IOB2_PLAIN + "\n") * 3
    path = tmp_path / "x.txt"
    path.write_bytes(good.encode() + b"ab\xff O\n")
    with pytest.raises(SeqlabError, match=rf"x\.txt:28: byte {len(good.encode()) + 2}: "):
        read_conll(path)
    path.write_bytes(good.encode())
    assert len(read_conll(path)) == 6
    assert [n for n, _ in iter_lines(path)] == list(range(1, 28))
    assert "".join(line for _, line in iter_lines(path)) == good


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(SeqlabError, match=r"nope\.txt: no such file"):
        read_conll(tmp_path / "nope.txt")
    with pytest.raises(SeqlabError, match="is a directory"):
        read_conll(tmp_path)


def test_broken_gzip(tmp_path):
    path = tmp_path / "x.txt.gz"
    path.write_bytes(b"this is not gzip\n")
    with pytest.raises(SeqlabError, match=r"x\.txt\.gz:1: the gzip stream is broken"):
        read_conll(path)
    path.write_bytes(gzip.compress(IOB2_PLAIN.encode())[:-12])
    with pytest.raises(SeqlabError, match="gzip stream is broken"):
        read_conll(path)


def test_columns_that_do_not_exist(tmp_path):
    one = write(tmp_path, "one.txt", "EU\nrejects\n")
    with pytest.raises(SeqlabError, match=r"one\.txt:1: expected at least 2 columns"):
        read_conll(one)
    assert read_conll(one, labelled=False)[0].tokens == ["EU", "rejects"]
    path = write(tmp_path, "four.txt", IOB2_PLAIN)
    with pytest.raises(SeqlabError, match=r"four\.txt:1: there is no label column 7"):
        read_conll(path, label_column=7)
    with pytest.raises(SeqlabError, match="is the token column"):
        read_conll(path, label_column=0)


def test_sentence_defaults():
    s = Sentence(["a", "b"])
    assert s.labels is None and s.columns is None and s.line == 0 and s.document == 0
    assert len(s) == 2
