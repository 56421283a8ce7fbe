"""Score a model on gold data, or a predictions file, by the conlleval rules: what
``seqlab evaluate`` does, for a Python caller as for the command line.

:class:`EvaluateOptions` is what it is asked, checked in plain Python before any model is
loaded; :func:`evaluate` reads the predictions (or tags the gold corpus, read as the model's
training files were unless the options say otherwise), scores them, and on request compares
them with a second system, counts the confusions and writes the wrong spans to a file. The
:class:`Evaluation` it returns holds the numbers, and :meth:`Evaluation.to_json` the document
``--json`` prints; printing is the caller's.

Importing this module does not import TensorFlow (a model brings it when it is loaded).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

from seqlab.errors import SeqlabError, shown
from seqlab.formats import CORPUS_FORMATS, Reading, check_encoding, format_from_name
from seqlab.metrics import compare, confusion_matrix, read_compared, read_predictions
from seqlab.metrics import evaluate as score
from seqlab.paths import check_output_file, input_file, model_file
from seqlab.precision import check_precision
from seqlab.predict import option_namer

# What the comparison of ``--json`` keeps of metrics.compare's result (besides the other
# system's scores and file).
_COMPARISON_KEYS = ("metric", "difference", "p_value", "rounds", "seed")


def _check_count(value, option: str, least: int, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise SeqlabError(f"{option} {shown(value)}: expected {what}")


@dataclasses.dataclass(frozen=True)
class EvaluateOptions:
    """What ``seqlab evaluate`` is asked: a model and gold data, or a predictions file.

    :meth:`checked` checks every option in plain Python (TensorFlow is not imported, no file
    is read); :func:`evaluate` checks them too.

    Attributes:
        model: a ``model.keras``, to tag ``data`` with.
        data: the gold corpus; read as the model's training files were (format, columns,
            encoding) unless the options below say otherwise.
        predictions: a conlleval file to score instead (last two columns: gold, predicted).
        input_format: ``data``: ``conll`` or ``conllu`` (None: as its name says, else the
            model's).
        token_column, label_column: ``data``: the token and gold label columns (None: the
            model's).
        label_field: CoNLL-U ``data``: the gold label field (None: the model's).
        encoding: ``data`` or ``predictions`` without a byte-order mark (None: the model's;
            UTF-8 for predictions).
        batch_size: sentences per batch, at most, when ``data`` is tagged.
        precision: what the network computes in when ``data`` is tagged: ``float32``,
            ``bfloat16`` or ``auto`` (:mod:`seqlab.precision`).
        conlleval: score as conlleval.pl does, ``-DOCSTART-`` lines of predictions counted
            as tokens; chunk tags only.
        confusion: also count the token-label confusions.
        errors: write every wrong span (every wrong tag, for plain labels) with its sentence
            here (``.jsonl``: JSON lines); an existing file needs ``force``.
        compare_with: a second predictions file of the same sentences and gold tags: its
            scores and the significance of the difference (approximate randomisation, ``rounds``
            shuffles, seeded with ``seed``).
        names: how messages call the options (the command line's flags and arguments); by
            their Python names where it says nothing.
    """

    model: str | os.PathLike | None = None
    data: str | os.PathLike | None = None
    predictions: str | os.PathLike | None = None
    input_format: str | None = None
    token_column: int | None = None
    label_column: int | None = None
    label_field: str | None = None
    encoding: str | None = None
    batch_size: int = 64
    conlleval: bool = False
    confusion: bool = False
    errors: str | os.PathLike | None = None
    force: bool = False
    compare_with: str | os.PathLike | None = None
    rounds: int = 10000
    seed: int = 0
    precision: str = "float32"
    names: Mapping[str, str] = dataclasses.field(default_factory=dict, compare=False,
                                                 repr=False)

    @property
    def needs_model(self) -> bool:
        """Whether the evaluation loads a model (and so TensorFlow): not for predictions."""
        return self.predictions is None

    def checked(self) -> EvaluateOptions:
        """These options once each is checked; SeqlabError (one line, naming the option or
        the file) for the first that is wrong. Paths are looked at, not read."""
        name = option_namer(self.names)
        if self.errors is not None:
            check_output_file(self.errors, self.force)
        if self.compare_with is not None:
            input_file(self.compare_with, "predictions file to compare with")
        if self.input_format is not None and self.input_format not in CORPUS_FORMATS:
            raise SeqlabError(f"{name('input_format')} {shown(self.input_format)}: expected one "
                              f"of {', '.join(CORPUS_FORMATS)}")
        if self.encoding is not None:
            check_encoding(self.encoding)
        _check_count(self.batch_size, name("batch_size"), 1, "at least 1 sentence")
        _check_count(self.rounds, name("rounds"), 1, "at least 1 shuffle")
        _check_count(self.seed, name("seed"), 0, "a whole number, 0 or more")
        check_precision(self.precision, name("precision"))
        if self.predictions is not None:
            if self.model is not None or self.data is not None:
                raise SeqlabError(f"give either {name('model')} {name('data')} or "
                                  f"{name('predictions')}, not both")
            input_file(self.predictions, "predictions file")
        else:
            if self.model is None or self.data is None:
                raise SeqlabError(f"expected {name('model')} {name('data')} (a model.keras and "
                                  f"a file with gold labels) or {name('predictions')}")
            model_file(self.model)
            input_file(self.data, "data file")
        return self

    def reading(self, tagger) -> Reading:
        """How ``data`` is read: the format as given, else as the file's name says, else the
        training files'; columns, label field and encoding as given, else the model's."""
        fmt = self.input_format or format_from_name(self.data)
        return tagger.reading.updated(format=fmt, token_column=self.token_column,
                                      label_column=self.label_column,
                                      label_field=self.label_field, encoding=self.encoding)


@dataclasses.dataclass
class Evaluation:
    """What :func:`evaluate` found.

    Attributes:
        title: the file scored (the predictions, or the gold data).
        result: :func:`seqlab.metrics.evaluate`'s scores (``result["task"]``: chunk or tag);
            a model of chunk tags adds ``result["calibration"]``: how well its span scores
            match how often the spans are right (:func:`seqlab.confidence.calibration`: ``ece``,
            ``spans``, ``confidence``, ``accuracy``, ``bins``) at the model's ``temperature``,
            and the same at temperature 1 as ``uncalibrated``.
        comparison: :func:`seqlab.metrics.compare`'s result against the second file.
        systems: the two systems compared (this one's file or model, the second file).
        confusion: ``(labels, matrix)`` of :func:`seqlab.metrics.confusion_matrix`.
        wrong: the number of wrong spans (tags, for plain labels) written to the errors file.
    """

    title: str
    result: dict
    comparison: dict | None = None
    systems: tuple[str, str] | None = None
    confusion: tuple[list[str], list[list[int]]] | None = None
    wrong: int | None = None

    @property
    def chunked(self) -> bool:
        return self.result["task"] == "chunk"

    def to_json(self) -> dict:
        """The scores, and the confusion matrix and comparison when they were asked for: the
        document ``seqlab evaluate --json`` prints."""
        payload = dict(self.result)
        if self.confusion is not None:
            labels, matrix = self.confusion
            payload["confusion"] = {"labels": labels, "matrix": matrix}
        if self.comparison is not None:
            comparison = {k: self.comparison[k] for k in _COMPARISON_KEYS}
            comparison["other"] = self.comparison["b"]
            comparison["other_file"] = self.systems[1]
            payload["comparison"] = comparison
        return payload


def evaluate(options: EvaluateOptions) -> Evaluation:
    """Score what ``options`` name (checked here first): the predictions file, or the gold
    data tagged by the model (which imports TensorFlow). SeqlabError for a file with no
    sentence, gold labels that are mostly not the model's tags, conlleval asked of plain
    labels, a second file of other sentences, an errors file that exists."""
    options = options.checked()
    name = option_namer(options.names)
    chunks = None
    if options.predictions is not None:
        # conlleval counts -DOCSTART- lines as tokens; keep them for its exact report.
        tokens, gold, pred = read_predictions(options.predictions,
                                              keep_docstart=options.conlleval,
                                              encoding=options.encoding or "utf-8")
        title = str(options.predictions)
    else:
        from seqlab.predict import tag_corpus
        from seqlab.tagger import Tagger

        tagger = Tagger.load(options.model, precision=options.precision)
        tokens, gold, pred, outputs = tag_corpus(tagger, options.data,
                                                 options.reading(tagger), options.batch_size,
                                                 scored=True)
        chunks = tagger.chunked
        title = str(options.data)
    if not gold:
        raise SeqlabError(f"{title}: no sentences found")
    evaluation = Evaluation(title, score(gold, pred, chunks=chunks))
    if options.predictions is None and outputs is not None:
        from seqlab.confidence import span_calibration

        # The span scores at the model's temperature, and at 1 (before it was fitted).
        found = span_calibration(*outputs, gold, tagger.parts, tagger.temperature)
        evaluation.result["calibration"] = {**found["after"],
                                            "temperature": tagger.temperature,
                                            "uncalibrated": found["before"]}
    if options.conlleval and not evaluation.chunked:
        raise SeqlabError(f"{title}: {name('conlleval')} needs chunk tags (B-/I-/E-/S- and O); "
                          "these are plain labels, scored per label")
    if options.compare_with is not None:
        other = read_compared(options.compare_with, tokens, gold, title,
                              keep_docstart=options.conlleval,
                              encoding=options.encoding or "utf-8")
        evaluation.comparison = compare(gold, pred, other, rounds=options.rounds,
                                        seed=options.seed, chunks=evaluation.chunked)
        evaluation.systems = (str(options.predictions or options.model),
                              str(options.compare_with))
    if options.confusion:
        evaluation.confusion = confusion_matrix(gold, pred)
    if options.errors is not None:
        from seqlab.render.tables import write_errors

        evaluation.wrong = write_errors(options.errors, tokens, gold, pred,
                                        chunks=evaluation.chunked)
    return evaluation
