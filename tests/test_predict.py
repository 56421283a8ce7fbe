"""`seqlab predict`: every input and output format round trip, streaming, long input, errors.

All tests share the session's one tiny trained model (``trained`` in conftest.py) and run the
CLI in-process, except the streaming test, where a fresh process reading a live pipe is the
point.
"""

import io
import json
import os

import numpy as np
import pytest

from seqlab.schemes import get_chunks

from conftest import DATA, invoke, ok

CONLL = (
    "-DOCSTART- -X- -X- O\n"
    "\n"
    "EU NNP B-NP B-ORG\n"
    "rejects VBZ B-VP O\n"
    "German JJ B-NP B-MISC\n"
    "\n"
    "\n"
    "Peter NNP B-NP B-PER\n"
    "Blackburn NNP I-NP I-PER\n"
    "\n"
    "BRUSSELS NNP B-NP B-LOC\n"
)

CONLLU = (
    "# sent_id = 1\n"
    "# text = Maria went to Oslo\n"
    "1\tMaria\tMaria\tPROPN\t_\t_\t2\tnsubj\t_\tNER=B-PER\n"
    "2-3\twent-to\t_\t_\t_\t_\t_\t_\t_\t_\n"
    "2\twent\tgo\tVERB\t_\t_\t0\troot\t_\t_\n"
    "3\tto\tto\tADP\t_\t_\t4\tcase\t_\t_\n"
    "3.1\tthere\tthere\tADV\t_\t_\t_\t_\t_\t_\n"
    "4\tOslo\tOslo\tPROPN\t_\t_\t2\tobl\t_\tSpaceAfter=No\n"
    "\n"
    "\n"
    "# sent_id = 2\n"
    "1\tHi\thi\tINTJ\t_\t_\t0\troot\t_\t_\n"
    "\n"
)


@pytest.fixture(scope="module")
def model(trained):
    return trained / "model.keras"


@pytest.fixture(scope="module")
def tagger(model):
    from seqlab.tagger import Tagger

    return Tagger.load(model)


# --------------------------------------------------------------------------------- text input


def test_text_to_conll_keeps_blank_lines_and_order(model, tagger):
    text = "Maria flew to Oslo .\n\n   \nThe EU met\nBonn\n"
    out = ok(invoke("predict", model, "-", input=text))
    # each sentence: token lines, then a blank line; an empty sentence is one blank line
    blocks = out.split("\n")
    sentences = [line.split() for line in text.splitlines()]
    expected_tags = tagger.tag(sentences)
    expected = "".join("".join(f"{t} {g}\n" for t, g in zip(s, tags)) + "\n"
                       for s, tags in zip(sentences, expected_tags))
    assert out == expected
    assert blocks.count("") >= 3


def test_simple_tokenizer_splits_punctuation(model):
    out = ok(invoke("predict", model, "-", "--tokenizer", "simple", "-f", "jsonl",
                    input="Hello, world! The U.S. costs 3.5 dollars.\n"))
    record = json.loads(out)
    assert record["tokens"] == ["Hello", ",", "world", "!", "The", "U.S.", "costs", "3.5",
                                "dollars", "."]


def test_text_to_jsonl_with_probs(model, tagger):
    out = ok(invoke("predict", model, "-", "--format", "jsonl", "--probs",
                    input="Maria flew to Oslo .\n\nThe EU met\n"))
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["tokens"] for r in records] == [["Maria", "flew", "to", "Oslo", "."], [],
                                              ["The", "EU", "met"]]
    tags, probs = tagger.tag_with_probs([r["tokens"] for r in records])
    for r, t, p in zip(records, tags, probs):
        assert r["tags"] == t and r["probs"] == p
        assert len(r["probs"]) == len(r["tokens"])
        assert all(1 / len(tagger.labels) - 1e-6 <= x <= 1 for x in r["probs"])
        assert [(s["type"], s["start"], s["end"]) for s in r["spans"]] == get_chunks(r["tags"])
    # the probabilities are those of the chosen tags
    ids, _ = tagger.predict_ids([records[0]["tokens"]], probs=True)
    assert [tagger.labels[i] for i in ids[0]] == records[0]["tags"]


# --------------------------------------------------------------------------------- CoNLL input


def test_conll_round_trip_keeps_every_column_and_line(model, tmp_path):
    src = tmp_path / "in.conll"
    src.write_text(CONLL, encoding="utf-8")
    out = ok(invoke("predict", model, src))  # .conll: CoNLL input, CoNLL output
    in_lines, out_lines = CONLL.splitlines(), out.splitlines()
    assert len(out_lines) == len(in_lines)
    for a, b in zip(in_lines, out_lines):
        if not a:
            assert b == ""
        else:
            head, _, tag = b.rpartition(" ")
            assert head == a and tag
    # the output feeds `seqlab evaluate --predictions` directly: gold, then predicted
    tagged = tmp_path / "tagged.txt"
    tagged.write_text(out, encoding="utf-8")
    scores = json.loads(ok(invoke("evaluate", "--predictions", tagged, "--json")))
    assert scores["gold_chunks"] == 4 and scores["tokens"] == 6


def test_conll_token_column_and_tabs(model, tagger):
    text = "1\tEU\tB-ORG\n2\trejects\tO\n\n1\tOslo\tB-LOC\n"
    out = ok(invoke("predict", model, "-", "-i", "conll", "--token-column", "1", input=text))
    rows = [line.split("\t") for line in out.splitlines()]
    assert rows[2] == [""]
    assert [r[:3] for r in rows if len(r) > 1] == [line.split("\t") for line in
                                                   text.splitlines() if line]
    expected = [t for s in tagger.tag([["EU", "rejects"], ["Oslo"]]) for t in s]
    assert [r[3] for r in rows if len(r) > 1] == expected


def test_conll_to_jsonl_keeps_columns(model):
    out = ok(invoke("predict", model, "-", "-i", "conll", "-f", "jsonl", input=CONLL))
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["tokens"] for r in records] == [["EU", "rejects", "German"],
                                              ["Peter", "Blackburn"], ["BRUSSELS"]]
    assert records[1]["columns"] == [["Peter", "NNP", "B-NP", "B-PER"],
                                     ["Blackburn", "NNP", "I-NP", "I-PER"]]


# ------------------------------------------------------------------------------- CoNLL-U input


@pytest.mark.slow
def test_conllu_round_trip_keeps_comments_ranges_and_empty_nodes(model, tagger, tmp_path):
    src = tmp_path / "in.conllu"
    src.write_text(CONLLU, encoding="utf-8")
    out = ok(invoke("predict", model, src))  # .conllu: CoNLL-U in and out, tags in UPOS
    in_lines, out_lines = CONLLU.splitlines(), out.splitlines()
    assert len(out_lines) == len(in_lines)
    tags = iter([t for s in tagger.tag([["Maria", "went", "to", "Oslo"], ["Hi"]]) for t in s])
    for a, b in zip(in_lines, out_lines):
        fa, fb = a.split("\t"), b.split("\t")
        if len(fa) == 10 and fa[0].isdigit():
            assert fb[:3] + fb[4:] == fa[:3] + fa[4:] and fb[3] == next(tags)
        else:
            assert a == b

    out = ok(invoke("predict", model, src, "--label-field", "misc:NER"))
    first = out.splitlines()[2].split("\t")
    assert first[3] == "PROPN" and first[9].startswith("NER=") and first[9].count("NER=") == 1
    last = out.splitlines()[7].split("\t")
    assert last[9].startswith("SpaceAfter=No|NER=")

    out = ok(invoke("predict", model, src, "-f", "jsonl"))
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["tokens"] for r in records] == [["Maria", "went", "to", "Oslo"], ["Hi"]]
    assert records[0]["comments"] == ["# sent_id = 1", "# text = Maria went to Oslo"]


# --------------------------------------------------------------------------------- JSON lines


@pytest.mark.slow
def test_jsonl_round_trip_keeps_keys_and_blank_lines(model, tagger, tmp_path):
    lines = ['{"id": 1, "tokens": ["Maria", "flew"], "meta": {"a": [1, 2]}}', "",
             '{"id": 2, "tokens": []}', '{"id": 3, "text": "Bonn is big."}']
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = ok(invoke("predict", model, src))  # .jsonl: JSON lines in and out
    out_lines = out.splitlines()
    assert len(out_lines) == 4 and out_lines[1] == ""
    a, b, c = (json.loads(out_lines[i]) for i in (0, 2, 3))
    assert a["id"] == 1 and a["meta"] == {"a": [1, 2]} and a["tokens"] == ["Maria", "flew"]
    assert a["tags"] == tagger.tag([["Maria", "flew"]])[0]
    assert b == {"id": 2, "tokens": [], "tags": [], "spans": []}
    assert c["text"] == "Bonn is big." and c["tokens"] == ["Bonn", "is", "big."]
    # JSON lines in, CoNLL out: a blank line and an empty sentence are blank lines in place
    out = ok(invoke("predict", model, src, "-f", "conll"))
    assert out.split("\n\n")[0] == "\n".join(f"{t} {g}" for t, g in
                                             zip(a["tokens"], a["tags"]))
    assert out.count("\n") == 2 + 1 + 1 + 1 + 3 + 1


def test_writers_spans_on_hand_made_tags():
    from seqlab.formats import Record, writer

    out = io.StringIO()
    record = Record(tokens=["Peter", "Blackburn", "visited", "New", "York"],
                    tags=["B-PER", "I-PER", "O", "B-LOC", "I-LOC"], probs=[0.9] * 5)
    writer("jsonl", "text")(out, record)
    obj = json.loads(out.getvalue())
    assert obj["spans"] == [
        {"start": 0, "end": 2, "type": "PER", "text": "Peter Blackburn"},
        {"start": 3, "end": 5, "type": "LOC", "text": "New York"}]
    assert obj["probs"] == [0.9] * 5


# ----------------------------------------------------------------------------------- streaming


@pytest.mark.slow
def test_a_line_typed_is_answered_at_once_in_a_fresh_process(model):
    """At the default batch size each line is answered as soon as the input pauses, before
    the next one is written."""
    from conftest import live_process

    with live_process("predict", model, "-") as proc:
        answers = []
        for line in ("Maria flew to Oslo", "Bonn", "the EU met"):
            proc.stdin.write(line + "\n")
            proc.stdin.flush()
            block = []
            while (row := proc.stdout.readline()) not in ("\n", ""):
                block.append(row.split()[0])
            answers.append(block)
        proc.stdin.close()
        assert proc.wait() == 0, proc.stderr.read()
    assert answers == [["Maria", "flew", "to", "Oslo"], ["Bonn"], ["the", "EU", "met"]]


def test_live_blocks_take_what_has_arrived_up_to_the_batch_size():
    import time

    from seqlab.predict import live_blocks

    def burst():  # 150 records at once
        yield from range(150)

    assert [len(b) for b in live_blocks(burst(), 64)] == [64, 64, 22]

    def typed():  # one record, then a pause, three times
        for i in range(3):
            yield i
            time.sleep(0.3)

    assert list(live_blocks(typed(), 64)) == [[0], [1], [2]]

    def broken():
        yield 1
        raise ValueError("bad line")

    blocks = live_blocks(broken(), 64)
    assert next(blocks) == [1]
    with pytest.raises(ValueError, match="bad line"):
        next(blocks)


def test_stream_keeps_order_across_batches(tagger):
    from seqlab.formats import Reading, read_records, writer
    from seqlab.predict import predict_stream

    rng = np.random.default_rng(0)
    words = ["Oslo", "Maria", "met", "the", "EU", ",", "in", "Bonn"]
    sentences = [list(rng.choice(words, size=rng.integers(0, 12))) for _ in range(50)]
    text = "".join(" ".join(s) + "\n" for s in sentences)
    out = io.StringIO()
    records = read_records(io.BytesIO(text.encode()), Reading(format="text"))
    n = predict_stream(tagger, records, out, writer("jsonl", "text"), batch_size=3, chunk=7)
    assert n == sum(1 for s in sentences if s)  # empty lines are written, not counted
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["tokens"] for r in records] == sentences
    expected = [tags for i in range(0, 50, 7) for tags in tagger.tag(sentences[i:i + 7], 3)]
    assert [r["tags"] for r in records] == expected


def test_a_file_is_read_tagged_and_written_with_the_collector_paused_block_by_block():
    """Each block of a file is read, tagged and written with the cyclic collector paused and
    freed before it resumes: none of its objects lives into the collector's older
    generations, whose collections walk the whole TensorFlow heap."""
    import gc
    import weakref

    from seqlab.formats import Record
    from seqlab.predict import predict_stream

    class Probe:
        pass

    class AllO:  # a tagger that tags every token O (Tagger.tag's signature)
        context = 0

        def tag(self, sentences, batch_size=64, documents=None):
            return [["O"] * len(s) for s in sentences]

    probes: list = []
    read: list = []  # (collector on, records of earlier blocks alive) as each record is read

    def records(n=10, chunk=4):
        for i in range(n):
            earlier = probes[:i - i % chunk]
            read.append((gc.isenabled(), sum(p() is not None for p in earlier)))
            record = Record(tokens=["a"] * (i % 3 + 1), data=Probe())
            probes.append(weakref.ref(record.data))
            yield record
            del record

    written: list = []
    assert gc.isenabled()
    count = predict_stream(AllO(), records(), io.StringIO(),
                           lambda out, record: written.append(gc.isenabled()), chunk=4)
    assert count == 10 and gc.isenabled()
    assert read == [(False, 0)] * 10 and written == [False] * 10


def test_tags_do_not_depend_on_batching(tagger):
    """Padding is masked end to end, so a sentence gets the same tags in any batch."""
    assert tagger.chars is not None  # the quickstart model reads characters too
    rng = np.random.default_rng(1)
    words = ["Oslo", "Maria", "met", "the", "EU", ",", "in", "Bonn"]
    sentences = [list(rng.choice(words, size=rng.integers(1, 15))) for _ in range(40)]
    one_by_one = tagger.predict_ids(sentences, batch_size=1, probs=True)[1]
    together = tagger.predict_ids(sentences, batch_size=64, probs=True)[1]
    for a, b in zip(one_by_one, together):
        np.testing.assert_allclose(a, b, atol=1e-5)


# --------------------------------------------------------------------------------- long input


def test_ten_thousand_tokens_local_attention_whole(tagger):
    assert not tagger.global_attention and tagger.max_length == 0
    words = (DATA / "sample_input.txt").read_text(encoding="utf-8").split()
    long = (words * (10_000 // len(words) + 1))[:10_000]
    tags = tagger.tag([long, ["Oslo"]])
    assert len(tags[0]) == 10_000 and len(tags[1]) == 1


@pytest.mark.slow
def test_global_attention_splits_long_sentences_into_windows_with_a_warning():
    from seqlab.config import ModelConfig
    from seqlab.model import build_model
    from seqlab.tagger import Tagger
    from seqlab.vocab import LabelVocabulary, Vocabulary
    from seqlab.windows import windows

    config = ModelConfig(embedding={"dim": 8}, lstm={"units": 8},
                         attention={"units": 4, "width": None})
    vocab = Vocabulary.build([["a", "b", "c"]])
    model = build_model(config, vocab, LabelVocabulary(["O", "B-X", "I-X"]), scheme="iob2")
    messages = []
    tagger = Tagger(model, max_length=1000, warn=messages.append)
    assert tagger.global_attention
    assert Tagger(model).max_length == 4096  # the default for global attention
    tags = tagger.tag([["a", "b", "c"] * 900, ["a"]])
    assert len(tags[0]) == 2700 and len(tags[1]) == 1
    assert len(messages) == 1 and "2700 tokens" in messages[0] and "windows" in messages[0]
    # windows: at most `size` tokens, kept parts tile the sentence in order
    for n, size in ((2700, 1000), (5, 4), (10_000, 4096), (17, 8)):
        parts = windows(n, size)
        assert [p[2] for p in parts] == [0] + [p[3] for p in parts[:-1]] and parts[-1][3] == n
        assert all(e - s <= size and s <= a < b <= e for s, e, a, b in parts)
    # tagging whole (max_length 0) and in windows give one tag per token
    whole = Tagger(model, max_length=0).predict_ids([["a", "b", "c"] * 900])[0][0]
    split = tagger.predict_ids([["a", "b", "c"] * 900])[0][0]
    assert len(whole) == len(split)


# ------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("args, stdin, expected", [
    (["-", "-i", "jsonl"], '{"tokens": ["a"]}\n{"tokens": "a b"}\n',
     '<stdin>:2: expected an object with "tokens"'),
    (["-", "-i", "jsonl"], '{"tokens": ["a"]\n', "<stdin>:1: not valid JSON"),
    (["-", "-i", "conll"], "EU B-ORG\nrejects\n", "<stdin>:2: expected 2 columns"),
    (["-", "-i", "conllu"], "1\tEU\n", "<stdin>:1: expected 10 tab-separated fields"),
    (["-", "--probs"], "a\n", "--probs needs --format jsonl"),
    (["-", "-f", "conllu"], "a\n", "--format conllu needs CoNLL-U input"),
    (["-", "-i", "xml"], "a\n", "--input-format 'xml': expected one of"),
    (["-", "--tokenizer", "spacy"], "a\n", "unknown tokenizer 'spacy'; expected one of"),
    (["-", "--encoding", "klingon"], "a\n", "unknown encoding 'klingon'"),
    (["-", "-f", "conllu", "-i", "conllu", "--label-field", "id"], "a\n",
     "label field 'id' cannot be a label"),
])
def test_bad_input_is_one_line_exit_2(model, args, stdin, expected):
    result = invoke("predict", model, *args, input=stdin)
    assert result.exit_code == 2, result.output
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_not_utf8_names_the_line(model, tmp_path):
    src = tmp_path / "bad.txt"
    src.write_bytes(b"fine line\nbad \xff byte\n")
    result = invoke("predict", model, src)
    assert result.exit_code == 2
    assert f"{src}:2: byte 14: not valid UTF-8 (byte 0xff)" in result.stderr
    assert result.stderr.strip().endswith("with --encoding")
    src.write_bytes("fine line\nbad \xff byte\n".encode("latin-1"))
    out = ok(invoke("predict", model, src, "--encoding", "latin-1", "-f", "jsonl"))
    assert json.loads(out.splitlines()[1])["tokens"] == ["bad", "\xff", "byte"]


@pytest.mark.slow
def test_output_file_needs_force(model, tmp_path):
    out = tmp_path / "out.conll"
    out.write_text("keep me")
    result = invoke("predict", model, DATA / "sample_input.txt", "-o", out)
    assert result.exit_code == 2 and "--force" in result.stderr
    assert out.read_text() == "keep me"
    ok(invoke("predict", model, DATA / "sample_input.txt", "-o", out, "--force"))
    assert out.read_text().startswith("Maria ")
    assert not os.path.exists(str(out) + ".tmp")


@pytest.mark.slow
def test_empty_input(model, tmp_path):
    """An empty named file is an error (nothing overwritten); an empty stream is fine, said on
    stderr."""
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    out = tmp_path / "out.conll"
    result = invoke("predict", model, empty, "-o", out)
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {empty}: the file holds no sentence to tag"
    assert not out.exists()
    result = invoke("predict", model, "-", input="")
    assert result.exit_code == 0 and result.stdout == ""
    assert "the input held no sentence" in result.stderr
