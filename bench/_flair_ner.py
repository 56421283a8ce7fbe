"""flair 0.15's side of ``bench/peers_flair.py`` (issue 35 item 7): run by flair's own
environment (``bench/.flair/bin/python``), never by seqlab's; it imports neither seqlab nor
TensorFlow.

``train``: a ``SequenceTagger`` (BiLSTM-CRF, flair's defaults but the hidden size) over the
stacked embeddings that match ``configs/conll2003_ner_minilm.yaml``: GloVe 6B 50d (read from
the text file, no gensim), flair's ``CharacterEmbeddings`` and ``TransformerWordEmbeddings`` on
the MiniLM directory (frozen, the config's layers averaged, its subword pooling), trained by
flair's ``ModelTrainer`` the documented way (SGD, lr 0.1, mini-batch 32, annealed on plateau) with
``embeddings_storage_mode="cpu"``, so the frozen transformer runs once per sentence. Progress
goes to ``--progress`` as JSON lines as it comes, so a run stopped at the budget (SIGINT)
leaves its curve; the best-dev model is ``<out>/best-model.pt`` (written atomically: a stop
while it is saved keeps the previous one).

``test``: loads a saved model, tags the test file (timed: the first whole pass after a
warm-up on its first 256 sentences, Sentence objects made from token lists included), scores
it as flair's evaluation does (micro F1 on spans) and writes the predictions as
``token gold predicted`` columns for a conlleval-exact score by the orchestrator.

Nothing is downloaded: the Hugging Face hub is switched off, flair's character dictionary is
built from the training file (its default, "common-chars", would be fetched from flair's
server), and any network connection this process opens raises.

Run without a subcommand (as ``make bench`` runs every ``bench/*.py``), it only says what it
is and exits 0.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Python puts this script's folder first on sys.path, and bench/ holds profile.py, data.py,
# train.py...: they would shadow the modules of those names that torch and transformers import.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import time  # noqa: E402

STARTED = time.perf_counter()

for _key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE",
             "HF_HUB_DISABLE_TELEMETRY"):
    os.environ[_key] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"


def _no_network(*args, **kwargs):
    raise RuntimeError(f"bench/_flair_ner.py opened a network connection ({args[1:]!r}): "
                       "everything must load from local files")


def block_network() -> None:
    socket.socket.connect = _no_network
    socket.socket.connect_ex = _no_network
    socket.create_connection = _no_network


def set_threads(n: int) -> None:
    import torch

    torch.set_num_threads(n)
    torch.set_num_interop_threads(n)


# ------------------------------------------------------------------ data
def read_columns(path: Path, label_column: int = 3) -> list[tuple[list[str], list[str]]]:
    """(tokens, tags) per sentence of a CoNLL file; -DOCSTART- lines are skipped."""
    sentences, tokens, tags = [], [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("-DOCSTART-"):
            if tokens:
                sentences.append((tokens, tags))
            tokens, tags = [], []
            continue
        parts = line.split()
        tokens.append(parts[0])
        tags.append(parts[label_column])
    if tokens:
        sentences.append((tokens, tags))
    return sentences


def column_dataset(path: Path):
    from flair.datasets import ColumnDataset

    return ColumnDataset(path, {0: "text", 3: "ner"}, in_memory=True,
                         document_separator_token="-DOCSTART-")


def read_glove(path: Path):
    """GloVe's text format ("word v1 ... vd" a line, gzip or not): ({word: row}, matrix)."""
    import numpy as np

    opener = gzip.open if path.suffix == ".gz" else open
    words: dict[str, int] = {}
    rows = []
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            word, _, rest = line.rstrip("\n").partition(" ")
            if word in words:  # keep the first vector of a word written twice
                continue
            words[word] = len(rows)
            rows.append(np.array(rest.split(), dtype=np.float32))
    return words, np.stack(rows)


def glove_embeddings(path: Path):
    """flair's ``WordEmbeddings`` over the GloVe file, filled in place (flair 0.15 reads word
    vectors only through gensim): a table of the file's words plus flair's all-zero unknown
    row. flair looks a token up as written, then lower-cased, then with its digits as "#",
    then as "0"; GloVe 6B is lower-cased, so every token finds its lower-cased vector, as
    seqlab's ``vocab.lowercase: true`` does."""
    import torch
    from flair.embeddings import WordEmbeddings

    vocab, matrix = read_glove(path)
    emb = WordEmbeddings(None, vocab=vocab, embedding_length=matrix.shape[1],
                         name=path.name.removesuffix(".gz").removesuffix(".txt"))
    emb.embedding.weight.data[: len(vocab)] = torch.from_numpy(matrix)
    return emb


def char_dictionary(sentences):
    """flair's character dictionary over the training text (with its <unk>)."""
    from flair.data import Dictionary

    chars = Dictionary(add_unk=True)
    for sentence in sentences:
        for token in sentence:
            for ch in token.text:
                chars.add_item(ch)
    return chars


# ------------------------------------------------------------------ train
class Progress:
    """JSON lines: one after each epoch's dev evaluation, a lighter one every tenth of an
    epoch. ``seconds`` counts from just before ``ModelTrainer.train`` (after loading the
    vectors and the checkpoint), ``process_seconds`` from the start of this process."""

    def __init__(self, path: Path, t0: float):
        self.file = open(path, "a", encoding="utf-8", buffering=1)
        self.t0 = t0
        self.tokens = 0

    def write(self, **row) -> None:
        now = time.perf_counter()
        row.update(seconds=round(now - self.t0, 2), process_seconds=round(now - STARTED, 2),
                   train_tokens=self.tokens)
        self.file.write(json.dumps(row) + "\n")
        self.file.flush()


def make_plugin(progress: Progress):
    from flair.trainers.plugins import TrainerPlugin

    class ProgressPlugin(TrainerPlugin):
        @TrainerPlugin.hook
        def after_training_batch(self, batch, batch_no, total_number_of_batches, epoch, **kw):
            progress.tokens += sum(len(s) for s in batch)
            step = max(1, total_number_of_batches // 10)
            if (batch_no + 1) % step == 0 and batch_no + 1 < total_number_of_batches:
                progress.write(event="batch", epoch=epoch, batch=batch_no + 1,
                               batches=total_number_of_batches)

        @TrainerPlugin.hook
        def after_training_epoch(self, epoch, **kw):
            progress.write(event="trained", epoch=epoch)

        @TrainerPlugin.hook
        def after_evaluation(self, epoch, current_model_is_best, validation_scores, **kw):
            dev = validation_scores[0] if validation_scores else None
            progress.write(event="epoch", epoch=epoch,
                           dev_f1=None if dev is None else round(100.0 * float(dev), 4),
                           best=bool(current_model_is_best),
                           lr=self.trainer.optimizer.param_groups[0]["lr"])

    return ProgressPlugin()


_STATE = {"saving": False, "stop": False}


def _stop_at_budget(signum, frame):
    """SIGINT (the orchestrator's budget): end now, unless a model is being saved, then
    right after it. The curve is already on disk."""
    if _STATE["saving"]:
        _STATE["stop"] = True
        return
    _STATE["progress"].write(event="stopped")
    os._exit(0)


def train(args) -> int:
    block_network()
    set_threads(args.threads)
    import flair
    import torch
    from flair.data import Corpus
    from flair.embeddings import CharacterEmbeddings, StackedEmbeddings, TransformerWordEmbeddings
    from flair.models import SequenceTagger
    from flair.trainers import ModelTrainer

    flair.device = torch.device("cpu")
    flair.set_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    class AtomicTrainer(ModelTrainer):
        def _save_model(self, model_file, checkpoint=False):
            model_file = Path(model_file)
            partial = model_file.with_name(model_file.name + ".partial")
            _STATE["saving"] = True
            try:
                super()._save_model(partial, checkpoint)
                os.replace(partial, model_file)
            finally:
                _STATE["saving"] = False
            _STATE["progress"].write(event="saved", file=model_file.name)
            if _STATE["stop"]:
                _STATE["progress"].write(event="stopped")
                os._exit(0)

    # No test split: the race scores test afterwards, and flair would otherwise sample one
    # out of train (sample_missing_splits) or spend the budget's last seconds on it.
    corpus = Corpus(train=column_dataset(Path(args.train)), dev=column_dataset(Path(args.dev)),
                    test=None, name="conll2003", sample_missing_splits=False)
    tags = corpus.make_label_dictionary("ner", add_unk=False)
    loaded = time.perf_counter()
    embeddings = StackedEmbeddings([
        glove_embeddings(Path(args.glove)),
        CharacterEmbeddings(char_dictionary(corpus.train)),
        # flair 0.15 has no learned scalar mix: `layer_mean=True` (its default; the old
        # `use_scalar_mix` maps to it) averages the selected layers with equal weights.
        TransformerWordEmbeddings(str(args.transformer), layers=args.layers, layer_mean=True,
                                  subtoken_pooling=args.pooling, fine_tune=False,
                                  allow_long_sentences=True),
    ])
    tagger = SequenceTagger(embeddings=embeddings, tag_dictionary=tags, tag_type="ner",
                            hidden_size=args.hidden_size, use_crf=True, tag_format="BIOES")
    train_tokens = sum(len(s) for s in corpus.train)
    progress = Progress(Path(args.progress), time.perf_counter())
    _STATE["progress"] = progress
    progress.write(event="start", train_sentences=len(corpus.train),
                   dev_sentences=len(corpus.dev), train_tokens_per_epoch=train_tokens,
                   load_seconds=round(time.perf_counter() - loaded, 2), threads=args.threads,
                   flair=flair.__version__, torch=torch.__version__)
    signal.signal(signal.SIGINT, _stop_at_budget)
    trainer = AtomicTrainer(tagger, corpus)
    trainer.train(out, learning_rate=args.learning_rate, mini_batch_size=args.batch_size,
                  max_epochs=args.max_epochs, embeddings_storage_mode="cpu",
                  save_final_model=False, create_loss_file=False,
                  plugins=[make_plugin(progress)])
    progress.write(event="done")
    return 0


# ------------------------------------------------------------------ test
def spans_to_iob2(sentence, n: int, label_type: str = "ner") -> list[str]:
    tags = ["O"] * n
    for span in sentence.get_spans(label_type):
        value = span.get_label(label_type).value
        first = span.tokens[0].idx - 1
        tags[first] = f"B-{value}"
        for token in span.tokens[1:]:
            tags[token.idx - 1] = f"I-{value}"
    return tags


def spans_of(sentences, label_type: str = "ner") -> set:
    return {(i, span.tokens[0].idx, span.tokens[-1].idx, span.get_label(label_type).value)
            for i, sentence in enumerate(sentences) for span in sentence.get_spans(label_type)}


def span_f1(gold_sentences, predicted) -> float:
    """flair's micro F1 on spans (what ``SequenceTagger.evaluate`` reports), from the spans
    of the timed pass against those flair's column reader makes of the gold tags, without
    tagging the file once more."""
    gold_sentences = list(gold_sentences)
    if [[t.text for t in s] for s in gold_sentences] != [[t.text for t in s] for s in predicted]:
        raise SystemExit("flair's column reader and this script read the test file differently")
    gold, pred = spans_of(gold_sentences), spans_of(predicted)
    correct = len(gold & pred)
    precision = correct / len(pred) if pred else 0.0
    recall = correct / len(gold) if gold else 0.0
    return 100.0 * (2 * precision * recall / (precision + recall) if correct else 0.0)


def test(args) -> int:
    block_network()
    set_threads(args.threads)
    import flair
    import torch
    from flair.data import Sentence
    from flair.models import SequenceTagger

    flair.device = torch.device("cpu")
    tagger = SequenceTagger.load(args.model)
    gold = read_columns(Path(args.test))
    words = [tokens for tokens, _ in gold]
    n = sum(map(len, words))

    def tag_all(batch):
        sentences = [Sentence(w) for w in batch]
        tagger.predict(sentences, mini_batch_size=args.batch_size)
        return sentences

    tag_all(words[:256])
    t0 = time.perf_counter()
    predicted = tag_all(words)
    seconds = time.perf_counter() - t0
    warm = []
    for _ in range(args.warm_passes):
        t1 = time.perf_counter()
        tag_all(words)
        warm.append(n / (time.perf_counter() - t1))

    with open(args.predictions, "w", encoding="utf-8") as f:
        for (tokens, tags), sentence in zip(gold, predicted):
            pred = spans_to_iob2(sentence, len(tokens))
            f.write("".join(f"{t} {g} {p}\n" for t, g, p in zip(tokens, tags, pred)) + "\n")

    out = {"flair_micro_f1": span_f1(column_dataset(Path(args.test)), predicted),
           "predict_tokens_per_s": n / seconds,
           "predict_seconds": seconds, "tokens": n, "sentences": len(words),
           "batch_size": args.batch_size, "threads": args.threads}
    if warm:
        out["predict_warm_tokens_per_s"] = sorted(warm)[len(warm) // 2]
    print(json.dumps(out), flush=True)
    return 0


# ------------------------------------------------------------------ main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    threads = int(os.environ.get("FLAIR_NER_THREADS", "1"))
    t = sub.add_parser("train", help="train the BiLSTM-CRF; progress as JSON lines")
    t.add_argument("--train", required=True)
    t.add_argument("--dev", required=True)
    t.add_argument("--glove", required=True, help="GloVe text file (.txt or .txt.gz)")
    t.add_argument("--transformer", required=True, help="a Hugging Face model directory")
    t.add_argument("--out", required=True, help="folder for best-model.pt and flair's logs")
    t.add_argument("--progress", required=True, help="JSON lines file, appended to")
    t.add_argument("--hidden-size", type=int, default=128)
    t.add_argument("--pooling", choices=("first", "last", "mean"), default="first",
                   help="subword pooling, as the seqlab config's model.transformer.pooling")
    t.add_argument("--layers", default="all",
                   help="flair's layers: all, or hidden states as 0,1,2 (the seqlab config's)")
    t.add_argument("--learning-rate", type=float, default=0.1)
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--max-epochs", type=int, default=150)
    t.add_argument("--seed", type=int, default=13)
    t.add_argument("--threads", type=int, default=threads,
                   help="torch threads (FLAIR_NER_THREADS, default 1)")
    p = sub.add_parser("test", help="score a saved model on a test file; time prediction")
    p.add_argument("--model", required=True)
    p.add_argument("--test", required=True)
    p.add_argument("--predictions", required=True, help="token gold predicted, written here")
    p.add_argument("--batch-size", type=int, default=32, help="flair's predict default: 32")
    p.add_argument("--warm-passes", type=int, default=0)
    p.add_argument("--threads", type=int, default=threads,
                   help="torch threads (FLAIR_NER_THREADS, default 1)")
    args, rest = parser.parse_known_args()
    if args.command is None:  # `make bench` runs every bench/*.py, this helper too
        print("bench/_flair_ner.py is flair's side of bench/peers_flair.py, run by flair's own "
              "environment; nothing to do on its own")
        return 0
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    return train(args) if args.command == "train" else test(args)


if __name__ == "__main__":
    sys.exit(main())
