"""Reading files and paths as a hostile user finds them (issue 37, items 6, 9, 15, 16, 18):
encodings that are not text encodings or need a byte-order mark, paths that are a directory,
a FIFO, a device or a loop of symbolic links, pipes read once, tab-separated tokens holding a
space. Each answers with one line naming the file and what was expected, exit 2, or reads
the input right."""

import json
import os
import shutil
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest

from seqlab.errors import SeqlabError
from seqlab.formats import Reading, check_encoding, read_corpus, read_lines, read_records

from conftest import DATA, ROOT, SEQLAB, invoke, ok, one_line_error

CONFIG = ROOT / "configs/quickstart.yaml"
TAB_CORPUS = "New York\tNNP\tB-LOC\nis\tVBZ\tO\nbig\tJJ\tO\n\nLos Angeles\tNNP\tB-LOC\n\n"



@pytest.fixture
def loop(tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    return tmp_path / "a"


@pytest.fixture
def fifo(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("needs FIFOs")
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return path


def feed(path, data: bytes) -> threading.Thread:
    """A writer that sends ``data`` to a FIFO (or a pipe's write end, an int) and closes it."""
    def write():
        if isinstance(path, int):
            with os.fdopen(path, "wb") as f:
                f.write(data)
            return
        with open(path, "wb") as f:
            f.write(data)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def piped(data: bytes) -> str:
    """A path like bash's ``<(cat FILE)``: /dev/fd/N of a pipe being written."""
    read_fd, write_fd = os.pipe()
    feed(write_fd, data)
    return f"/dev/fd/{read_fd}"


def edited_model(trained, tmp_path, **reading) -> Path:
    """A copy of the trained model whose stored reading has ``reading`` changed."""
    src = trained / "model.keras"
    dst = tmp_path / "edited.keras"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)

                def edit(node):
                    if isinstance(node, dict):
                        if isinstance(node.get("reading"), dict):
                            node["reading"].update(reading)
                        for value in node.values():
                            edit(value)
                    elif isinstance(node, list):
                        for value in node:
                            edit(value)

                edit(config)
                data = json.dumps(config).encode()
            zout.writestr(item, data)
    return dst


# -- item 6: encodings -----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["rot13", "hex_codec", "base64", "zlib"])
def test_codecs_that_are_not_text_encodings_are_refused(name):
    with pytest.raises(SeqlabError, match=f"train.txt: encoding '{name}' is not a text "
                                          "encoding") as caught:
        check_encoding(name, "train.txt")
    assert caught.value.argument == "encoding"
    with pytest.raises(SeqlabError, match="not a text encoding"):
        Reading(encoding=name)


def test_known_text_encodings_pass():
    assert check_encoding("latin-1") == "iso8859-1"
    assert check_encoding(None) == "utf-8"


@pytest.mark.parametrize("name", ["rot13", "hex_codec"])
def test_reading_a_file_with_a_codec_that_is_not_text(name):
    with pytest.raises(SeqlabError, match=f"test.txt: encoding '{name}' is not a text"):
        list(read_lines(DATA / "test.txt", encoding=name))


@pytest.mark.parametrize("name", ["utf-16", "utf-32"])
def test_utf16_without_a_byte_order_mark_names_the_file(name, tmp_path):
    path = tmp_path / "plain.txt"
    path.write_bytes("EU B-ORG\n".encode(name)[4 if name == "utf-32" else 2:])  # mark cut off
    with pytest.raises(SeqlabError, match=r"plain\.txt:1: .*byte-order mark"):
        read_corpus(path, Reading(encoding=name))


@pytest.mark.parametrize("name,expected", [
    ("utf-16", "byte-order mark"),
    ("rot13", "encoding 'rot13' is not a text encoding"),
    ("hex_codec", "encoding 'hex_codec' is not a text encoding"),
    ("klingon", "unknown encoding 'klingon'"),
])
def test_data_stats_with_a_bad_encoding(name, expected):
    line = one_line_error(invoke("data", "stats", "--encoding", name, DATA / "dev.txt"),
                          expected, "--encoding")
    assert "dev.txt" in line


@pytest.mark.parametrize("name,expected", [
    ("utf-16", "byte-order mark"),
    ("hex_codec", "'hex_codec' is not a text encoding"),
])
def test_train_with_a_bad_data_encoding(name, expected, tmp_path):
    result = invoke("train", CONFIG, "-o", tmp_path / "run", "--set", f"data.encoding={name}")
    one_line_error(result, expected, "data.encoding")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("name", ["rot13", "hex_codec", "klingon"])
def test_evaluate_with_a_model_whose_stored_encoding_was_edited(trained, tmp_path, name):
    model = edited_model(trained, tmp_path, encoding=name)
    line = one_line_error(invoke("evaluate", model, DATA / "test.txt"), repr(name))
    assert "edited.keras" in line
    one_line_error(invoke("predict", model, DATA / "test.txt"), "edited.keras", repr(name))


def test_a_stored_reading_that_is_not_a_mapping():
    with pytest.raises(SeqlabError, match=r"m\.keras: its stored reading is a list"):
        Reading.from_dict(["utf-8"], "m.keras")


# -- items 9 and 16: what a path is ------------------------------------------------------------

def test_input_file_says_what_the_path_is(tmp_path, loop, fifo):
    from seqlab.paths import PathError, input_file

    (tmp_path / "f.txt").write_text("x\n")
    assert input_file(tmp_path / "f.txt", "corpus file") == tmp_path / "f.txt"
    assert input_file(fifo, "corpus file") == fifo  # read once, as it comes
    with pytest.raises(PathError, match="is a loop of symbolic links, expected a corpus file"):
        input_file(loop, "corpus file")
    with pytest.raises(PathError, match="is a directory, expected a corpus file"):
        input_file(tmp_path, "corpus file")
    with pytest.raises(PathError, match=r"is a pipe \(FIFO\), expected a regular model file "
                                        r"\(seeks\)"):
        input_file(fifo, "model file", stream_ok=False, why="seeks")
    with pytest.raises(PathError, match="nope.txt: corpus file not found") as caught:
        input_file(tmp_path / "nope.txt", "corpus file")
    assert caught.value.missing
    (tmp_path / "dangling").symlink_to(tmp_path / "gone.txt")
    with pytest.raises(PathError, match="not found .a symbolic link to .*gone.txt"):
        input_file(tmp_path / "dangling", "input file")
    with pytest.raises(PathError, match="f.txt/x: corpus file not found"):
        input_file(tmp_path / "f.txt" / "x", "corpus file")
    if os.path.exists("/dev/null"):
        assert input_file("/dev/null", "input file") == Path("/dev/null")
        with pytest.raises(PathError, match="is a character device, expected a regular"):
            input_file("/dev/null", "model file", stream_ok=False)


def test_readers_say_a_loop_is_a_loop(loop):
    with pytest.raises(SeqlabError, match="is a loop of symbolic links"):
        read_corpus(loop)


def test_data_stats_on_paths_that_are_not_files(tmp_path, loop):
    one_line_error(invoke("data", "stats", loop), "is a loop of symbolic links",
                   "expected a corpus file")
    one_line_error(invoke("data", "stats", tmp_path), "is a directory, expected a corpus file")


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="needs /dev/null")
def test_data_stats_on_dev_null_holds_no_sentence():
    one_line_error(invoke("data", "stats", "/dev/null"), "/dev/null: holds no sentence")


def test_model_paths_that_are_not_model_files(tmp_path, loop, fifo):
    for command in (["predict", "{}", DATA / "test.txt"], ["evaluate", "{}", DATA / "test.txt"],
                    ["attention", "{}", "EU rejects"]):
        for path, expected in ((tmp_path, "is a directory, expected a model file"),
                               (loop, "is a loop of symbolic links, expected a model file"),
                               (fifo, "is a pipe (FIFO), expected a regular model file"),
                               ("/dev/null", "is a character device")):
            args = [path if a == "{}" else a for a in command]
            one_line_error(invoke(*args), str(path), expected)


def test_tagger_load_says_what_the_path_is(tmp_path, fifo):
    from seqlab.tagger import load_model

    with pytest.raises(SeqlabError, match="is a directory, expected a model file"):
        load_model(tmp_path)
    with pytest.raises(SeqlabError, match=r"is a pipe \(FIFO\), expected a regular model"):
        load_model(fifo)


def test_data_paths_of_predict_and_evaluate(trained, tmp_path, loop):
    model = trained / "model.keras"
    one_line_error(invoke("predict", model, tmp_path), "is a directory, expected an input file")
    one_line_error(invoke("predict", model, loop), "is a loop of symbolic links")
    one_line_error(invoke("evaluate", model, tmp_path), "is a directory, expected a data file")
    one_line_error(invoke("evaluate", model, loop), "is a loop of symbolic links")
    one_line_error(invoke("evaluate", "--predictions", loop), "is a loop of symbolic links")


def test_config_paths_that_are_not_files(tmp_path, loop, fifo):
    one_line_error(invoke("train", loop), "is a loop of symbolic links, expected a config file")
    one_line_error(invoke("train", tmp_path), "is a directory, expected a config file")
    for key, path, expected in (
            ("data.train", loop, "is a loop of symbolic links, expected a corpus file"),
            ("data.dev", tmp_path, "is a directory, expected a corpus file"),
            ("data.train", fifo, "is a pipe (FIFO), expected a regular corpus file (training "
                                 "reads its files more than once)"),
            ("vocab.vectors", tmp_path, "is a directory, expected a vectors file")):
        result = invoke("train", CONFIG, "-o", tmp_path / "run", "--set", f"{key}={path}")
        one_line_error(result, f"key '{key}'", expected, str(path))
        assert not (tmp_path / "run").exists()


def test_a_config_file_whose_data_path_is_a_loop(tmp_path, loop):
    config = tmp_path / "c.yaml"
    config.write_text(f"data:\n  train: {loop.name}\n")
    one_line_error(invoke("train", config, "-o", tmp_path / "run"), "key 'data.train'",
                   "is a loop of symbolic links")


# -- item 15: pipes and FIFOs are read once ----------------------------------------------------

def test_a_pipe_is_sniffed_and_read_from_the_same_stream():
    text = (DATA / "dev.txt").read_bytes()
    from seqlab.corpus import corpus_stats

    expected = corpus_stats([str(DATA / "dev.txt")])["files"][0]
    got = corpus_stats([piped(text)])["files"][0]
    assert {k: v for k, v in got.items() if k != "path"} == \
        {k: v for k, v in expected.items() if k != "path"}


def test_a_pipe_holding_conllu_is_told_by_its_content():
    text = ("# sent_id = 1\n1\tEU\teu\tPROPN\tNNP\t_\t0\troot\t_\t_\n"
            "2\trejects\treject\tVERB\tVBZ\t_\t1\tdep\t_\t_\n\n")
    records = [r for r in read_records(piped(text.encode()), labelled=False)
               if r.kind == "sentence"]
    assert [r.tokens for r in records] == [["EU", "rejects"]]


def test_a_long_pipe_is_read_whole():
    lines = "".join(f"w{i} O\n" + ("\n" if i % 7 == 6 else "") for i in range(50_000))
    found = read_corpus(piped(lines.encode()))
    assert sum(len(s) for s in found) == 50_000


def test_a_pipe_whose_head_is_too_long_to_read_again_says_so():
    huge = b"x" * (3 << 20) + b" O\n"
    with pytest.raises(SeqlabError, match="a pipe is read once, .* name the format"):
        read_corpus(piped(huge))
    found = read_corpus(piped(huge), Reading(format="conll"))  # no look at the head
    assert len(found[0].tokens[0]) == 3 << 20


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
@pytest.mark.timeout(60)
def test_dev_zero_is_refused_before_memory_runs_out():
    with pytest.raises(SeqlabError, match="/dev/zero:1: a NUL byte"):
        read_corpus("/dev/zero")


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="needs /dev/null")
def test_dev_null_holds_no_sentence():
    with pytest.raises(SeqlabError, match="/dev/null: holds no sentence"):
        read_corpus("/dev/null")


def test_data_stats_on_a_named_fifo_does_not_hang(fifo):
    feed(fifo, (DATA / "dev.txt").read_bytes())
    result = subprocess.run([str(SEQLAB), "data", "stats", "--json", str(fifo)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["total"]["sentences"] == 100


def test_data_stats_on_a_process_substitution():
    if not shutil.which("bash"):
        pytest.skip("needs bash")
    result = subprocess.run(
        ["bash", "-c", f'"{SEQLAB}" data stats --json <(cat "{DATA / "dev.txt"}")'],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["total"]["sentences"] == 100


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_predict_and_evaluate_read_a_pipe_once(trained, fifo):
    model = trained / "model.keras"
    sample = DATA / "sample_input.txt"
    expected = ok(invoke("predict", model, sample))
    assert ok(invoke("predict", model, piped(sample.read_bytes()))) == expected
    feed(fifo, sample.read_bytes())
    assert ok(invoke("predict", model, fifo)) == expected
    scores = ok(invoke("evaluate", model, DATA / "test.txt", "--json"))
    feed(fifo, (DATA / "test.txt").read_bytes())
    assert ok(invoke("evaluate", model, fifo, "--json")) == scores
    assert ok(invoke("evaluate", model, piped((DATA / "test.txt").read_bytes()),
                     "--json")) == scores


# -- item 18: tab-separated tokens holding a space ----------------------------------------------

def test_tab_separated_tokens_may_hold_a_space(tmp_path):
    path = tmp_path / "tabs.tsv"
    path.write_text(TAB_CORPUS)
    found = read_corpus(path)
    assert [s.tokens for s in found] == [["New York", "is", "big"], ["Los Angeles"]]
    assert [s.labels for s in found] == [["B-LOC", "O", "O"], ["B-LOC"]]


def test_space_separated_files_still_split_on_spaces(tmp_path):
    path = tmp_path / "spaces.txt"
    # A trailing tab is no separator; a line with both tabs and spaces between its fields is
    # split as the lines before it are.
    path.write_text("EU NNP B-ORG\t\nrejects  VBZ O\r\n\nGerman JJ\tB-MISC\n")
    found = read_corpus(path)
    assert [s.tokens for s in found] == [["EU", "rejects"], ["German"]]
    assert [s.labels for s in found] == [["B-ORG", "O"], ["B-MISC"]]


def test_a_line_not_split_like_the_others_blames_its_own_line(tmp_path):
    path = tmp_path / "bad.tsv"
    # A tab-separated file splits on tabs alone: a label missing from a token holding a
    # space is not taken for a third column.
    for line in ("San Jose\tB-LOC", "is VBZ\tO"):
        path.write_text(f"-DOCSTART-\tO\n\nNew York\tNNP\tB-LOC\n{line}\n")
        with pytest.raises(SeqlabError, match=r"bad\.tsv:4: expected 3 columns like the lines "
                                              r"before \(split on tabs, as line 3 is\)"):
            read_corpus(path)
    path.write_text("New York\tNNP\tB-LOC\nis VBZ O\n")  # a line without tabs: spaces
    assert read_corpus(path)[0].tokens == ["New York", "is"]


def test_convert_keeps_a_line_of_mixed_separators(tmp_path):
    from seqlab.corpus import convert_file

    src, dst = tmp_path / "mixed.txt", tmp_path / "out.txt"
    src.write_text("EU NNP B-ORG\nGerman JJ\tB-MISC\n")
    convert_file(src, dst, "iobes")
    assert dst.read_text() == "EU NNP S-ORG\nGerman JJ\tS-MISC\n"


def test_convert_a_tab_separated_file_keeps_its_tokens(tmp_path):
    from seqlab.corpus import convert_file

    src, dst = tmp_path / "tabs.tsv", tmp_path / "out.tsv"
    src.write_text(TAB_CORPUS)
    assert convert_file(src, dst, "iobes") == 2
    assert dst.read_text() == TAB_CORPUS.replace("B-LOC", "S-LOC")


def test_predict_writes_a_tab_separated_file_back(trained, tmp_path):
    path = tmp_path / "tabs.conll"
    path.write_text(TAB_CORPUS)
    out = ok(invoke("predict", trained / "model.keras", path))
    first = out.splitlines()[0].split("\t")
    assert first[:3] == ["New York", "NNP", "B-LOC"] and len(first) == 4


def test_data_stats_on_a_tab_separated_file(tmp_path):
    path = tmp_path / "tabs.tsv"
    path.write_text(TAB_CORPUS)
    stats = json.loads(ok(invoke("data", "stats", "--json", path)))
    assert stats["files"][0]["tokens"] == 4 and stats["files"][0]["types"] == 4


def test_seqlab_is_importable_without_tensorflow_for_paths():
    code = "import seqlab.paths, seqlab.formats, sys; print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.stdout.strip() == "False", result.stderr
