"""A model that loads is a model that is right (issue 37, items 4, 14, 19 and 20): a
hand-edited or damaged model.keras is refused in one line naming the file and what does not
match, Keras' own warnings stay out of sight, a format written by a newer seqlab says so;
gold labels that are not the model's tags, predictions that would overwrite a filled CoNLL-U
field and a --compare file of other tokens are not taken silently."""

import json
import shutil
import subprocess
import warnings
import zipfile

import pytest

from conftest import DATA, SEQLAB, invoke, one_line_error

VOCAB = "assets/layers/word_embedding/vocabulary.json"
CHARS = "assets/layers/char_embedding/chars.json"
CONFIG = "config.json"



def edit(source, target, member, change):
    """Copy the archive ``source`` to ``target`` with the JSON ``member`` changed by
    ``change`` (which returns the new value)."""
    with zipfile.ZipFile(source) as z:
        items = [(info, z.read(info.filename)) for info in z.infolist()]
    with zipfile.ZipFile(target, "w") as z:
        for info, data in items:
            if info.filename == member:
                data = json.dumps(change(json.loads(data))).encode()
            z.writestr(info, data)
    return target


def layer_config(name, edit_layer):
    """A change of config.json that edits the config of the layer ``name`` in place."""
    def change(config):
        for layer in config["config"]["layers"]:
            if layer["config"]["name"] == name:
                edit_layer(layer["config"])
        return config

    return change


def tags_config(edit_layer):
    return layer_config("tags", edit_layer)


def stored_tags(path):
    with zipfile.ZipFile(path) as z:
        config = json.loads(z.read(CONFIG))
    return next(layer["config"] for layer in config["config"]["layers"]
                if layer["config"]["name"] == "tags")


@pytest.fixture
def model(trained, tmp_path):
    """A copy of the trained model to damage."""
    return shutil.copy(trained / "model.keras", tmp_path / "model.keras")


def _setitem(values, index, value):
    values[index] = value
    return values


DAMAGES = {
    # vocabularies
    "vocab_short": (VOCAB, lambda v: v[:5], ["word vocabulary", "5 entries", "rows"]),
    "vocab_duplicate": (VOCAB, lambda v: _setitem(v, 10, v[11]), ["word vocabulary", "twice"]),
    "vocab_dict": (VOCAB, lambda v: {"a": 1}, ["word vocabulary", "an object", "list"]),
    "vocab_string": (VOCAB, lambda v: "a b c", ["word vocabulary", "list"]),
    "vocab_number": (VOCAB, lambda v: v[:-1] + [3], ["word vocabulary", "string"]),
    "vocab_no_padding": (VOCAB, lambda v: ["x", "y"] + v[2:], ["word vocabulary", "<pad>"]),
    "chars_short": (CHARS, lambda v: v[:5], ["char vocabulary", "5 entries", "rows"]),
    "chars_duplicate": (CHARS, lambda v: _setitem(v, 5, v[6]), ["char vocabulary", "twice"]),
    # tags
    "labels_short": (CONFIG, tags_config(lambda t: t.update(labels=t["labels"][:8])),
                     ["8 tags", "9 output units"]),
    "labels_duplicate": (CONFIG, tags_config(lambda t: _setitem(t["labels"], 8, "I-ORG")),
                         ["I-ORG", "twice"]),
    "labels_string": (CONFIG, tags_config(lambda t: t.update(labels="O B-PER")),
                      ["tag set", "a string", "list"]),
    "labels_number": (CONFIG, tags_config(lambda t: _setitem(t["labels"], 8, 8)),
                      ["entry 8 of the tag set", "string"]),
    "label_off_scheme": (CONFIG, tags_config(lambda t: _setitem(t["labels"], 8, "Z-PER")),
                         ["Z-PER", "iob2"]),
    "scheme_unknown": (CONFIG, tags_config(lambda t: t.update(scheme="xyz")),
                       ["scheme", "xyz"]),
    "source_scheme_unknown": (CONFIG, tags_config(lambda t: t.update(source_scheme="xyz")),
                              ["scheme", "xyz"]),
    "decoding_unknown": (CONFIG, tags_config(lambda t: t.update(decoding="xx")),
                         ["decoding", "xx"]),
    "units_and_labels_short": (CONFIG, tags_config(
        lambda t: t.update(units=8, labels=t["labels"][:8])), ["tags", "(64, 9)", "(64, 8)"]),
    "embedding_rows": (CONFIG, layer_config("word_embedding",
        lambda e: e.update(input_dim=e["input_dim"] - 1)), ["word_embedding"]),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_damaged_model_is_refused_in_one_line(damage, model, tmp_path):
    member, change, expected = DAMAGES[damage]
    damaged = edit(model, tmp_path / f"{damage}.keras", member, change)
    result = invoke("evaluate", damaged, DATA / "test.txt")
    line = one_line_error(result, str(damaged), *expected)
    assert "UserWarning" not in result.output, line


def test_damaged_model_is_refused_by_predict_too(model, tmp_path):
    member, change, _ = DAMAGES["vocab_short"]
    damaged = edit(model, tmp_path / "short.keras", member, change)
    result = invoke("predict", damaged, DATA / "test.txt")
    one_line_error(result, str(damaged), "word vocabulary")


def test_a_crf_whose_tags_differ_from_the_output_layers_is_refused(tmp_path):
    from seqlab.config import ModelConfig
    from seqlab.model import build_model
    from seqlab.vocab import LabelVocabulary, Vocabulary

    config = ModelConfig.model_validate({
        "output": "crf", "embedding": {"dim": 4}, "lstm": {"units": 4},
        "chars": {"encoder": "none"}, "attention": {"enabled": False}})
    labels = LabelVocabulary(["O", "B-PER", "I-PER"])
    built = build_model(config, Vocabulary(["a", "b"]), labels, scheme="iob2")
    built.save(tmp_path / "crf.keras")
    from seqlab.tagger import load_model

    load_model(tmp_path / "crf.keras")  # the undamaged one loads
    swapped = edit(tmp_path / "crf.keras", tmp_path / "swapped.keras", CONFIG,
                   layer_config("crf", lambda c: c.update(labels=["O", "I-PER", "B-PER"])))
    one_line_error(invoke("evaluate", swapped, DATA / "test.txt"), str(swapped), "CRF")


def test_the_format_version_is_written_at_save_time(trained):
    from seqlab.model import FORMAT_VERSION

    assert stored_tags(trained / "model.keras")["format_version"] == FORMAT_VERSION


@pytest.mark.parametrize("version", [9, "2.0", None])
def test_a_model_of_another_format_says_so(version, model, tmp_path):
    from seqlab.model import FORMAT_VERSION

    newer = edit(model, tmp_path / "newer.keras", CONFIG,
                 tags_config(lambda t: t.update(format_version=version)))
    one_line_error(invoke("evaluate", newer, DATA / "test.txt"), str(newer),
                   f"written by an incompatible seqlab (format {version}, this seqlab reads "
                   f"{FORMAT_VERSION})")


def test_a_model_saved_without_a_format_version_still_loads(model, tmp_path):
    older = edit(model, tmp_path / "older.keras", CONFIG,
                 tags_config(lambda t: t.pop("format_version", None)))
    assert "format_version" not in stored_tags(older)
    result = invoke("evaluate", older, DATA / "test.txt", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output[result.output.index("{"):])["tokens"] > 0


def test_loading_a_damaged_model_leaks_no_keras_warning(model, tmp_path):
    from seqlab.errors import SeqlabError
    from seqlab.tagger import load_model

    member, change, _ = DAMAGES["units_and_labels_short"]
    damaged = edit(model, tmp_path / "units.keras", member, change)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(SeqlabError, match="tags"):
            load_model(damaged)
    assert not [w for w in caught if issubclass(w.category, UserWarning)], \
        [str(w.message) for w in caught]


@pytest.mark.slow
def test_the_cli_prints_one_line_for_a_damaged_model(model, tmp_path):
    """Through a real process: no Keras UserWarning on stderr before the error."""
    member, change, _ = DAMAGES["units_and_labels_short"]
    damaged = edit(model, tmp_path / "units.keras", member, change)
    done = subprocess.run([str(SEQLAB), "evaluate", str(damaged), str(DATA / "test.txt")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and str(damaged) in lines[0], done.stderr


# -- item 19: gold labels or a filled field that are not the model's tags -------------------

def conllu_of(columns, target):
    """data/test.txt (token POS chunk NER) as CoNLL-U: the POS tag in UPOS, the NER tag as
    MISC's NER key."""
    lines = []
    i = 0
    for line in columns.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            if i:
                lines.append("")
            i = 0
            continue
        token, pos, _, ner = line.split()
        i += 1
        lines.append("\t".join([str(i), token, "_", pos, "_", "_", "_", "_", "_",
                                f"NER={ner}"]))
    target.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    return target


def test_evaluate_refuses_gold_labels_that_are_not_the_models_tags(trained, tmp_path):
    gold = conllu_of(DATA / "test.txt", tmp_path / "test.conllu")
    result = invoke("evaluate", trained / "model.keras", gold)
    one_line_error(result, str(gold), "none of its 1,558 gold labels are tags of this model",
                   "NNP", "--label-field")


@pytest.mark.slow
def test_evaluate_scores_the_right_field_of_the_same_file(trained, tmp_path):
    gold = conllu_of(DATA / "test.txt", tmp_path / "test.conllu")
    result = invoke("evaluate", trained / "model.keras", gold, "--label-field", "misc:NER",
                    "--json")
    assert result.exit_code == 0, result.output
    assert "tags of this model" not in result.output


def test_evaluate_refuses_a_column_of_other_labels(trained):
    result = invoke("evaluate", trained / "model.keras", DATA / "test.txt", "--label-column", "1")
    one_line_error(result, str(DATA / "test.txt"), "are tags of this model", "--label-column")


def test_the_share_of_foreign_gold_labels_is_counted_per_token(trained):
    from seqlab.predict import foreign_labels
    from seqlab.tagger import Tagger

    tagger = Tagger.load(trained / "model.keras")
    # Types are compared, not prefixes: an IOB1 file's I-PER is a tag of an IOB2 model.
    assert foreign_labels(tagger, [["O", "I-PER", "B-LOC"], ["NN"]]) == (1, 4, ["NN"])
    assert foreign_labels(tagger, [["B-NP", "I-VP", "NNP", "O"]])[:2] == (3, 4)


def test_predict_warns_when_its_tags_would_replace_a_filled_field(trained, tmp_path):
    source = conllu_of(DATA / "test.txt", tmp_path / "test.conllu")
    out = tmp_path / "out.conllu"
    result = invoke("predict", trained / "model.keras", source, "-o", out)
    assert result.exit_code == 0, result.output
    warned = [line for line in result.output.splitlines() if "warning" in line]
    assert len(warned) == 1, result.output
    assert "UPOS" in warned[0] and "NNP" in warned[0] and str(source) in warned[0], warned[0]
    assert out.exists()


@pytest.mark.slow
def test_predict_does_not_warn_over_an_empty_field_or_the_models_own_tags(trained, tmp_path):
    source = conllu_of(DATA / "test.txt", tmp_path / "test.conllu")
    for field in ("xpos", "misc:NER"):  # empty, and the NER tags themselves
        out = tmp_path / f"out-{field.replace(':', '')}.conllu"
        result = invoke("predict", trained / "model.keras", source, "-o", out,
                        "--label-field", field)
        assert result.exit_code == 0, result.output
        assert "warning" not in result.output, (field, result.output)


# -- item 20: --compare with a file of other tokens -------------------------------------------

A = "The O O\nUN B-ORG B-ORG\n\nBob B-PER B-PER\nruns O O\n\nHi O O\n"


def test_compare_refuses_a_file_whose_tokens_differ(tmp_path):
    a = tmp_path / "a.txt"
    a.write_text(A, encoding="utf-8")
    b = tmp_path / "b.txt"
    b.write_text(A.replace("Bob B-PER B-PER", "Rob B-PER O"), encoding="utf-8")
    result = invoke("evaluate", "--predictions", a, "--compare", b)
    one_line_error(result, f"{b}:4", "sentence 2", "'Rob'", "'Bob'", str(a))


@pytest.mark.parametrize("change, expected", [
    (lambda text: text.replace("UN B-ORG B-ORG", "UN I-ORG B-ORG"), [":2:", "gold tag"]),
    (lambda text: text.replace("runs O O\n", ""), [":4:", "sentence 2", "1 token"]),
    (lambda text: text + "\nMore O O\n", ["4 sentences", "3"]),
    (lambda text: text[: text.index("\nHi")], ["2 sentences", "3"]),
])
def test_compare_names_the_first_difference(change, expected, tmp_path):
    a = tmp_path / "a.txt"
    a.write_text(A, encoding="utf-8")
    b = tmp_path / "b.txt"
    b.write_text(change(A), encoding="utf-8")
    one_line_error(invoke("evaluate", "--predictions", a, "--compare", b), str(b), *expected)


def test_compare_takes_the_same_sentences(tmp_path):
    a = tmp_path / "a.txt"
    a.write_text(A, encoding="utf-8")
    b = tmp_path / "b.txt"
    b.write_text(A.replace("Bob B-PER B-PER", "Bob B-PER O"), encoding="utf-8")
    result = invoke("evaluate", "--predictions", a, "--compare", b, "--rounds", "50")
    assert result.exit_code == 0, result.output
