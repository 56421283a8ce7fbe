"""Evaluation metrics: token accuracy and chunk precision, recall and F1 by the conlleval rules.

Chunk scoring follows the CoNLL-2000 ``conlleval`` script (version 2004-01-26):

* chunks are read with :func:`seqlab.schemes.get_chunks`, which applies conlleval's
  ``startOfChunk``/``endOfChunk`` rules (an ``I-X`` after ``O`` or after another type starts a
  chunk), and also closes chunks on IOBES's ``E-``/``S-`` and BILOU's ``L-``/``U-``;
* a sentence boundary behaves like an ``O`` token: chunks never cross it;
* a chunk is correct when a gold and a predicted chunk have the same start, end and type;
* precision = 100 * correct / predicted (0 when nothing is predicted), recall = 100 * correct /
  gold (0 when there is no gold chunk), F1 = 2PR / (P + R) (0 when P + R = 0), overall and per
  type; token accuracy = 100 * tokens whose predicted tag equals the gold tag / tokens.

On IOB1 and IOB2 data these numbers are conlleval's, to the last printed digit, and
:func:`conlleval_text` prints them exactly as ``conlleval.pl`` does. (conlleval itself knows no
``S-`` tag and does not end a chunk on ``E-X B-X``; for IOBES and BILOU we give the correct
answer instead of conlleval's.)

Tasks whose labels are not chunk tags (part-of-speech tagging, say) are scored per label:
accuracy, and precision, recall and F1 of every label, with macro averages.

Scores are percentages (0-100) and never rounded here; counts are ints. Results are plain dicts
of str, int and float, ready for ``json.dumps``.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence

import numpy as np

from seqlab.errors import SeqlabError
from seqlab.schemes import get_chunks, is_chunk_task, split_tag

__all__ = [
    "compare",
    "confusion_matrix",
    "conlleval_text",
    "evaluate",
    "headline_metric",
    "read_compared",
    "read_predictions",
    "sentence_chunk_errors",
]

Tags = Sequence[Sequence[str]]


def headline_metric(task: str | bool | None) -> str:
    """The one score a task is judged by: ``"f1"`` (of chunks) for a chunk task, ``"accuracy"``
    (of tokens) for plain tags. ``task``: a result's ``"task"`` (``"chunk"`` or ``"tag"``, None
    when unknown) or whether the labels are chunk tags."""
    chunked = task == "chunk" if isinstance(task, str) else bool(task)
    return "f1" if chunked else "accuracy"



# --------------------------------------------------------------------------------------------
# small helpers


def _prf(correct: int, predicted: int, gold: int) -> tuple[float, float, float]:
    """Precision, recall and F1 in percent, computed in conlleval's order of operations."""
    precision = 100 * correct / predicted if predicted > 0 else 0.0
    recall = 100 * correct / gold if gold > 0 else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, f1


def _check_lengths(gold: Tags, pred: Tags, what: str = "predicted") -> None:
    if len(gold) != len(pred):
        raise SeqlabError(
            f"gold has {len(gold)} sentences but {what} has {len(pred)}: "
            "both must have the same sentences in the same order"
        )
    for i, (g, p) in enumerate(zip(gold, pred), start=1):
        if len(g) != len(p):
            raise SeqlabError(
                f"sentence {i}: gold has {len(g)} tags but {what} has {len(p)}; "
                "every sentence needs one predicted tag per gold tag"
            )


def _sentence_chunk_counts(gold: Tags, pred: Tags) -> np.ndarray:
    """Per sentence (correct chunks, predicted chunks, gold chunks), shape (n, 3)."""
    counts = np.zeros((len(gold), 3), dtype=np.int64)
    for i, (g, p) in enumerate(zip(gold, pred)):
        gc, pc = set(get_chunks(g)), set(get_chunks(p))
        counts[i] = (len(gc & pc), len(pc), len(gc))
    return counts


def _sentence_token_counts(gold: Tags, pred: Tags) -> np.ndarray:
    """Per sentence (correct tokens, tokens), shape (n, 2)."""
    counts = np.zeros((len(gold), 2), dtype=np.int64)
    for i, (g, p) in enumerate(zip(gold, pred)):
        counts[i] = (sum(a == b for a, b in zip(g, p)), len(g))
    return counts


# --------------------------------------------------------------------------------------------
# evaluation


def evaluate(gold: Tags, pred: Tags, *, chunks: bool | None = None) -> dict:
    """Score predicted tags against gold tags.

    Args:
        gold: gold tags, one list per sentence.
        pred: predicted tags, same shape as ``gold``.
        chunks: True for chunk scoring (conlleval), False for plain-tag scoring, None to decide
            from the labels (:func:`is_chunk_task`).

    Returns:
        For chunk scoring (``"task": "chunk"``): ``accuracy``, ``precision``, ``recall``, ``f1``,
        ``per_type`` ({TYPE: {precision, recall, f1, gold, predicted, correct}}, types sorted),
        ``tokens``, ``sentences``, ``gold_chunks``, ``predicted_chunks``, ``correct_chunks``,
        ``correct_tokens``.
        For plain-tag scoring (``"task": "tag"``): ``accuracy``, ``precision``, ``recall`` and
        ``f1`` (macro averages over the labels seen in gold or predictions), ``per_label``
        ({LABEL: {precision, recall, f1, support, predicted, correct}}, labels sorted),
        ``tokens``, ``sentences``, ``correct_tokens``.
        Scores are unrounded percentages, counts are ints.

    Raises:
        SeqlabError: when the two sides differ in their number of sentences or a sentence pair
            differs in length.
    """
    _check_lengths(gold, pred)
    if chunks is None:
        chunks = is_chunk_task(gold, pred)
    tokens = sum(len(s) for s in gold)
    correct_tokens = sum(a == b for g, p in zip(gold, pred) for a, b in zip(g, p))
    accuracy = 100 * correct_tokens / tokens if tokens else 0.0
    if chunks:
        return _evaluate_chunks(gold, pred, tokens, correct_tokens, accuracy)
    return _evaluate_tags(gold, pred, tokens, correct_tokens, accuracy)


def _evaluate_chunks(gold: Tags, pred: Tags, tokens: int, correct_tokens: int,
                     accuracy: float) -> dict:
    found_gold: Counter[str] = Counter()
    found_pred: Counter[str] = Counter()
    found_correct: Counter[str] = Counter()
    for g, p in zip(gold, pred):
        gc, pc = set(get_chunks(g)), set(get_chunks(p))
        found_gold.update(c[0] for c in gc)
        found_pred.update(c[0] for c in pc)
        found_correct.update(c[0] for c in gc & pc)
    n_gold, n_pred, n_correct = (sum(c.values()) for c in (found_gold, found_pred, found_correct))
    precision, recall, f1 = _prf(n_correct, n_pred, n_gold)
    per_type = {}
    for kind in sorted(found_gold.keys() | found_pred.keys()):
        p, r, f = _prf(found_correct[kind], found_pred[kind], found_gold[kind])
        per_type[kind] = {
            "precision": p, "recall": r, "f1": f,
            "gold": found_gold[kind], "predicted": found_pred[kind],
            "correct": found_correct[kind],
        }
    return {
        "task": "chunk",
        "accuracy": accuracy,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "per_type": per_type,
        "tokens": tokens,
        "sentences": len(gold),
        "correct_tokens": correct_tokens,
        "gold_chunks": n_gold,
        "predicted_chunks": n_pred,
        "correct_chunks": n_correct,
    }


def _evaluate_tags(gold: Tags, pred: Tags, tokens: int, correct_tokens: int,
                   accuracy: float) -> dict:
    support: Counter[str] = Counter()
    predicted: Counter[str] = Counter()
    correct: Counter[str] = Counter()
    for g, p in zip(gold, pred):
        support.update(g)
        predicted.update(p)
        correct.update(a for a, b in zip(g, p) if a == b)
    per_label = {}
    for label in sorted(support.keys() | predicted.keys()):
        p, r, f = _prf(correct[label], predicted[label], support[label])
        per_label[label] = {
            "precision": p, "recall": r, "f1": f,
            "support": support[label], "predicted": predicted[label],
            "correct": correct[label],
        }
    n = len(per_label)
    return {
        "task": "tag",
        "accuracy": accuracy,
        "precision": sum(v["precision"] for v in per_label.values()) / n if n else 0.0,
        "recall": sum(v["recall"] for v in per_label.values()) / n if n else 0.0,
        "f1": sum(v["f1"] for v in per_label.values()) / n if n else 0.0,
        "per_label": per_label,
        "tokens": tokens,
        "sentences": len(gold),
        "correct_tokens": correct_tokens,
    }


# --------------------------------------------------------------------------------------------
# conlleval's input and output


def read_predictions(
    path: str | os.PathLike, *, keep_docstart: bool = False, encoding: str = "utf-8"
) -> tuple[list[list[str]], list[list[str]], list[list[str]]]:
    """Read a file in conlleval's input format (what ``seqlab predict -i conll`` writes).

    One token per line, columns separated by spaces or tabs, the last two columns the gold and
    the predicted tag; blank lines separate sentences; every token line has as many columns as
    the first. It is read by the column-file reader, so tokens keep non-breaking spaces.
    ``-DOCSTART-`` lines end a sentence and are skipped (conlleval itself counts such a line as
    an ``O``/``O`` token; pass ``keep_docstart=True`` to get each one back as a one-token
    sentence and so reproduce conlleval's token count and accuracy on files that have them).

    Returns:
        (tokens, gold, pred): three lists with one list of strings per sentence.
    """
    tokens: list[list[str]] = []
    gold: list[list[str]] = []
    pred: list[list[str]] = []
    for _, words, labels, tags in _prediction_sentences(path, keep_docstart, encoding):
        tokens.append(words)
        gold.append(labels)
        pred.append(tags)
    return tokens, gold, pred


def _prediction_sentences(path, keep_docstart: bool, encoding: str):
    """``(line, tokens, gold, predicted)`` of each sentence of a predictions file, as
    :func:`read_predictions` reads it."""
    from seqlab.formats import Reading, read_records

    reading = Reading(format="conll", token_column=0, label_column=-2, encoding=encoding)
    for record in read_records(path, reading, tag_column=-1):
        if record.kind == "sentence":
            yield record.line, record.tokens, record.labels, record.tags
        elif record.kind == "docstart" and keep_docstart and len(record.rows[0]) >= 3:
            fields = record.rows[0]
            yield record.line, [fields[0]], [fields[-2]], [fields[-1]]


def read_compared(
    path: str | os.PathLike, tokens: Tags, gold: Tags, against: str, *,
    keep_docstart: bool = False, encoding: str = "utf-8",
) -> list[list[str]]:
    """The predicted tags of a second predictions file (as :func:`read_predictions` reads
    it) for the sentences ``tokens`` with the gold tags ``gold``, read from ``against``.

    Raises:
        SeqlabError: naming the file and line of its first sentence whose tokens or gold tags
        differ from ``against``'s, or the number of sentences when that differs: a
        comparison of predictions of other sentences means nothing.
    """
    pred: list[list[str]] = []
    same = "expected predictions of the same sentences"

    def differs(count: int) -> SeqlabError:
        return SeqlabError(f"{path}: its {count:,} sentences differ from {against}'s "
                           f"{len(tokens):,}; {same}")

    sentences = _prediction_sentences(path, keep_docstart, encoding)
    for i, (line, words, labels, tags) in enumerate(sentences):
        if i == len(tokens):
            raise differs(i + 1 + sum(1 for _ in sentences))
        expected, expected_gold = tokens[i], gold[i]
        where = f"sentence {i + 1} differs from {against}'s"
        for j, (word, want) in enumerate(zip(words, expected)):
            if word != want:
                raise SeqlabError(f"{path}:{line + j}: {where}: token {j + 1} is {word!r}, not "
                                  f"{want!r}; {same}")
        if len(words) != len(expected):
            raise SeqlabError(f"{path}:{line}: {where}: {_tokens(len(words))}, not "
                              f"{len(expected)}; {same}")
        for j, (label, want) in enumerate(zip(labels, expected_gold)):
            if label != want:
                raise SeqlabError(f"{path}:{line + j}: {where}: the gold tag of token {j + 1} is "
                                  f"{label!r}, not {want!r}; expected predictions of the same "
                                  "gold data")
        pred.append(tags)
    if len(pred) != len(tokens):
        raise differs(len(pred))
    return pred


def _tokens(n: int) -> str:
    return f"{n} token" + ("" if n == 1 else "s")


def conlleval_text(result: dict) -> str:
    """The report ``conlleval.pl`` prints for a chunk result of :func:`evaluate`, exactly.

    ``processed N tokens with G phrases; found: F phrases; correct: C.``, then (when there are
    tokens) the accuracy/precision/recall/FB1 line, then one line per type, types sorted, the
    last number of each being the number of chunks of that type predicted. Ends with a newline.
    """
    if result.get("task") != "chunk":
        raise ValueError("conlleval_text needs a chunk result (evaluate(..., chunks=True))")
    lines = [
        f"processed {result['tokens']} tokens with {result['gold_chunks']} phrases; "
        + f"found: {result['predicted_chunks']} phrases; correct: {result['correct_chunks']}."
    ]
    if result["tokens"] > 0:
        lines.append(
            f"accuracy: {result['accuracy']:6.2f}%; precision: {result['precision']:6.2f}%; "
            f"recall: {result['recall']:6.2f}%; FB1: {result['f1']:6.2f}"
        )
    kinds = sorted(result["per_type"])
    empty = result["per_type"].get("")
    if empty and empty["gold"] and empty["predicted"]:
        # conlleval's de-duplication of the sorted type list skips "" (a false value in Perl):
        # untyped chunks (plain B/I tags) found on both sides get their line printed twice.
        kinds.insert(0, "")
    for kind in kinds:
        s = result["per_type"][kind]
        lines.append(
            f"{kind:>17}: precision: {s['precision']:6.2f}%; recall: {s['recall']:6.2f}%; "
            f"FB1: {s['f1']:6.2f}  {s['predicted']:d}"
        )
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# confusion matrix and error analysis


def _label_key(label: str) -> tuple:
    prefix, kind = split_tag(label)
    return (label == "O", kind, "BIELSU".find(prefix) if len(prefix) == 1 else 9, label)


def confusion_matrix(gold: Tags, pred: Tags) -> tuple[list[str], list[list[int]]]:
    """Token-label confusion matrix.

    Returns:
        (labels, matrix): the labels seen in gold or predictions, grouped by type with the
        prefixes in B, I, E, L, S, U order and ``O`` last (plain labels sorted), and a square
        matrix where ``matrix[i][j]`` counts tokens with gold label ``labels[i]`` that were
        predicted as ``labels[j]`` (rows gold, columns predicted).
    """
    _check_lengths(gold, pred)
    pairs = Counter((a, b) for g, p in zip(gold, pred) for a, b in zip(g, p))
    labels = sorted({a for a, _ in pairs} | {b for _, b in pairs}, key=_label_key)
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for (a, b), n in pairs.items():
        matrix[index[a]][index[b]] += n
    return labels, matrix


def sentence_chunk_errors(
    gold: Sequence[str], pred: Sequence[str]
) -> tuple[list[tuple[str, int, int]], list[tuple[str, int, int]]]:
    """The chunks of one sentence that are wrong: (missed gold chunks, spurious predicted chunks).

    Chunks are (type, start, end) with ``end`` exclusive, in order of position.
    """
    gc, pc = get_chunks(gold), get_chunks(pred)
    gs, ps = set(gc), set(pc)
    return [c for c in gc if c not in ps], [c for c in pc if c not in gs]


# --------------------------------------------------------------------------------------------
# significance


def compare(
    gold: Tags, pred_a: Tags, pred_b: Tags, *, rounds: int = 10000, seed: int = 0,
    chunks: bool | None = None,
) -> dict:
    """Compare two systems with an approximate randomisation test.

    The statistic is the absolute difference of chunk F1 (of token accuracy for plain-tag tasks).
    In each of ``rounds`` shuffles every sentence's pair of predictions is swapped between the
    two systems with probability 1/2; the p-value is ``(r + 1) / (rounds + 1)`` where ``r`` is
    the number of shuffles whose difference is at least the observed one (two-sided; Noreen
    1989, Riezler and Maxwell 2005). Seeded: the same inputs and seed give the same p-value.

    Returns:
        ``{"a": evaluate(gold, pred_a), "b": evaluate(gold, pred_b), "metric": "f1" or
        "accuracy", "difference": a's score - b's score, "p_value", "rounds", "seed"}``.

    Raises:
        SeqlabError: when either prediction does not match the gold sentences.
    """
    if rounds < 1:
        raise ValueError("rounds must be at least 1")
    _check_lengths(gold, pred_a, "system A")
    _check_lengths(gold, pred_b, "system B")
    if chunks is None:
        chunks = is_chunk_task(gold, list(pred_a) + list(pred_b))
    result_a = evaluate(gold, pred_a, chunks=chunks)
    result_b = evaluate(gold, pred_b, chunks=chunks)
    metric = headline_metric(chunks)

    if chunks:
        ca = _sentence_chunk_counts(gold, pred_a).astype(np.float64)
        cb = _sentence_chunk_counts(gold, pred_b).astype(np.float64)
        gold_total = ca[:, 2].sum()

        def score(sums: np.ndarray) -> np.ndarray:  # sums[..., 0] correct, [..., 1] predicted
            correct, predicted = sums[..., 0], sums[..., 1]
            with np.errstate(divide="ignore", invalid="ignore"):
                precision = np.where(predicted > 0, 100 * correct / predicted, 0.0)
                recall = 100 * correct / gold_total if gold_total > 0 else np.zeros_like(correct)
                denom = precision + recall
                return np.where(denom > 0, 2 * precision * recall / denom, 0.0)

        ca, cb = ca[:, :2], cb[:, :2]
    else:
        ca = _sentence_token_counts(gold, pred_a).astype(np.float64)[:, :1]
        cb = _sentence_token_counts(gold, pred_b).astype(np.float64)[:, :1]
        total = sum(len(s) for s in gold)

        def score(sums: np.ndarray) -> np.ndarray:
            return 100 * sums[..., 0] / total if total else np.zeros(sums.shape[:-1])

    observed = abs(float(score(ca.sum(0)) - score(cb.sum(0))))
    rng = np.random.default_rng(seed)
    delta = cb - ca  # what swapping a sentence moves from A's totals to B's
    base_a, base_b = ca.sum(0), cb.sum(0)
    at_least = 0
    batch = 1000
    done = 0
    while done < rounds:
        k = min(batch, rounds - done)
        swap = (rng.random((k, len(gold))) < 0.5).astype(np.float64)
        moved = swap @ delta
        diff = np.abs(score(base_a + moved) - score(base_b - moved))
        at_least += int(np.count_nonzero(diff >= observed - 1e-9))
        done += k
    return {
        "a": result_a,
        "b": result_b,
        "metric": metric,
        "difference": result_a[metric] - result_b[metric],
        "p_value": (at_least + 1) / (rounds + 1),
        "rounds": rounds,
        "seed": seed,
    }
