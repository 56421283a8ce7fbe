"""predict and evaluate as a Python caller has them (seqlab.predict.PredictOptions and
predict_input, seqlab.evaluation): options refused before TensorFlow is imported, defaults
resolved as the command line resolves them, and the same output as the command line; the
one serialisation of attention rows."""

import io
import json
import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from seqlab.attention_view import AttentionView
from seqlab.errors import SeqlabError
from seqlab.evaluation import EvaluateOptions, evaluate
from seqlab.predict import PredictOptions, load_tagger, predict_input
from seqlab.windows import check_max_length

from conftest import DATA, ROOT, invoke, one_line_error


def ok(result):
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.stdout


# ------------------------------------------------------------ options, without TensorFlow


def test_bad_options_are_refused_without_importing_tensorflow(tmp_path):
    """Each wrong option raises SeqlabError naming it, in a process where TensorFlow and
    Keras were never imported."""
    (tmp_path / "p.txt").write_text("w B-PER B-PER\n\n", encoding="utf-8")
    (tmp_path / "model.keras").write_text("x")
    code = textwrap.dedent(f"""
        import sys
        from seqlab.errors import SeqlabError
        from seqlab.evaluation import EvaluateOptions
        from seqlab.predict import PredictOptions

        sample = {str(DATA / "sample_input.txt")!r}
        cases = [
            PredictOptions(sample, probs=True),
            PredictOptions(sample, output_format="conllu"),
            PredictOptions(sample, output_format="xml"),
            PredictOptions(sample, input_format="xml"),
            PredictOptions(sample, tokenizer="bpe"),
            PredictOptions(sample, encoding="klingon"),
            PredictOptions(sample, max_length=3),
            PredictOptions(sample, batch_size=0),
            PredictOptions(sample, input_format="conllu", label_field="id"),
            PredictOptions({str(tmp_path / "missing.txt")!r}),
            EvaluateOptions(predictions={str(tmp_path / "p.txt")!r}, input_format="text"),
            EvaluateOptions(predictions={str(tmp_path / "p.txt")!r}, seed=-1),
            EvaluateOptions(predictions={str(tmp_path / "p.txt")!r}, rounds=0),
            EvaluateOptions(predictions={str(tmp_path / "p.txt")!r},
                            model={str(tmp_path / "model.keras")!r}),
            EvaluateOptions(model={str(tmp_path / "model.keras")!r}),
            EvaluateOptions(model={str(tmp_path / "missing.keras")!r}, data=sample),
        ]
        for options in cases:
            try:
                options.checked()
            except SeqlabError as exc:
                print(exc)
            else:
                print("accepted", options)
        print("imported:", "tensorflow" in sys.modules, "keras" in sys.modules)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[-1] == "imported: False False"
    expected = [
        "probs needs output_format jsonl",
        "output_format conllu needs CoNLL-U input (input_format conllu)",
        "output_format 'xml': expected one of conll, jsonl, conllu, html",
        "input_format 'xml': expected one of text, conll, conllu, jsonl",
        "unknown tokenizer 'bpe'",
        "unknown encoding 'klingon'",
        "max_length 3: expected 0 (never split) or at least 4 tokens",
        "batch_size 0: expected at least 1 sentence",
        "label field 'id' cannot be a label",
        "missing.txt: input file not found",
        "input_format 'text': expected one of conll, conllu",
        "seed -1: expected a whole number, 0 or more",
        "rounds 0: expected at least 1 shuffle",
        "give either model data or predictions, not both",
        "expected model data (a model.keras and a file with gold labels) or predictions",
        "missing.keras: model file not found",
    ]
    assert len(lines) == len(expected) + 1, proc.stdout
    for line, text in zip(lines, expected):
        assert text in line, (line, text)


def test_messages_call_options_as_the_caller_names_them():
    flags = {"probs": "--probs", "output_format": "--format"}
    with pytest.raises(SeqlabError) as caught:
        PredictOptions(DATA / "sample_input.txt", probs=True, names=flags).checked()
    assert str(caught.value).startswith("--probs needs --format jsonl (")


@pytest.mark.parametrize("name, text, formats", [
    ("in.conllu", "1\tEU\t_\t_\t_\t_\t_\t_\t_\t_\n\n", ("conllu", "conllu")),
    ("in.jsonl", '{"tokens": ["EU"]}\n', ("jsonl", "jsonl")),
    ("in.iob", "EU B-ORG\n\n", ("conll", "conll")),
    ("in.txt", "EU rejects German call\n", ("text", "conll")),
    # no telling extension: a first line of ten tab-separated fields is CoNLL-U
    ("in.txt", "# sent_id = 1\n1\tEU\t_\t_\t_\t_\t_\t_\t_\t_\n\n", ("conllu", "conllu")),
])
def test_formats_are_filled_in_from_the_input(tmp_path, name, text, formats):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    options = PredictOptions(path).checked()
    assert (options.input_format, options.output_format) == formats
    # what is given stays as given
    given = PredictOptions(path, input_format="text", output_format="html").checked()
    assert (given.input_format, given.output_format) == ("text", "html")


def test_stdin_is_text_written_as_columns():
    options = PredictOptions("-").checked()
    assert (options.input_format, options.output_format) == ("text", "conll")


@pytest.mark.parametrize("value, fine", [
    (None, True), (0, True), (4, True), (5000, True),
    (1, False), (3, False), (-1, False), (True, False), ("8", False), (4.0, False),
])
def test_max_length_rule(value, fine):
    if fine:
        assert check_max_length(value) == value
    else:
        with pytest.raises(SeqlabError, match="expected 0 \\(never split\\) or at least 4"):
            check_max_length(value)


# ------------------------------------------------------------ the same as the command line


@pytest.fixture(scope="module")
def model(trained):
    return trained / "model.keras"


@pytest.fixture(scope="module")
def tagger(model):
    return load_tagger(model)


def sentences_in(path, columns: bool) -> int:
    """Sentences of a file counted by hand: blocks of lines (columns), else non-blank lines."""
    text = path.read_text(encoding="utf-8")
    if columns:
        return sum(1 for block in text.split("\n\n") if block.strip())
    return sum(1 for line in text.splitlines() if line.strip())


@pytest.mark.parametrize("path, flags, options", [
    (DATA / "sample_input.txt", [], {}),
    (DATA / "sample_input.txt", ["-f", "jsonl", "--probs", "--tokenizer", "simple"],
     {"output_format": "jsonl", "probs": True, "tokenizer": "simple"}),
    (DATA / "test.txt", ["-i", "conll", "-f", "jsonl"],
     {"input_format": "conll", "output_format": "jsonl"}),
    (DATA / "test.txt", ["-i", "conll", "--batch-size", "3"],
     {"input_format": "conll", "batch_size": 3}),
])
def test_predict_input_writes_what_the_command_line_prints(model, tagger, path, flags,
                                                           options):
    printed = ok(invoke("predict", model, path, *flags))
    out = io.StringIO()
    count = predict_input(tagger, PredictOptions(path, **options), out)
    assert out.getvalue() == printed
    assert count == sentences_in(path, columns=options.get("input_format") == "conll")


def test_predict_input_refuses_an_empty_named_file(tagger, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(SeqlabError, match="the file holds no sentence to tag"):
        predict_input(tagger, PredictOptions(empty), io.StringIO())


def test_load_tagger_takes_max_length_from_the_options(model):
    assert load_tagger(model, PredictOptions(max_length=16)).max_length == 16


def test_evaluate_gives_the_document_the_command_line_prints(model, tmp_path):
    cli_errors, lib_errors = tmp_path / "cli.txt", tmp_path / "lib.txt"
    result = invoke("evaluate", model, DATA / "test.txt", "--json", "--confusion",
                    "--errors", cli_errors)
    printed = json.loads(ok(result))
    evaluation = evaluate(EvaluateOptions(model=model, data=DATA / "test.txt", confusion=True,
                                          errors=lib_errors))
    assert json.loads(json.dumps(evaluation.to_json())) == printed
    assert lib_errors.read_text(encoding="utf-8") == cli_errors.read_text(encoding="utf-8")
    assert f"wrote {evaluation.wrong} wrong spans to {cli_errors}" in result.stderr
    labels, matrix = evaluation.confusion
    assert sum(map(sum, matrix)) == evaluation.result["tokens"]


def test_evaluate_predictions_with_a_comparison(tmp_path):
    gold = [["B-PER", "O", "B-LOC", "I-LOC"], ["B-ORG", "O"], ["O", "B-PER"]]
    mine = [["B-PER", "O", "B-LOC", "I-LOC"], ["B-ORG", "O"], ["O", "O"]]
    other = [["B-PER", "O", "O", "O"], ["O", "O"], ["O", "B-PER"]]

    def write(path, pred):
        path.write_text("".join("".join(f"w{j} {g} {p}\n" for j, (g, p) in enumerate(zip(a, b)))
                                + "\n" for a, b in zip(gold, pred)), encoding="utf-8")
        return path

    a, b = write(tmp_path / "a.txt", mine), write(tmp_path / "b.txt", other)
    printed = json.loads(ok(invoke("evaluate", "--predictions", a, "--compare", b, "--json",
                                   "--rounds", "300", "--seed", "4")))
    evaluation = evaluate(EvaluateOptions(predictions=a, compare_with=b, rounds=300, seed=4))
    assert json.loads(json.dumps(evaluation.to_json())) == printed
    assert evaluation.systems == (str(a), str(b))
    # by hand: gold PER LOC | ORG | PER; mine finds PER LOC | ORG (3 found, 3 correct, recall
    # 3/4), the other PER | PER (2 found, 2 correct, recall 2/4)
    assert evaluation.result["f1"] == pytest.approx(100 * 2 * 1 * 0.75 / 1.75)
    assert printed["comparison"]["other"]["f1"] == pytest.approx(100 * 2 * 1 * 0.5 / 1.5)
    assert printed["comparison"]["other_file"] == str(b)


def test_a_negative_seed_is_one_line():
    """Before the options were checked, numpy refused it (in the comparison) with a
    traceback."""
    result = invoke("evaluate", "--predictions", DATA / "test.txt", "--compare",
                    DATA / "test.txt", "--seed", "-1")
    one_line_error(result, "--seed -1: expected a whole number, 0 or more")


# ------------------------------------------------------------------------ attention rows


def test_weight_rows_round_and_blank_outside_the_window():
    weights = np.array([[0.123456789, 0.876543211, 0.0], [0.3333333333, 0.3333333333, 1 / 3]])
    window = np.array([[True, True, False], [True, True, True]])
    view = AttentionView(["a", "b", "c"], ["O", "O", "O"], weights, window, 2, False)
    assert view.weight_rows() == [[0.123457, 0.876543, None], [0.333333, 0.333333, 0.333333]]
    assert all(type(w) is float for row in view.weight_rows() for w in row if w is not None)


def test_the_command_and_the_run_write_rows_alike(trained, model):
    """`seqlab attention --json` and the run's attention.json hold rows of one kind: the
    same sentence gives the same rows from either."""
    examples = json.loads((trained / "attention.json").read_text(encoding="utf-8"))
    assert examples
    example = examples[0]
    printed = json.loads(ok(invoke("attention", model, " ".join(example["tokens"]),
                                   "--json")))
    assert printed["tokens"] == example["tokens"]
    assert len(printed["weights"]) == len(example["weights"])
    for shown, stored in zip(printed["weights"], example["weights"]):
        assert [w is None for w in shown] == [w is None for w in stored]
        for a, b in zip(shown, stored):
            if a is not None:
                assert math.isclose(a, b, abs_tol=2e-6)
                assert round(b, 6) == b  # six decimals at most
