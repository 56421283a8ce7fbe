"""Document context for a frozen transformer (model.transformer.context, FLERT): each sentence
read with up to N subwords of its document's neighbouring sentences on each side. Checked
against an oracle that runs the backbone by hand on [CLS] left sentence right [SEP], on the
tiny checkpoints of test_transformer (nothing is downloaded)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from seqlab.errors import SeqlabError
from seqlab.formats import Record
from seqlab.transformer import NO_CONTEXT, check_context, plan_contexts

from conftest import QUICK, ROOT, TINY, invoke, sets


# -- planning (no Keras) -----------------------------------------------------------------------
def _pieces(*lengths_per_sentence):
    """Sentences of words whose subword ids say where they are: sentence s, word w, piece p ->
    1000 * s + 10 * w + p."""
    return [[tuple(1000 * s + 10 * w + p for p in range(n)) for w, n in enumerate(words)]
            for s, words in enumerate(lengths_per_sentence)]


def _flat(sentence):
    return [p for word in sentence for p in word]


def test_context_is_the_neighbours_in_the_document_only():
    pieces = _pieces([2, 1], [1, 1, 1], [3], [1], [2, 2])
    documents = ["a", "a", "a", "b", "b"]
    got = plan_contexts(pieces, documents, context=4, budget=100)
    flat = [_flat(s) for s in pieces]
    # left: the last 4 subwords before, within the document; right: the first 4 after
    assert got[0] == ((), tuple((flat[1] + flat[2])[:4]))
    assert got[1] == (tuple(flat[0]), tuple(flat[2]))
    assert got[2] == (tuple((flat[0] + flat[1])[-4:]), ())  # the document ends here
    assert got[3] == ((), tuple(flat[4][:4]))                # a new one starts
    assert got[4] == (tuple(flat[3]), ())
    # context 0, or no documents: nothing, as before
    assert plan_contexts(pieces, documents, 0, 100) == [NO_CONTEXT] * 5
    assert plan_contexts(pieces, None, 4, 100) == [NO_CONTEXT] * 5
    # a sentence of no document (None) stands alone, and its neighbours do without it
    alone = plan_contexts(pieces, ["a", None, "a", "b", "b"], 4, 100)
    assert alone[1] == NO_CONTEXT and alone[0] == ((), ()) and alone[2] == ((), ())


def test_empty_sentences_add_nothing():
    pieces = _pieces([1, 1], [], [1])
    got = plan_contexts(pieces, [0, 0, 0], 8, 100)
    assert got[0] == ((), (2000,)) and got[2] == ((0, 10), ())


def test_context_is_trimmed_to_the_budget_first():
    pieces = _pieces([5, 5], [3, 3], [5, 5], [20, 20])
    got = plan_contexts(pieces, [0, 0, 0, 0], context=64, budget=16)
    # sentence 1 holds 6 subwords: 10 left over, 5 a side (the nearest ones)
    assert got[1] == (tuple(_flat(pieces[0])[-5:]), tuple(_flat(pieces[2])[:5]))
    for sentence, (left, right) in zip(pieces, got):
        assert len(left) + len(right) + len(_flat(sentence)) <= 16 or (not left and not right)
    assert got[3] == NO_CONTEXT  # 40 subwords: windowed on its own, as without context


@pytest.mark.parametrize("bad", [-1, 1.5, "64", True, None])
def test_context_must_be_a_non_negative_integer(bad):
    with pytest.raises(SeqlabError, match=r"^model\.transformer\.context: expected a "
                                          r"non-negative integer") as error:
        check_context(bad)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("setting, words", [
    ("model.transformer.context=-1", "model.transformer.context"),
    ("model.transformer.context=many", "model.transformer.context"),
    ("model.transformer.context=2.5", "model.transformer.context"),
])
def test_config_refuses_bad_context(setting, words):
    from seqlab.config import load_config

    with pytest.raises(SeqlabError, match=words.replace(".", r"\.")) as error:
        load_config(QUICK, ["model.transformer.path=x", setting])
    assert "\n" not in str(error.value)
    assert load_config(QUICK, ["model.transformer.path=x"]).model.transformer.context == 0


def test_fine_tuned_refuses_context_in_one_line():
    from seqlab.config import load_config

    with pytest.raises(SeqlabError, match=r"model\.transformer.*context 8.*frozen") as error:
        load_config(QUICK, ["model.transformer.path=x", "model.transformer.context=8",
                            "model.transformer.trainable=true"])
    assert "\n" not in str(error.value)


def _records(*specs):
    """Records from ``(kind, document, n_tokens)``."""
    out = []
    for i, (kind, document, n) in enumerate(specs):
        out.append(Record(kind, tokens=[f"w{i}.{j}" for j in range(n)], line=i + 1,
                          document=document))
    return out


@pytest.mark.parametrize("size", [1, 2, 3, 5, 100])
def test_context_blocks_write_in_order_with_each_sentence_s_neighbours(size):
    from seqlab.predict import context_blocks

    records = _records(("sentence", 0, 2), ("blank", 0, 0), ("sentence", 0, 1),
                       ("sentence", 0, 3), ("docstart", 1, 0), ("sentence", 1, 2),
                       ("sentence", 1, 0), ("sentence", 1, 1), ("sentence", 1, 4),
                       ("document", 1, 0), ("sentence", 2, 1))
    blocks = [records[i:i + size] for i in range(0, len(records), size)]
    every_sentence = [r for r in records if r.kind == "sentence"]
    written = []
    for block, (before, after) in context_blocks(iter(blocks), reach=3):
        sentences = [r for r in block if r.kind == "sentence"]
        seen = before + sentences + after
        first = every_sentence.index(seen[0]) if seen else 0
        assert seen == every_sentence[first:first + len(seen)]  # consecutive, in order
        for r in sentences:  # 3 tokens of its document a side, or all its document has
            whole = [x for x in every_sentence if x.document == r.document]
            near = [x for x in seen if x.document == r.document]
            j, k = whole.index(r), near.index(r)
            for mine, all_of in ((near[:k], whole[:j]), (near[k + 1:], whole[j + 1:])):
                tokens = sum(len(x.tokens) for x in mine)
                assert tokens >= min(3, sum(len(x.tokens) for x in all_of))
        written += block
    assert written == records


# -- features (tiny checkpoint) ------------------------------------------------------------
keras_hub = pytest.importorskip("keras_hub")
pytest.importorskip("safetensors.numpy")

from test_transformer import POSITIONS, make_hf_dir  # noqa: E402

DOCUMENT = [
    ["EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", "."],
    ["Peter", "Blackburn"],
    ["the", "city", "of", "new", "york", "is", "good", "."],
    ["a", "naive", "play", "on", "lamb"],
]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from seqlab.transformer import load_checkpoint

    path = tmp_path_factory.mktemp("ctx") / "tiny-bert"
    make_hf_dir(path)
    return load_checkpoint(path)


def _encoder(checkpoint, **kwargs):
    from seqlab.transformer import Encoder

    return Encoder(checkpoint.backbone, checkpoint.tokenizer, **kwargs)


def _oracle(checkpoint, sentences, documents, i, context):
    """Sentence i's features (last layer, first subword) from one pass of the backbone over
    [CLS] left sentence right [SEP], the context gathered here from the tokenizer's pieces."""
    tok = checkpoint.tokenizer
    unk = int(tok.token_to_id(tok.oov_token))

    def ids(words):
        return [[int(p) for p in np.asarray(tok(w)).tolist()] or [unk] for w in words]

    own = ids(sentences[i])
    same = [j for j in range(len(sentences)) if documents[j] == documents[i]]
    before = [p for j in same if j < i for w in ids(sentences[j]) for p in w]
    after = [p for j in same if j > i for w in ids(sentences[j]) for p in w]
    n_own = sum(len(w) for w in own)
    side = min(context, (POSITIONS - 2 - n_own) // 2)
    left, right = before[max(0, len(before) - side):] if side else [], after[:side]
    cls, sep = int(tok.token_to_id(tok.start_token)), int(tok.token_to_id(tok.end_token))
    tokens = [cls, *left, *(p for w in own for p in w), *right, sep]
    out = checkpoint.backbone({
        "token_ids": np.array([tokens], np.int32),
        "padding_mask": np.ones((1, len(tokens)), np.int32),
        "segment_ids": np.zeros((1, len(tokens)), np.int32),
    })["sequence_output"].numpy()[0]
    firsts = np.cumsum([0] + [len(w) for w in own[:-1]]) + 1 + len(left)
    return out[firsts], (left, right)


def test_context_0_is_today_exactly(checkpoint):
    documents = [0, 0, 0, 0]
    plain = _encoder(checkpoint, layers="all").word_features(DOCUMENT)
    zero = _encoder(checkpoint, layers="all", context=0)
    same = zero.word_features(DOCUMENT, contexts=zero.contexts(DOCUMENT, documents))
    with_context = _encoder(checkpoint, layers="all", context=6)
    unasked = with_context.word_features(DOCUMENT)  # no documents: no context
    for a, b, c in zip(plain, same, unasked):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("context", [3, 6, 64])
def test_features_are_one_pass_over_the_sentence_in_its_context(checkpoint, context):
    documents = [0, 0, 0, 0]
    encoder = _encoder(checkpoint, layers="last", pooling="first", context=context)
    contexts = encoder.contexts(DOCUMENT, documents)
    got = encoder.word_features(DOCUMENT, contexts=contexts, batch_size=3)
    plain = _encoder(checkpoint, layers="last").word_features(DOCUMENT)
    for i in range(len(DOCUMENT)):
        expected, planned = _oracle(checkpoint, DOCUMENT, documents, i, context)
        assert contexts[i] == tuple(map(tuple, planned))
        np.testing.assert_allclose(got[i][:, 0], expected, atol=2e-5)
        assert not np.allclose(got[i], plain[i], atol=1e-3)  # the context changed them


def test_context_stops_at_document_boundaries(checkpoint):
    documents = ["a", "a", "b", "b"]
    encoder = _encoder(checkpoint, context=8)
    contexts = encoder.contexts(DOCUMENT, documents)
    assert contexts[1][1] == () and contexts[2][0] == ()
    got = encoder.word_features(DOCUMENT, contexts=contexts)
    for i in range(len(DOCUMENT)):
        expected, _ = _oracle(checkpoint, DOCUMENT, documents, i, 8)
        np.testing.assert_allclose(got[i][:, 0], expected, atol=2e-5)
    # what another document holds does not change a sentence's features
    other = [["something", "else", "entirely", "x"], DOCUMENT[1], DOCUMENT[2], DOCUMENT[3]]
    changed = encoder.word_features(other, contexts=encoder.contexts(other, documents))
    np.testing.assert_array_equal(changed[2], got[2])
    np.testing.assert_array_equal(changed[3], got[3])


def test_the_budget_holds_and_long_sentences_still_window(checkpoint):
    long = ["lamb", "boycott", "british"] * 12  # 36 subwords, over the budget of 30
    sentences = [DOCUMENT[0], long, DOCUMENT[1], DOCUMENT[2]]
    documents = [0, 0, 0, 0]
    encoder = _encoder(checkpoint, context=100)
    contexts = encoder.contexts(sentences, documents)
    batch = encoder.encode(sentences, contexts)
    assert batch["token_ids"].shape[-1] <= POSITIONS
    assert batch["padding_mask"].sum(-1).max() <= POSITIONS
    assert contexts[1] == NO_CONTEXT
    got = encoder.word_features(sentences, contexts=contexts)
    alone = _encoder(checkpoint).word_features([long])[0]
    np.testing.assert_array_equal(got[1], alone)  # windowed exactly as without context
    for i in (0, 2, 3):  # the others: context up to what the budget leaves
        expected, (left, right) = _oracle(checkpoint, sentences, documents, i, 100)
        assert len(left) + len(right) > 0
        np.testing.assert_allclose(got[i][:, 0], expected, atol=2e-5)
    with pytest.raises(ValueError, match="budget"):
        encoder.encode([long], [((1, 2), ())])


# -- a run with context -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A run on data/ (a file without -DOCSTART-: one document) with a tiny checkpoint read
    with 8 subwords of context a side."""
    root = tmp_path_factory.mktemp("ctx-run")
    checkpoint = root / "tiny-bert"
    make_hf_dir(checkpoint)
    result = invoke("train", QUICK, "--output", root / "run",
                    *sets(TINY + ["training.epochs=5", "model.lstm.units=16",
                                  "model.embedding.dim=16", "model.attention.units=8",
                                  f"model.transformer.path={checkpoint}",
                                  "model.transformer.context=8"]))
    assert result.exit_code == 0, result.output + repr(result.exception)
    return root / "run"


@pytest.mark.slow
def test_model_keras_remembers_context_and_reads_as_trained(trained):
    from seqlab.formats import Reading, documents_of, read_corpus
    from seqlab.tagger import Tagger

    tagger = Tagger.load(trained / "model.keras")
    assert tagger.context == 8
    assert tagger.parts.transformer.get_config()["context"] == 8
    # evaluate reads the dev file's documents and gives the run's own dev score
    dev = ROOT / "data/dev.txt"
    scored = invoke("evaluate", trained / "model.keras", dev, "--json")
    assert scored.exit_code == 0, scored.output
    metrics = json.loads((trained / "metrics.json").read_text())
    assert metrics["dev"]["f1"] > 0  # it tags something
    assert json.loads(scored.stdout)["f1"] == pytest.approx(metrics["dev"]["f1"], abs=1e-9)
    # predict, block by block, gives what one call over the whole file gives
    records = read_corpus(dev, Reading(format="conll"), labelled=False)
    tokens = [r.tokens for r in records]
    whole = tagger.tag(tokens, documents=documents_of(records, "conll"))
    predicted = invoke("predict", trained / "model.keras", dev, "-i", "conll")
    assert predicted.exit_code == 0, predicted.output
    tags = [[line.split()[-1] for line in block.splitlines()]
            for block in predicted.stdout.strip().split("\n\n")]
    assert tags == whole
    # and the features were read with context: without it the network's output differs
    _, with_context = tagger.outputs(tokens[:20], documents=[0] * 20)
    _, alone = tagger.outputs(tokens[:20])
    assert any(not np.allclose(a, b, atol=1e-4) for a, b in zip(with_context, alone))


def _contexts_asked(trained, monkeypatch):
    """The trained model's Tagger, data/dev.txt's sentences, the (words, context) keys of their
    features in the whole file, and the set the Tagger's transformer layer adds to each key it
    is asked to compute (its ``word_features`` wrapped on this one loaded instance)."""
    from seqlab.formats import Reading, read_records
    from seqlab.tagger import Tagger
    from seqlab.transformer import feature_keys

    tagger = Tagger.load(trained / "model.keras")
    layer = tagger.parts.transformer
    records = [r for r in read_records(ROOT / "data/dev.txt", Reading(format="conll"),
                                       labelled=False) if r.kind == "sentence"]
    tokens = [r.tokens for r in records]
    expected = set(feature_keys(tokens, layer.contexts(tokens, [r.document for r in records])))
    asked: set = set()
    compute = layer.word_features

    def spy(sentences, *args, contexts=None, **kwargs):
        asked.update(feature_keys(sentences, contexts))
        return compute(sentences, *args, contexts=contexts, **kwargs)

    monkeypatch.setattr(layer, "word_features", spy)
    return tagger, records, expected, asked


@pytest.mark.slow
def test_small_blocks_read_each_sentence_in_its_whole_context(trained, monkeypatch):
    """However the stream is cut into blocks, each sentence's features are asked for with
    the context it has in the whole file. (The tags themselves may differ in the last bits
    with how sentences are batched, as they do without context.)"""
    import io

    from seqlab.formats import Reading, read_records, writer
    from seqlab.predict import predict_stream

    tagger, records, expected, asked = _contexts_asked(trained, monkeypatch)
    dev = ROOT / "data/dev.txt"
    for chunk in (7, 1):
        asked.clear()
        out = io.StringIO()
        predict_stream(tagger, read_records(dev, Reading(format="conll"), labelled=False),
                       out, writer("conll", "conll"), batch_size=5, chunk=chunk,
                       documents=True)
        assert expected <= asked
        assert out.getvalue().count("\n\n") == len(records)
    # a text line stands alone: tagged as the sentence with no context
    line = "Gallery of Northern Light said ."
    text = invoke("predict", trained / "model.keras", "-", "-i", "text", input=line + "\n")
    assert text.exit_code == 0, text.output
    alone = tagger.tag([line.split()])[0]
    assert [row.split()[-1] for row in text.stdout.split("\n") if row.strip()] == alone


@pytest.mark.slow
def test_same_words_in_other_contexts_are_cached_apart(trained):
    from seqlab.tagger import Tagger
    from seqlab.transformer import feature_keys

    tagger = Tagger.load(trained / "model.keras")
    layer = tagger.parts.transformer
    sentence = ["Peter", "Blackburn"]
    a, b = [DOCUMENT[0], sentence], [DOCUMENT[2], sentence]
    key = feature_keys(a, layer.contexts(a, [0, 0]))[1]
    cached = np.full((2, layer.num_outputs, layer.hidden_dim), 7.0, np.float32)
    tagger.feature_cache[key] = cached  # as training puts dev's there
    np.testing.assert_array_equal(tagger.encode(a, documents=[0, 0]).transformer[-2:], cached)
    for other in (tagger.encode(b, documents=[0, 0]).transformer[-2:],
                  tagger.encode([sentence]).transformer):
        assert not np.allclose(other, cached)
    assert not np.allclose(tagger.encode(b, documents=[0, 0]).transformer[-2:],
                           tagger.encode([sentence]).transformer, atol=1e-5)


def test_a_run_s_dev_and_test_features_are_found_by_scoring(tmp_path):
    """prepare_data computes dev and test once, with their context, under the keys the
    Tagger looks up when the run scores them (words and context): scoring never reruns the
    transformer, and the train features are those of the whole file's context."""
    from seqlab.config import load_config
    from seqlab.training.data import _LAST_FEATURES, prepare_data
    from seqlab.transformer import feature_keys

    checkpoint = tmp_path / "tiny-bert"
    make_hf_dir(checkpoint)
    _LAST_FEATURES.clear()
    prep = prepare_data(load_config(QUICK, TINY + [f"model.transformer.path={checkpoint}",
                                                   "model.transformer.context=8"]),
                        say=lambda line: None)
    layer = prep.transformer
    assert layer.context == 8 and prep.dev.documents == [0] * len(prep.dev)
    for split in (prep.dev, prep.test):
        contexts = layer.contexts(split.tokens, split.documents)
        assert any(left or right for left, right in contexts)
        assert set(feature_keys(split.tokens, contexts)) <= set(prep.features)
    tokens = prep.train.tokens[:5]
    expected = layer.word_features(tokens, contexts=layer.contexts(
        prep.train.tokens, prep.train.documents)[:5])
    np.testing.assert_allclose(prep.encoded.transformer[:sum(map(len, tokens))],
                               np.concatenate(expected), atol=1e-5)
    _LAST_FEATURES.clear()


@pytest.mark.slow
def test_select_reads_documents_too(trained, monkeypatch):
    from seqlab.formats import Reading, read_records
    from seqlab.selection import select

    tagger, records, expected, asked = _contexts_asked(trained, monkeypatch)
    dev = ROOT / "data/dev.txt"
    chosen, seen = select(tagger, read_records(dev, Reading(format="conll"), labelled=False),
                          5, block=9, documents=True)
    assert seen == len(records) and len(chosen) == 5 and expected <= asked
