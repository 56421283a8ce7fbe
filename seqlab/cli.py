"""The `seqlab` command line: parse arguments, call the library, print.

TensorFlow is imported inside the commands that need it, so `seqlab --help` stays instant.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from seqlab.errors import SeqlabError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  pretty_exceptions_show_locals=False,
                  help="Train, apply and score sequence taggers (NER, POS, chunking).")
data_app = typer.Typer(no_args_is_help=True, help="Inspect and convert corpora.")
app.add_typer(data_app, name="data")

err = Console(stderr=True, soft_wrap=True, highlight=False)


def user_errors(command):
    """Turn SeqlabError into one red line on stderr and exit status 2; Ctrl-C into one line."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except SeqlabError as exc:
            err.print(f"[red]error:[/] {escape(str(exc))}")
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err.print("[yellow]interrupted[/]")
            raise typer.Exit(130) from None

    return wrapper


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
    if not path.exists():
        raise SeqlabError(f"{path}: {what} not found")
    return path


@app.command()
@user_errors
def train(
    config: Annotated[Path, typer.Argument(help="YAML config file.")],
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="Run directory (default: runs/CONFIG_NAME).")] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing run directory.")] = False,
    overrides: Annotated[Optional[list[str]], typer.Option(
        "--set", help="Override a config value: --set model.lstm.units=64 (repeatable).")] = None,
) -> None:
    """Train a tagger from a YAML config and save DIR/model.keras."""
    from seqlab.config import load_config
    from seqlab.train import prepare_output

    cfg = load_config(config, overrides or [])
    output = output or Path("runs") / config.stem
    prepare_output(output, force)  # fail before the slow imports

    load_tensorflow()
    from seqlab.train import train as run_training

    run = run_training(cfg, output, force=force, console=err)
    err.print(f"saved {output / 'model.keras'} (best epoch {run.best_epoch})")
    for split in ("dev", "test"):
        if split in run.metrics:
            result = run.metrics[split]
            key = "f1" if result.get("task") == "chunk" else "accuracy"
            err.print(f"{split} {key}: {result[key]:.2f}")


@app.command()
@user_errors
def reproduce(
    run_dir: Annotated[Path, typer.Argument(help="A directory written by `seqlab train`.")],
) -> None:
    """Retrain a run from its config.yaml and check that weights and metrics are identical."""
    load_tensorflow()
    from seqlab.train import reproduce as check

    differences = check(run_dir, console=err)
    if differences:
        for line in differences:
            typer.echo(f"differs: {line}")
        raise typer.Exit(1)
    typer.echo("identical")


@app.command()
@user_errors
def predict(
    model: Annotated[Path, typer.Argument(help="A model.keras written by `seqlab train`.")],
    input: Annotated[str, typer.Argument(help="Text file, one sentence per line, or - for stdin.")],
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="Write here instead of stdout.")] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="conll or jsonl.")] = "conll",
    batch_size: Annotated[int, typer.Option(min=1, help="Sentences per batch.")] = 64,
    force: Annotated[bool, typer.Option(help="Overwrite an existing --output file.")] = False,
) -> None:
    """Tag raw text (whitespace-tokenised, one sentence per line)."""
    from seqlab.predict import WRITERS

    if format not in WRITERS:
        raise SeqlabError(f"--format {format!r}: expected one of {', '.join(WRITERS)}")
    _existing(model, "model file")
    if input != "-":
        _existing(Path(input), "input file")
    if output is not None and output.exists() and not force:
        raise SeqlabError(f"{output}: already exists (use --force to overwrite it)")

    load_tensorflow()
    from seqlab.predict import Tagger, predict_file

    tagger = Tagger.load(model)
    source = sys.stdin if input == "-" else open(input, encoding="utf-8-sig")
    chunk = batch_size if input == "-" else 2048  # a pipe gets answers batch by batch
    try:
        if output is None:
            predict_file(tagger, source, sys.stdout, format, batch_size, input, chunk)
        else:
            tmp = output.with_name(output.name + ".tmp")
            with open(tmp, "w", encoding="utf-8") as out:
                count = predict_file(tagger, source, out, format, batch_size, input, chunk)
            tmp.replace(output)
            err.print(f"tagged {count} sentences into {output}")
    finally:
        if source is not sys.stdin:
            source.close()


@app.command()
@user_errors
def evaluate(
    model: Annotated[Optional[Path], typer.Argument(help="A model.keras.")] = None,
    data: Annotated[Optional[Path], typer.Argument(help="CoNLL file with gold labels.")] = None,
    predictions: Annotated[Optional[Path], typer.Option(
        "--predictions", "-p",
        help="Score a conlleval file instead (last two columns: gold, predicted).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the scores as JSON.")] = False,
    batch_size: Annotated[int, typer.Option(min=1)] = 64,
) -> None:
    """Score a model on gold data, or score a predictions file, by the conlleval rules."""
    from seqlab.metrics import evaluate as score, read_predictions

    if predictions is not None:
        if model is not None:
            raise SeqlabError("give either MODEL DATA or --predictions FILE, not both")
        _existing(predictions, "predictions file")
        _, gold, pred = read_predictions(predictions)
        result = score(gold, pred)
    else:
        if model is None or data is None:
            raise SeqlabError("expected MODEL DATA (a model.keras and a CoNLL file with gold "
                              "labels) or --predictions FILE")
        _existing(model, "model file")
        _existing(data, "data file")
        load_tensorflow()
        from seqlab.predict import Tagger, evaluate_file

        result = evaluate_file(Tagger.load(model), data, batch_size)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    else:
        from seqlab.report import render_result

        err.print(render_result(result, title=str(data or predictions)))


@data_app.command("stats")
@user_errors
def data_stats(
    files: Annotated[list[Path], typer.Argument(help="Corpus files; OOV is measured against "
                                                     "the first.")],
    format: Annotated[Optional[str], typer.Option(help="conll or conllu (default: by "
                                                       "extension).")] = None,
    token_column: Annotated[int, typer.Option()] = 0,
    label_column: Annotated[str, typer.Option(help="Index (CoNLL) or field name "
                                                   "(CoNLL-U).")] = "-1",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Sentences, tokens, labels, entities, lengths, OOV and scheme problems of corpus files."""
    from seqlab.corpus import corpus_stats, render_stats

    for path in files:
        _existing(path, "corpus file")
    column, field = _label_column(label_column)
    stats = corpus_stats([str(p) for p in files], format=format, token_column=token_column,
                         label_column=column, label_field=field)
    if as_json:
        typer.echo(json.dumps(stats, indent=2))
    else:
        err.print(render_stats(stats))


@data_app.command("convert")
@user_errors
def data_convert(
    src: Annotated[Path, typer.Argument(help="Input CoNLL file.")],
    dst: Annotated[Path, typer.Argument(help="Output file.")],
    to: Annotated[str, typer.Option("--to", help="iob1, iob2, iobes or bilou.")],
    source: Annotated[Optional[str], typer.Option("--from", help="Scheme of SRC (default: "
                                                               "detected).")] = None,
    token_column: Annotated[int, typer.Option()] = 0,
    label_column: Annotated[int, typer.Option()] = -1,
    force: Annotated[bool, typer.Option(help="Overwrite DST.")] = False,
) -> None:
    """Rewrite the label column of a CoNLL file in another tag scheme."""
    from seqlab.corpus import convert_file

    _existing(src, "input file")
    count = convert_file(str(src), str(dst), to, source=source, token_column=token_column,
                         label_column=label_column, force=force)
    err.print(f"wrote {count} sentences to {dst}")


def _label_column(text: str) -> tuple[int, str]:
    try:
        return int(text), "upos"
    except ValueError:
        return -1, text


def main() -> None:
    app()


if __name__ == "__main__":
    main()
