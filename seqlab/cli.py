"""The `seqlab` command line: parse arguments, call the library, print.

TensorFlow is imported inside the commands that need it, so `seqlab --help` stays instant.
"""

from __future__ import annotations

import functools
import gc
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from seqlab.errors import Interrupted, SeqlabError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  pretty_exceptions_show_locals=False,
                  help="Train, apply and score sequence taggers (NER, POS, chunking).")
data_app = typer.Typer(no_args_is_help=True, help="Inspect and convert corpora.")
app.add_typer(data_app, name="data")

class _Console(Console):
    def on_broken_pipe(self) -> None:
        raise BrokenPipeError  # not Rich's exit status 1: user_errors ends quietly, status 0


err = _Console(stderr=True, soft_wrap=True, highlight=False, emoji=False)  # progress, errors
results = _Console(soft_wrap=True, highlight=False, emoji=False)  # what the user asked for


# How each command sets the library argument a SeqlabError names (SeqlabError.argument).
_FLAG_HINTS = {
    "encoding": "with --encoding",
    "force": "(use --force to replace it)",
    "tokenizer": "(--tokenizer)",
    "label_field": "(--label-field)",
    "label_column": "(--label-column)",
    "token_column": "(--token-column)",
    "head": "(--head)",
}
# How predict and evaluate messages call the library options they name.
_PREDICT_FLAGS = {"input_format": "--input-format", "output_format": "--format",
                  "probs": "--probs", "max_length": "--max-length", "batch_size": "--batch-size",
                  "nbest": "--nbest", "min_score": "--min-score", "precision": "--precision"}
_EVALUATE_FLAGS = {"model": "MODEL", "data": "DATA", "predictions": "--predictions FILE",
                   "input_format": "--format", "batch_size": "--batch-size",
                   "conlleval": "--conlleval", "rounds": "--rounds", "seed": "--seed",
                   "precision": "--precision"}
_CONFIG_HINTS = {
    "encoding": "in data.encoding",
    "force": "(use --force to replace the run in it, or --resume)",
    "scheme": "(data.scheme in the config)",
    "label_field": "(data.label_field in the config)",
    "label_column": "(data.label_column in the config)",
    "token_column": "(data.token_column in the config)",
}


def user_errors(hints: dict | None = None):
    """Turn SeqlabError into one red line on stderr and exit status 2 (with the flag or key
    that sets the argument it names, from ``hints``); Ctrl-C into one line, status 130; a
    reader that closed the pipe (``seqlab ... | head``) into a quiet exit, status 0."""
    hints = _FLAG_HINTS if hints is None else hints

    def decorate(command):
        @functools.wraps(command)
        def wrapper(*args, **kwargs):
            try:
                outcome = command(*args, **kwargs)
                if sys.stdout is not None:
                    sys.stdout.flush()  # a closed pipe shows here, not at exit
                return outcome
            except BrokenPipeError:  # the reader left; so do we, with nothing to say
                _silence_stdout()
                raise typer.Exit(0) from None
            except Interrupted as exc:
                err.print(f"[yellow]{escape(str(exc))}[/]")
                raise typer.Exit(130) from None
            except SeqlabError as exc:
                message = str(exc)
                hint = hints.get(getattr(exc, "argument", None) or "")
                if hint:
                    message = f"{message} {hint}"
                err.print(f"[red]error:[/] {escape(message)}")
                raise typer.Exit(2) from None
            except KeyboardInterrupt:
                err.print("[yellow]interrupted[/]")
                raise typer.Exit(130) from None

        return wrapper

    return decorate


def load_tensorflow() -> None:
    """Import TensorFlow and Keras with their native chatter kept off the terminal.

    TensorFlow's C++ layer writes notes (oneDNN, missing CUDA drivers) straight to file
    descriptor 2, bypassing Python; they drown our one-line messages. When stderr is a real
    descriptor, Python's `sys.stderr` moves to a duplicate of it and descriptor 2 itself goes
    to /dev/null, so our output, warnings and tracebacks still show and the C++ notes do not.
    SEQLAB_VERBOSE=1 leaves everything as it was.
    """
    import os

    try:
        redirect = sys.stderr.fileno() == 2 and not os.environ.get("SEQLAB_VERBOSE")
    except (AttributeError, OSError, ValueError):  # captured stderr (tests)
        redirect = False
    if redirect:
        sys.stderr.flush()
        sys.stderr = os.fdopen(os.dup(2), "w", buffering=1, encoding=sys.stderr.encoding,
                               errors="backslashreplace")
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    import keras  # noqa: F401

    import seqlab.layers  # noqa: F401  (registers seqlab's layers)


def _existing(path: Path, what: str) -> Path:
    """``path`` when it names a ``what`` to read (a pipe or FIFO too: it is read once; a model
    file must be a regular file); one line saying what the path is otherwise."""
    from seqlab.paths import input_file, model_file

    return model_file(path) if what == "model file" else input_file(path, what)


@app.command()
@user_errors(_CONFIG_HINTS)
def train(
    config: Annotated[Path, typer.Argument(help="YAML config file.")],
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Run directory (default: runs/CONFIG_NAME).")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Replace an existing run directory.")] = False,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue an interrupted run in --output from its last "
                         "checkpoint.")] = False,
    overrides: Annotated[list[str] | None, typer.Option(
        "--set", help="Override a config value: --set model.lstm.units=64 (repeatable; paths "
                      "relative to the current directory).")] = None,
    seeds: Annotated[str | None, typer.Option(
        "--seeds", help="Train one run per seed into DIR/seed-N and report mean and sd: "
                        "13,14,15, or a count (3: the config's seed and the next two). "
                        "DIR/model.keras is the run with the best dev score.")] = None,
) -> None:
    """Train a tagger from a YAML config and save DIR/model.keras."""
    from seqlab.config import load_config
    from seqlab.training.rundir import check_output, terminate_as_interrupt
    from seqlab.training.seeds import check_set_output

    cfg = load_config(config, overrides or [])
    output = output or Path("runs") / config.stem
    if force and resume:
        raise SeqlabError("--force and --resume contradict each other: pick one")
    seed_list = _seeds(seeds, cfg.seed) if seeds is not None else None
    if seed_list is None:
        check_output(output, force, resume)  # fail before the slow imports
    else:
        check_set_output(output, force, resume)

    # SIGTERM (a scheduler, `docker stop`, `kill`) ends the run as Ctrl-C does, also in a
    # background job that ignores SIGINT.
    with terminate_as_interrupt():
        load_tensorflow()
        if seed_list is not None:
            from seqlab.render.tables import render_seeds
            from seqlab.training.seeds import train_seeds

            try:
                summary = train_seeds(cfg, output, seed_list, force=force, resume=resume,
                                      console=err)
            except Interrupted as exc:
                _stopped(_interrupted(exc, config, output, (overrides or []), seeds))
            results.print(render_seeds(summary))
            err.print(f"saved {output / 'model.keras'} (seed {summary['best']['seed']}) and "
                      f"{output / 'summary.json'}")
            return
        from seqlab.training import train as run_training

        try:
            run = run_training(cfg, output, force=force, resume=resume, console=err)
        except Interrupted as exc:
            _stopped(_interrupted(exc, config, output, overrides or []))
    err.print(f"saved {output / 'model.keras'} (best epoch {run.best_epoch})")
    for split in ("dev", "test"):
        if split in run.metrics:
            result = run.metrics[split]
            from seqlab.metrics import headline_metric
            key = headline_metric(result.get("task"))
            results.print(f"{split} {key}: {result[key]:.2f}")


def _seeds(text: str, base: int) -> list[int]:
    """``13,14,15`` as given, or a count ``3``: the config's seed and the ones after it. Every
    seed is in the config's range for ``seed`` (so each seed-N run reproduces); an empty part
    (``13,,14``) is refused, not skipped."""
    from seqlab.config import Config

    parts = [p.strip() for p in text.split(",")]
    if "," in text and "" in parts:
        raise SeqlabError(f"--seeds {text!r}: an empty seed between commas; expected seeds "
                          "like 13,14,15")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []
    if not values or any(v < 0 for v in values):
        raise SeqlabError(f"--seeds {text!r}: expected seeds like 13,14,15 or a count like 3")
    counted = ""
    if len(values) == 1 and "," not in text:
        if not 1 <= values[0] <= 100:
            raise SeqlabError(f"--seeds {text}: a count of seeds is 1 to 100")
        values = [base + i for i in range(values[0])]
        counted = f" (counting from the config's seed {base})"
    elif len(set(values)) != len(values):
        raise SeqlabError(f"--seeds {text!r}: a seed is given twice")
    for value in values:
        try:
            Config._seed_range(value)  # the one rule for a seed
        except ValueError as exc:
            raise SeqlabError(f"--seeds {text!r}: seed {value}{counted}: {exc}") from None
    return values


def _interrupted(exc: Interrupted, config: Path, output: Path, overrides: list[str],
                 seeds: str | None = None):
    """The one line after Ctrl-C or SIGTERM: how to go on, with the real config path and
    overrides."""
    import shlex

    from seqlab.training.rundir import has_content

    sets = "".join(f" --set {shlex.quote(o)}" for o in overrides)
    if seeds is not None:
        sets += f" --seeds {shlex.quote(seeds)}"
    command = f"seqlab train {shlex.quote(str(config))} --output {shlex.quote(str(output))}{sets}"
    if seeds is not None or exc.epoch:
        line = f"{exc}; continue with: {command} --resume"
    else:
        line = f"{exc}: nothing to resume yet; start again with: {command}" + (
            " --force" if has_content(output) else "")
    stopped = Interrupted(exc.epoch, output, line)
    stopped.terminated = getattr(exc, "terminated", False)
    return stopped


def _stopped(exc: Interrupted):
    """Raise the end of an interrupted run: Ctrl-C exits 130 (by ``user_errors``), SIGTERM
    143 (128 + 15, as a process the signal killed), each after its one line."""
    if getattr(exc, "terminated", False):
        err.print(f"[yellow]{escape(str(exc))}[/]")
        raise typer.Exit(143)
    raise exc


@app.command()
@user_errors()
def reproduce(
    run_dir: Annotated[Path, typer.Argument(help="A directory written by `seqlab train`.")],
) -> None:
    """Retrain a run from its config.yaml and check that weights and metrics are identical."""
    load_tensorflow()
    from seqlab.training import reproduce as check

    differences = check(run_dir, console=err)
    if differences:
        for line in differences:
            typer.echo(f"differs: {line}")
        raise typer.Exit(1)
    typer.echo("identical")


@app.command()
@user_errors()
def predict(
    model: Annotated[Path, typer.Argument(help="A model.keras written by `seqlab train`.")],
    input: Annotated[str, typer.Argument(help="Input file, or - for stdin (streamed).")],
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write here instead of stdout.")] = None,
    input_format: Annotated[str | None, typer.Option(
        "--input-format", "-i",
        help="text (one sentence a line), conll (columns; every column kept, the tag "
             "appended), conllu, jsonl ({\"tokens\": [...]}, other keys kept), or document "
             "(running text, a blank line ends a document; split by spaCy, spans given by "
             "character offsets). Default: from "
             "the extension (.conll, .conllu, .jsonl; anything else and stdin: text). conll and "
             "conllu are read as the model's training files were (columns, encoding).")] = None,
    format: Annotated[str | None, typer.Option(
        "--format", "-f", help="conll, jsonl, conllu, or html (a page with the spans "
                               "highlighted) (default: conllu for CoNLL-U input, jsonl for "
                               "JSON-lines and document input, else conll).")] = None,
    tokenizer: Annotated[str, typer.Option(
        help="Text input: whitespace, or simple (also splits punctuation off words).")
    ] = "whitespace",
    token_column: Annotated[int | None, typer.Option(
        help="CoNLL input: the token column (negative counts from the end; default: the "
             "model's).")] = None,
    label_field: Annotated[str | None, typer.Option(
        help="CoNLL-U output: the field the tags go into (upos, xpos, ... or a MISC key "
             "such as misc:NER; default: the one the model was trained on).")] = None,
    encoding: Annotated[str | None, typer.Option(
        help="The input's encoding when it has no byte-order mark (default: the model's for "
             "conll and conllu input, else utf-8). Output is UTF-8.")] = None,
    probs: Annotated[bool, typer.Option(
        "--probs", help="JSON lines: add the probability of each chosen tag.")] = False,
    nbest: Annotated[int | None, typer.Option(
        "--nbest", help="JSON lines: add the K most probable tag sequences of each sentence "
                        "with their probabilities (\"nbest\").")] = None,
    min_score: Annotated[float | None, typer.Option(
        "--min-score", help="Keep only the spans the model is at least this sure of (0 to 1; "
                            "the tokens of the others are tagged O).")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help=(
        "Sentences per batch, at most (sorted by length; a batch also ends before a "
        "sentence over 1.5 times as long as its first)."))] = 64,
    max_length: Annotated[int | None, typer.Option(
        min=0, help="Tag longer sentences in overlapping windows of this many tokens (default: "
                    "4096 for models with global attention, no limit for local attention; "
                    "0: never split).")] = None,
    precision: Annotated[str, typer.Option(
        help="What the network computes in: float32, bfloat16 (its products in bfloat16; "
             "softmax, CRF and masks in float32; fast on CPUs with AMX or AVX512-BF16), or "
             "auto (bfloat16 where the CPU has such units).")] = "float32",
    force: Annotated[bool, typer.Option(
        "--force", help="Overwrite an existing --output file.")] = False,
) -> None:
    """Tag text, CoNLL, CoNLL-U, JSON lines or documents of running text; `-` streams stdin
    to stdout batch by batch."""
    from seqlab.paths import check_output_file, writing
    from seqlab.predict import PredictOptions

    options = PredictOptions(
        input=input, input_format=input_format, output_format=format, tokenizer=tokenizer,
        probs=probs, nbest=nbest, min_score=min_score, label_field=label_field,
        encoding=encoding, token_column=token_column, max_length=max_length,
        batch_size=batch_size, precision=precision, names=_PREDICT_FLAGS).checked()
    _existing(model, "model file")
    if output is not None:
        check_output_file(output, force)

    load_tensorflow()
    from seqlab.predict import load_tagger, predict_input

    tagger = load_tagger(model, options, warn=lambda message: err.print(
        f"[yellow]warning:[/] {escape(message)}"))
    # The TensorFlow and Keras objects loaded so far live as long as this process: keep the
    # cyclic collector from walking them again and again while the input is tagged.
    gc.freeze()
    if output is None:
        count = predict_input(tagger, options, sys.stdout)
    else:
        with writing(output) as out:  # the old file stays unless there is something to write
            count = predict_input(tagger, options, out)
    if not count:
        err.print("[yellow]warning:[/] the input held no sentence")
    elif output is not None:
        err.print(f"tagged {count} {'sentence' if count == 1 else 'sentences'} into {output}")


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so nothing more (nor the flush at exit) fails on a pipe
    whose reader has gone."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):
        pass


@app.command()
@user_errors()
def evaluate(
    model: Annotated[Path | None, typer.Argument(help="A model.keras.")] = None,
    data: Annotated[Path | None, typer.Argument(
        help="Gold corpus, read as the model's training files were (format, columns, "
             "encoding) unless the options below say otherwise.")] = None,
    predictions: Annotated[Path | None, typer.Option(
        "--predictions", "-p",
        help="Score a conlleval file instead (last two columns: gold, predicted).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the scores as JSON.")] = False,
    conlleval: Annotated[bool, typer.Option(
        "--conlleval", help="Print conlleval's report, exactly as conlleval.pl does.")] = False,
    confusion: Annotated[bool, typer.Option(
        "--confusion", help="Also the token-label confusion matrix.")] = False,
    errors: Annotated[Path | None, typer.Option(
        "--errors", help="Write every wrong span with its sentence here (.jsonl: JSON "
                         "lines).")] = None,
    compare_with: Annotated[Path | None, typer.Option(
        "--compare", help="A second predictions file (same sentences and gold): report both "
                          "systems and the significance of the difference.")] = None,
    rounds: Annotated[int, typer.Option(min=1, help="--compare: shuffles of the approximate "
                                                    "randomisation test.")] = 10000,
    seed: Annotated[int, typer.Option(help="--compare: seed of the test.")] = 0,
    input_format: Annotated[str | None, typer.Option(
        "--format", help="DATA: conll or conllu (default: as its name says, else the "
                         "model's).")] = None,
    token_column: Annotated[int | None, typer.Option(
        help="DATA: token column (default: the model's).")] = None,
    label_column: Annotated[int | None, typer.Option(
        help="DATA: gold label column (default: the model's).")] = None,
    label_field: Annotated[str | None, typer.Option(
        help="CoNLL-U DATA: gold label field (default: the model's).")] = None,
    encoding: Annotated[str | None, typer.Option(
        help="DATA or --predictions: encoding without a byte-order mark (default: the "
             "model's; utf-8 for --predictions).")] = None,
    batch_size: Annotated[int, typer.Option(min=1)] = 64,
    precision: Annotated[str, typer.Option(
        help="What the network computes in: float32, bfloat16 (its products in bfloat16; "
             "softmax, CRF and masks in float32; fast on CPUs with AMX or AVX512-BF16), or "
             "auto (bfloat16 where the CPU has such units).")] = "float32",
    force: Annotated[bool, typer.Option(
        "--force", help="Overwrite an existing --errors file.")] = False,
) -> None:
    """Score a model on gold data, or a predictions file, by the conlleval rules."""
    from seqlab.evaluation import EvaluateOptions
    from seqlab.metrics import conlleval_text

    options = EvaluateOptions(
        model=model, data=data, predictions=predictions, input_format=input_format,
        token_column=token_column, label_column=label_column, label_field=label_field,
        encoding=encoding, batch_size=batch_size, conlleval=conlleval, confusion=confusion,
        errors=errors, force=force, compare_with=compare_with, rounds=rounds, seed=seed,
        precision=precision, names=_EVALUATE_FLAGS).checked()
    if options.needs_model:
        load_tensorflow()
    from seqlab.evaluation import evaluate as run_evaluation

    evaluation = run_evaluation(options)
    result = evaluation.result
    if conlleval:
        typer.echo(conlleval_text(result), nl=False)
    if as_json:
        typer.echo(json.dumps(evaluation.to_json(), indent=2))
    if not as_json and not conlleval:
        from seqlab.render.tables import render_result

        results.print(render_result(result, title=evaluation.title))
        if evaluation.chunked:
            results.print(f"F1 {result['f1']:.2f} (precision {result['precision']:.2f}, recall "
                          f"{result['recall']:.2f}), token accuracy {result['accuracy']:.2f}")
            if (c := result.get("calibration")) and c["spans"]:
                results.print(f"span scores: expected calibration error {c['ece']:.4f} (mean "
                              f"score {c['confidence']:.4f}, right {c['accuracy']:.4f} of "
                              f"{c['spans']:,} spans) at temperature {c['temperature']:g}"
                              + (f", {c['uncalibrated']['ece']:.4f} at 1"
                                 if c["temperature"] != 1 else ""))
        else:
            results.print(f"accuracy {result['accuracy']:.2f}")
    if evaluation.confusion is not None and not as_json:
        from seqlab.render.tables import render_confusion

        results.print(render_confusion(*evaluation.confusion))
    if evaluation.comparison is not None and not as_json:
        from seqlab.render.tables import render_comparison

        results.print(render_comparison(evaluation.comparison, evaluation.systems))
    if errors is not None:
        err.print(f"wrote {evaluation.wrong} wrong {'spans' if evaluation.chunked else 'tags'} "
                  f"to {errors}")


@app.command()
@user_errors()
def select(
    model: Annotated[Path, typer.Argument(help="A model.keras written by `seqlab train`.")],
    pool: Annotated[str, typer.Argument(help="Unlabelled sentences (a file, or - for stdin), "
                                             "in any format `predict` reads.")],
    n: Annotated[int, typer.Option("--n", help="How many sentences to choose.")] = 200,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write the chosen sentences here (and their scores beside it, "
                               "NAME.scores.json); default: stdout.")] = None,
    strategy: Annotated[str, typer.Option(
        help="expected_errors (the expected number of wrongly tagged tokens), "
             "least_confident (the best reading's probability, normalised for length) or "
             "margin (the two best readings' probabilities close).")] = "expected_errors",
    input_format: Annotated[str | None, typer.Option(
        "--input-format", "-i", help="text, conll, conllu or jsonl (default: as `predict`).")
    ] = None,
    format: Annotated[str, typer.Option(
        "--format", "-f", help="conll (the model's tags as a last column, to correct) or "
                               "jsonl.")] = "conll",
    tokenizer: Annotated[str, typer.Option(help="Text input: whitespace or simple.")
                         ] = "whitespace",
    encoding: Annotated[str | None, typer.Option(help="The pool's encoding without a "
                                                      "byte-order mark.")] = None,
    batch_size: Annotated[int, typer.Option(min=1)] = 64,
    force: Annotated[bool, typer.Option("--force", help="Overwrite --output.")] = False,
) -> None:
    """Choose the sentences of POOL the model is least sure of, for a person to annotate next:
    written most uncertain first, with the model's tags filled in to correct."""
    from seqlab.paths import check_output_file, writing
    from seqlab.predict import PredictOptions
    from seqlab.selection import check_output_format, check_pool_format, check_selection

    names = dict(_PREDICT_FLAGS, n="--n", strategy="--strategy")
    check_selection(n, strategy, names)
    check_output_format(format, names)
    options = PredictOptions(input=pool, input_format=input_format, output_format="jsonl",
                             tokenizer=tokenizer, encoding=encoding, batch_size=batch_size,
                             names=names).checked()
    check_pool_format(options.input_format, names)
    _existing(model, "model file")
    scores = None
    if output is not None:
        check_output_file(output, force)
        scores = output.with_name(output.name.rsplit(".", 1)[0] + ".scores.json")
        check_output_file(scores, force)

    load_tensorflow()
    from seqlab.predict import load_tagger
    from seqlab.selection import select_input, write_selection

    tagger = load_tagger(model, options)
    chosen, seen = select_input(tagger, options, n, strategy)
    if not seen:
        raise SeqlabError(f"{pool}: the pool holds no sentence to choose from")
    if output is None:
        write_selection(chosen, sys.stdout, format, options.input_format)
    else:
        with writing(output) as out:
            write_selection(chosen, out, format, options.input_format)
        with writing(scores) as out:
            json.dump({"strategy": strategy, "ranked": seen,
                       "chosen": [c.to_dict() for c in chosen]}, out, indent=1)
    top = chosen[0].score if chosen else 0.0
    err.print(f"ranked {seen:,} sentences by {strategy}; chose {len(chosen):,} (scores "
              f"{top:.3f} down to {chosen[-1].score:.3f})"
              + (f"; wrote {output} and {scores}" if output is not None else ""))


@app.command()
@user_errors()
def attention(
    model: Annotated[Path, typer.Argument(help="A model.keras written by `seqlab train`.")],
    sentence: Annotated[str, typer.Argument(help="The sentence to look at, in quotes.")],
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write the heatmap here (PNG).")] = None,
    format: Annotated[str | None, typer.Option(
        "--format", "-f", help="png or terminal (default: png with --output, else "
                               "terminal).")] = None,
    tokenizer: Annotated[str, typer.Option(
        help="whitespace, or simple (also splits punctuation off words).")] = "whitespace",
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print tokens, tags and weights as JSON.")] = False,
    head: Annotated[int, typer.Option(
        min=0, help="Which head, for a model with several (model.attention.heads).")] = 0,
    force: Annotated[bool, typer.Option(
        "--force", help="Overwrite an existing --output file.")] = False,
) -> None:
    """Show the attention weights of a model for one sentence, with the predicted tags."""
    from seqlab.attention_view import check_sentence
    from seqlab.formats import check_tokenizer, tokenize
    from seqlab.paths import check_output_file, writing

    check_tokenizer(tokenizer)
    format = format or ("png" if output is not None else "terminal")
    if format not in ("png", "terminal"):
        raise SeqlabError(f"--format {format!r}: expected png or terminal")
    if format == "png":
        if output is None:
            raise SeqlabError("--format png needs --output FILE.png")
        check_output_file(output, force)
    tokens = tokenize(sentence, tokenizer)
    check_sentence(tokens)
    _existing(model, "model file")

    load_tensorflow()
    from seqlab.attention_view import attention_view, render_png, render_terminal
    from seqlab.tagger import Tagger

    view = attention_view(Tagger.load(model), tokens, head)
    if as_json:
        typer.echo(json.dumps({"tokens": view.tokens, "tags": view.tags,
                               "attention_width": view.width,
                               "history_only": view.history_only,
                               "weights": view.weight_rows()}))
    if format == "png":
        with writing(output, "wb") as out:
            width, height = render_png(view, out)
        err.print(f"wrote {output} ({width}x{height} pixels)")
    elif not as_json:
        results.print(render_terminal(view))


@app.command()
@user_errors()
def export(
    model: Annotated[Path, typer.Argument(help="A model.keras written by `seqlab train`.")],
    out: Annotated[Path, typer.Argument(help="The directory to write.")],
    format: Annotated[str, typer.Option(
        "--format", "-f", help="saved_model: a TensorFlow SavedModel, string tokens in and tag "
                               "strings out, for TensorFlow Serving or tf.saved_model.load "
                               "without seqlab.")] = "saved_model",
    force: Annotated[bool, typer.Option(
        "--force", help="Replace an existing SavedModel at OUT.")] = False,
) -> None:
    """Export a model for serving without seqlab (vocabulary lookup and decoding included)."""
    from seqlab.export import FORMATS

    if format not in FORMATS:
        raise SeqlabError(f"--format {format!r}: expected one of {', '.join(FORMATS)}")
    _existing(model, "model file")
    if out.exists() and not force:
        raise SeqlabError(f"{out}: already exists (use --force to replace it)")

    load_tensorflow()
    from seqlab.export import export_saved_model

    info = export_saved_model(model, out, force=force)
    err.print(f"wrote {out}: serving_default takes tokens (batch, time) strings and lengths "
              f"(batch,) int32, gives tags in {info['scheme']}")


@app.command()
@user_errors()
def report(
    run_dir: Annotated[Path, typer.Argument(help="A directory written by `seqlab train` "
                                                 "(or by --seeds).")],
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="The HTML file (default: RUN_DIR/report.html).")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Overwrite an existing report.")] = False,
) -> None:
    """Write one self-contained HTML page of a finished run: scores, curves, errors, attention."""
    from seqlab.render.run_page import write_report

    written = write_report(run_dir, output, force)
    err.print(f"wrote {written}")


@data_app.command("stats")
@user_errors()
def data_stats(
    files: Annotated[list[Path], typer.Argument(help="Corpus files; OOV is measured against "
                                                     "the first.")],
    format: Annotated[str | None, typer.Option(
        help="conll or conllu (default: by extension, else by content).")] = None,
    token_column: Annotated[int, typer.Option()] = 0,
    label_column: Annotated[str, typer.Option(help="Index (CoNLL) or field name "
                                                   "(CoNLL-U).")] = "-1",
    encoding: Annotated[str, typer.Option(
        help="Encoding of files without a byte-order mark.")] = "utf-8",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Sentences, tokens, labels, entities, lengths, OOV and scheme problems of corpus files."""
    from seqlab.corpus import corpus_stats, render_stats
    from seqlab.formats import CORPUS_FORMATS

    if format is not None and format not in CORPUS_FORMATS:
        raise SeqlabError(f"--format {format!r}: expected one of {', '.join(CORPUS_FORMATS)}")
    for path in files:
        _existing(path, "corpus file")
    stats = corpus_stats([str(p) for p in files], format=format, token_column=token_column,
                         label_column=label_column, encoding=encoding)
    if as_json:
        typer.echo(json.dumps(stats, indent=2))
    else:
        results.print(render_stats(stats))


@data_app.command("convert")
@user_errors(dict(_FLAG_HINTS, force="(use --force to overwrite it)"))
def data_convert(
    src: Annotated[Path, typer.Argument(help="Input CoNLL file.")],
    dst: Annotated[Path, typer.Argument(help="Output file.")],
    to: Annotated[str, typer.Option("--to", help="iob1, iob2, iobes or bilou.")],
    source: Annotated[str | None, typer.Option("--from", help="Scheme of SRC (default: "
                                                               "detected).")] = None,
    token_column: Annotated[int, typer.Option()] = 0,
    label_column: Annotated[int, typer.Option()] = -1,
    encoding: Annotated[str, typer.Option(
        help="Encoding of SRC without a byte-order mark (DST is UTF-8).")] = "utf-8",
    force: Annotated[bool, typer.Option("--force", help="Overwrite DST.")] = False,
) -> None:
    """Rewrite the label column of a CoNLL file in another tag scheme."""
    from seqlab.corpus import convert_file
    from seqlab.schemes import normalize_scheme

    for flag, value in (("--to", to), ("--from", source)):
        if value is not None:
            try:
                normalize_scheme(value)
            except ValueError as exc:
                raise SeqlabError(f"{flag} {value!r}: {exc}") from None
    _existing(src, "input file")
    count = convert_file(str(src), str(dst), to, source=source, token_column=token_column,
                         label_column=label_column, encoding=encoding, force=force)
    err.print(f"wrote {count} {'sentence' if count == 1 else 'sentences'} to {dst}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
