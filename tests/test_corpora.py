"""Corpora as they are distributed, through the command line: names without a known
extension (eng.train, esp.testa), ISO-8859-1 text, CoNLL-U label fields, tokens with
non-breaking spaces. Training, prediction and evaluation read them through one reader, and a
model remembers how its training files were read."""

import json
import random

import pytest

from conftest import TINY, invoke, ok, sets

TWO_EPOCHS = sets(TINY + ["training.epochs=2"])

NAMES = ["Müller", "José", "Zoë", "Ångström", "Peña", "Françoise", "Gödel", "Núñez"]
PLACES = ["Málaga", "Zürich", "Köln", "Besançon", "São\u00a0Paulo", "Bogotá"]
WORDS = ["el", "la", "visitó", "habló", "con", "en", "y", "ayer", "señor", "año"]


def sentences(rng, n):
    out = []
    for _ in range(n):
        sent = []
        for _ in range(rng.randint(3, 8)):
            r = rng.random()
            if r < 0.2:
                sent.append((rng.choice(NAMES), "NP", "B-PER"))
            elif r < 0.35:
                sent.append((rng.choice(PLACES), "NP", "B-LOC"))
            else:
                sent.append((rng.choice(WORDS), rng.choice(["DA", "VM", "SP"]), "O"))
        out.append(sent)
    return out


def write_columns(path, sents, encoding):
    with open(path, "w", encoding=encoding) as f:
        f.write("-DOCSTART- -X- O\n\n")
        for sent in sents:
            f.writelines(" ".join(row) + "\n" for row in sent)
            f.write("\n")


@pytest.mark.slow
def test_latin1_corpus_named_as_distributed_trains_and_evaluates_without_flags(tmp_path):
    """CoNLL-2002 ships as ISO-8859-1 files named esp.train, esp.testa, esp.testb; only the
    encoding goes into the config, and the model remembers it and its label column."""
    rng = random.Random(0)
    splits = {}
    for name, n in (("x.train", 60), ("x.testa", 15), ("x.testb", 15)):
        sents = sentences(rng, n)  # São\u00a0Paulo: latin-1 has the non-breaking space too
        write_columns(tmp_path / name, sents, "latin-1")
        splits[name] = sents
    (tmp_path / "c.yaml").write_text("data:\n  train: x.train\n  dev: x.testa\n"
                                     "  encoding: latin-1\n", encoding="utf-8")
    run = tmp_path / "run"
    trained = invoke("train", tmp_path / "c.yaml", "--output", run, *TWO_EPOCHS)
    # the final scores are results: stdout; the progress went to stderr
    assert ok(trained).strip().startswith("dev f1: ") and "epoch" in trained.stderr
    assert "epoch" not in trained.stdout
    model = run / "model.keras"
    result = json.loads(ok(invoke("evaluate", model, tmp_path / "x.testb", "--json")))
    gold = splits["x.testb"]
    assert result["task"] == "chunk"  # the NER column (the last), not the POS tags
    assert result["tokens"] == sum(len(s) for s in gold)
    assert result["sentences"] == len(gold)
    assert result["gold_chunks"] == sum(tag != "O" for s in gold for _, _, tag in s)
    # predict -i conll reads it as the training files were: latin-1, token column 0
    out = ok(invoke("predict", model, tmp_path / "x.testb", "-i", "conll"))
    tokens = [line.split(" ")[0] for line in out.splitlines()
              if line and not line.startswith("-DOCSTART-")]
    assert tokens == [t for s in gold for t, _, _ in s]
    # The POS column, remembered the same way: evaluate scores POS tags with no flag.
    pos_run = tmp_path / "pos"
    ok(invoke("train", tmp_path / "c.yaml", "--output", pos_run, *TWO_EPOCHS,
              "--set", "data.label_column=1"))
    result = json.loads(ok(invoke("evaluate", pos_run / "model.keras", tmp_path / "x.testb",
                                  "--json")))
    assert result["task"] == "tag" and set(result["per_label"]) <= {"NP", "DA", "VM", "SP"}
    # flags still override what the model remembers: column 2 holds NER tags, which a POS
    # model cannot be scored on, and the refusal says that is what it read
    other = invoke("evaluate", pos_run / "model.keras", tmp_path / "x.testb", "--json",
                   "--label-column", "2")
    assert other.exit_code == 2 and "gold labels are tags of this model (found O" in other.stderr
    wrong = invoke("evaluate", pos_run / "model.keras", tmp_path / "x.testb",
                   "--encoding", "utf-8")
    assert wrong.exit_code == 2 and "not valid UTF-8" in wrong.stderr


@pytest.mark.slow
def test_one_reader_for_training_prediction_and_evaluation(tmp_path):
    """One file through training, `predict -i conll` and `evaluate --predictions`: all three
    see the same sentences and tokens, a token with a non-breaking space included."""
    rng = random.Random(1)
    sents = sentences(rng, 40)
    sents[0][0] = ("São\u00a0Paulo", "NP", "B-LOC")
    path = tmp_path / "corpus.conll"
    write_columns(path, sents, "utf-8")
    (tmp_path / "c.yaml").write_text("data:\n  train: corpus.conll\n", encoding="utf-8")
    run = tmp_path / "run"
    result = invoke("train", tmp_path / "c.yaml", "--output", run, *TWO_EPOCHS)
    ok(result)
    n_tokens = sum(len(s) for s in sents)
    assert f"train: {len(sents)} sentences, {n_tokens} tokens" in result.stderr

    from seqlab.tagger import Tagger

    assert "São\u00a0Paulo" in Tagger.load(run / "model.keras").vocab.tokens
    tagged = tmp_path / "tagged.conll"
    ok(invoke("predict", run / "model.keras", path, "-i", "conll", "-o", tagged))
    lines = [line for line in tagged.read_text(encoding="utf-8").splitlines()
             if line and not line.startswith("-DOCSTART-")]
    assert [line.split(" ")[0] for line in lines] == [t for s in sents for t, _, _ in s]
    scores = json.loads(ok(invoke("evaluate", "--predictions", tagged, "--json")))
    assert (scores["sentences"], scores["tokens"]) == (len(sents), n_tokens)
    assert scores["gold_chunks"] == sum(tag != "O" for s in sents for _, _, tag in s)


CONLLU = "".join(
    f"# sent_id = {i}\n"
    + "".join(f"{j + 1}\t{w}\t{w.lower()}\t{u}\t{x}\t_\t0\tdep\t_\t_\n"
              for j, (w, u, x) in enumerate(words))
    + "\n"
    for i, words in enumerate(
        [[("Maria", "PROPN", "NNP"), ("sings", "VERB", "VBZ")],
         [("The", "DET", "DT"), ("dog", "NOUN", "NN"), ("runs", "VERB", "VBZ")],
         [("Oslo", "PROPN", "NNP"), ("sleeps", "VERB", "VBZ")]] * 10, 1))


@pytest.mark.slow
def test_conllu_model_remembers_its_label_field(tmp_path):
    (tmp_path / "train.ud").write_text(CONLLU, encoding="utf-8")  # no .conllu: by content
    (tmp_path / "c.yaml").write_text("data:\n  train: train.ud\n  label_field: xpos\n",
                                     encoding="utf-8")
    run = tmp_path / "run"
    ok(invoke("train", tmp_path / "c.yaml", "--output", run, *TWO_EPOCHS))
    result = json.loads(ok(invoke("evaluate", run / "model.keras", tmp_path / "train.ud",
                                  "--json")))
    assert set(result["per_label"]) <= {"NNP", "VBZ", "DT", "NN"}  # xpos, not upos
    out = ok(invoke("predict", run / "model.keras", tmp_path / "train.ud", "-i", "conllu"))
    rows = [line.split("\t") for line in out.splitlines() if line and line[0].isdigit()]
    assert {row[4] for row in rows} <= {"NNP", "VBZ", "DT", "NN"}  # the tags went into xpos
    assert [row[3] for row in rows[:2]] == ["PROPN", "VERB"]  # upos kept as read
