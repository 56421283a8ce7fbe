"""Training and prediction throughput of seqlab against the hand-written baseline (issue 8).

The model of keras-self-attention's README (Embedding 100, mask_zero → Bidirectional LSTM 128
→ SeqSelfAttention(attention_activation='sigmoid') → Dense softmax) trained on CoNLL-2003
train for the same number of epochs two ways:

(a) the hand-written way the README leads to, with keras-self-attention 0.51 itself (it must
    be installed in the benchmark's environment; it is never a seqlab dependency): every
    sentence padded to the corpus's longest sentence, NumPy arrays into ``model.fit``,
    batch 32, Adam 0.001, sparse cross-entropy (the mask keeps padding out of the loss);
(b) ``seqlab train bench/bench_readme_model.yaml``, the same model in seqlab's terms.

Training tokens per second count real tokens (not padding). For (a) the clock runs around
``model.fit``; for (b) the training loop is the ``elapsed_seconds`` column of history.csv (the epoch
loop, tf.data included) and the whole command is timed as well. Prediction: (a)
``model.predict`` on the padded test arrays (batch 32) against (b) tagging test.txt file to
file as ``seqlab predict`` does (in-process after a warm-up, and the command, start-up and
model loading included). Whole processes are compared too, file to file: (a)'s whole
prediction script against the ``seqlab predict`` command, on the test file and on the test
file repeated ``--scale`` times, where the command's start-up (importing TensorFlow, loading
the model, tracing) is paid once for more tokens. Test F1 of both by
``seqlab.metrics.evaluate`` (conlleval rules).

Each configuration runs in its own process. Warm-up: (a)'s process first fits a throwaway
copy of the model on 64 sentences (runtime, thread pools); (b)'s command runs once on 64
sentences before the timed run. Training runs once per configuration (repeats are too slow
here); prediction is repeated and the median quoted with min and max.

    python bench/train.py            # full: CoNLL-2003 train, 1 epoch; full test set
    python bench/train.py --quick    # 500 train and 300 test sentences, in process only
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common

DATA = common.ROOT.parent / "shared" / "data" / "conll2003"
CONFIG = common.ROOT / "bench" / "bench_readme_model.yaml"
SEED = 13
BATCH = 32
TARGET_TRAIN = 3.0
TARGET_PREDICT = 3.0
QUICK_TRAIN, QUICK_TEST = 500, 300  # sentences


# ------------------------------------------------------------------ (a) the README baseline
def _readme_model(n_words, n_tags):
    from keras_self_attention import SeqSelfAttention
    from tensorflow import keras

    model = keras.models.Sequential([
        keras.Input(shape=(None,), dtype="int32"),
        keras.layers.Embedding(input_dim=n_words, output_dim=100, mask_zero=True),
        keras.layers.Bidirectional(keras.layers.LSTM(units=128, return_sequences=True)),
        SeqSelfAttention(attention_activation="sigmoid"),
        keras.layers.Dense(units=n_tags, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.001),
                  loss="sparse_categorical_crossentropy")
    return model


def _pad(sentences, word_index, tag_index=None, maxlen=None):
    import numpy as np

    maxlen = maxlen or max(len(s.tokens) for s in sentences)
    x = np.zeros((len(sentences), maxlen), dtype="int32")
    y = np.zeros((len(sentences), maxlen), dtype="int32")
    for i, s in enumerate(sentences):
        x[i, :len(s.tokens)] = [word_index.get(w, 1) for w in s.tokens]
        if tag_index is not None:
            y[i, :len(s.labels)] = [tag_index[t] for t in s.labels]
    return x, y


def child_baseline_train(spec):
    t_start = time.perf_counter()
    from tensorflow import keras

    from seqlab.formats import read_corpus

    train = read_corpus(spec["train"])
    words = sorted({w for s in train for w in s.tokens})
    word_index = {w: i + 2 for i, w in enumerate(words)}  # 0: padding, 1: unknown
    tags = sorted({t for s in train for t in s.labels})
    tag_index = {t: i for i, t in enumerate(tags)}
    x, y = _pad(train, word_index, tag_index)
    tokens = sum(len(s.tokens) for s in train)

    keras.utils.set_random_seed(SEED)
    t0 = time.perf_counter()
    warm = _readme_model(len(words) + 2, len(tags))
    warm.fit(x[:64], y[:64], batch_size=BATCH, epochs=1, verbose=0)
    warmup_s = time.perf_counter() - t0
    del warm

    keras.utils.set_random_seed(SEED)
    model = _readme_model(len(words) + 2, len(tags))
    t0 = time.perf_counter()
    history = model.fit(x, y, batch_size=BATCH, epochs=spec["epochs"], verbose=0)
    fit_s = time.perf_counter() - t0
    process_s = time.perf_counter() - t_start - warmup_s
    model.save_weights(spec["weights"])
    Path(spec["vocab"]).write_text(json.dumps({"words": words, "tags": tags}))
    common.emit({"fit_s": fit_s, "process_s": process_s, "warmup_s": warmup_s,
                 "sentences": len(train), "tokens": tokens, "padded_tokens": int(x.size),
                 "maxlen": int(x.shape[1]), "loss": float(history.history["loss"][-1]),
                 "peak_rss_mb": common.peak_rss_mb()})


def child_baseline_predict(spec):
    import numpy as np

    from seqlab.formats import read_corpus
    from seqlab.metrics import evaluate

    vocab = json.loads(Path(spec["vocab"]).read_text())
    word_index = {w: i + 2 for i, w in enumerate(vocab["words"])}
    tags = vocab["tags"]
    model = _readme_model(len(word_index) + 2, len(tags))
    model.load_weights(spec["weights"])
    test = read_corpus(spec["test"])
    x, _ = _pad(test, word_index)
    out = {}

    def run():
        out["probs"] = model.predict(x, batch_size=BATCH, verbose=0)

    t0 = time.perf_counter()
    run()
    warmup_s = time.perf_counter() - t0
    times = common.time_repeats(run, spec["repeats"])
    best = np.argmax(out["probs"], axis=-1)
    pred = [[tags[j] for j in best[i, :len(s.tokens)]] for i, s in enumerate(test)]
    scores = evaluate([s.labels for s in test], pred)
    common.emit({"time": common.summarize(times), "warmup_s": warmup_s,
                 "sentences": len(test), "tokens": sum(len(s.tokens) for s in test),
                 "padded_tokens": int(x.size), "f1": scores["f1"],
                 "accuracy": scores["accuracy"], "peak_rss_mb": common.peak_rss_mb()})


def child_baseline_script(spec):
    """(a)'s whole prediction script, as a user runs it: imports, model, weights, read, pad,
    model.predict, write the tags. The parent times the process from start to exit."""
    t0 = time.perf_counter()
    import keras_self_attention  # noqa: F401
    import numpy as np
    from tensorflow import keras  # noqa: F401

    from seqlab.formats import read_corpus

    t_import = time.perf_counter()
    vocab = json.loads(Path(spec["vocab"]).read_text())
    word_index = {w: i + 2 for i, w in enumerate(vocab["words"])}
    tags = vocab["tags"]
    model = _readme_model(len(word_index) + 2, len(tags))
    model.load_weights(spec["weights"])
    t_load = time.perf_counter()
    test = read_corpus(spec["test"])
    x, _ = _pad(test, word_index)
    best = np.argmax(model.predict(x, batch_size=BATCH, verbose=0), axis=-1)
    with open(spec["out"], "w", encoding="utf-8") as out:
        for i, s in enumerate(test):
            out.writelines(f"{w} {tags[j]}\n" for w, j in zip(s.tokens, best[i]))
            out.write("\n")
    t_end = time.perf_counter()
    common.emit({"import_s": t_import - t0, "load_s": t_load - t_import,
                 "predict_s": t_end - t_load, "tokens": sum(len(s.tokens) for s in test)})


# ------------------------------------------------------------------ (b) seqlab, in process
def child_seqlab_predict(spec):
    import seqlab  # noqa: F401
    from seqlab.formats import Reading, read_corpus
    from seqlab.metrics import evaluate
    from seqlab.predict import predict_file
    from seqlab.tagger import Tagger

    tagger = Tagger.load(spec["model"])
    test = spec["test"]
    out_path = Path(spec["out"])

    def run():
        with open(out_path, "w", encoding="utf-8") as out:
            predict_file(tagger, test, out, "conll", Reading(format="conll"),
                         batch_size=spec["batch_size"])

    t0 = time.perf_counter()
    run()
    warmup_s = time.perf_counter() - t0
    times = common.time_repeats(run, spec["repeats"])
    sentences = read_corpus(test)
    scores = evaluate([s.labels for s in sentences],
                      tagger.tag([s.tokens for s in sentences], spec["batch_size"]))
    common.emit({"time": common.summarize(times), "warmup_s": warmup_s,
                 "sentences": len(sentences), "tokens": sum(len(s) for s in sentences),
                 "f1": scores["f1"], "accuracy": scores["accuracy"],
                 "peak_rss_mb": common.peak_rss_mb()})


CHILDREN = {"baseline-train": child_baseline_train, "baseline-predict": child_baseline_predict,
            "baseline-script": child_baseline_script, "seqlab-predict": child_seqlab_predict}


# ------------------------------------------------------------------ (b) seqlab, commands
def seqlab_train(train_path, out_dir, epochs):
    cmd = [common.venv_script("seqlab"), "train", CONFIG, "--output", out_dir, "--force",
           "--set", f"data.train={train_path}", "--set", "data.test=null",
           "--set", f"training.epochs={epochs}"]
    res = common.time_command(cmd)
    if res["returncode"] != 0:
        raise SystemExit(f"seqlab train failed: {res['tail']}")
    from seqlab.training.rundir import RunDir

    rows = RunDir(out_dir).read_history()
    res["loop_s"] = rows[-1]["elapsed_seconds"]
    res["loss"] = rows[-1]["loss"]
    return res


def seqlab_predict_command(model, test, out):
    cmd = [common.venv_script("seqlab"), "predict", model, test, "--input-format", "conll",
           "--output", out, "--force"]
    res = common.time_command(cmd)
    if res["returncode"] != 0:
        raise SystemExit(f"seqlab predict failed: {res['tail']}")
    return res["wall_s"]


# ------------------------------------------------------------------ parent
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"first {QUICK_TRAIN} train and {QUICK_TEST} test sentences, "
                             "no warm-up run of seqlab train, no predict commands, fewer repeats")
    parser.add_argument("--epochs", type=int, default=1, help="epochs of both trainings")
    parser.add_argument("--repeats", type=int, help="timed prediction runs")
    parser.add_argument("--scale", type=int,
                        help="also tag the test file repeated this many times, whole "
                             "processes (default 10; --quick skips the whole-process runs)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        spec = json.loads(args.child)
        CHILDREN[spec["role"]](spec)
        return 0
    try:
        import keras_self_attention  # noqa: F401
    except ImportError:
        print("bench/train.py needs keras-self-attention 0.51 for its baseline: "
              "pip install 'keras-self-attention==0.51.0' (or make install: the test extra)",
              file=sys.stderr)
        return 2

    repeats = args.repeats or (2 if args.quick else 5)
    cmd_repeats = 3
    args.scale = args.scale or (1 if args.quick else 10)
    machine, vers = common.machine_info(), common.versions(
        ("tensorflow", "keras", "numpy", "seqlab", "keras-self-attention"))
    common.log(common.describe_environment(machine, vers))
    load_before = common.load_status()
    common.log(load_before)
    script = Path(__file__).resolve()

    with tempfile.TemporaryDirectory(prefix="seqlab-bench-train-") as tmp:
        tmp = Path(tmp)
        train_path, test_path = DATA / "train.txt", DATA / "test.txt"
        if args.quick:
            train_path = common.first_sentences(train_path, QUICK_TRAIN, tmp / "train.txt")
            test_path = common.first_sentences(test_path, QUICK_TEST, tmp / "test.txt")
        warm_path = common.first_sentences(train_path, 64, tmp / "warm.txt")

        common.log(f"(a) README baseline: training {args.epochs} epoch(s) ...")
        base_train = common.check(common.run_child(script, {
            "role": "baseline-train", "train": str(train_path), "epochs": args.epochs,
            "weights": str(tmp / "baseline.weights.h5"), "vocab": str(tmp / "vocab.json")},
            timeout_s=7200), "baseline training")
        common.log(f"    fit {base_train['fit_s']:.1f} s")

        if not args.quick:
            common.log("(b) seqlab train: warm-up run on 64 sentences ...")
            seqlab_train(warm_path, tmp / "warm-run", 1)
        common.log(f"(b) seqlab train: {args.epochs} epoch(s) ...")
        ours_train = seqlab_train(train_path, tmp / "run", args.epochs)
        common.log(f"    loop {ours_train['loop_s']:.1f} s, command {ours_train['wall_s']:.1f} s")
        from seqlab.training.rundir import RunDir

        model_path = RunDir(tmp / "run").model

        common.log("(a) README baseline: model.predict ...")
        base_pred = common.check(common.run_child(script, {
            "role": "baseline-predict", "test": str(test_path), "repeats": repeats,
            "weights": str(tmp / "baseline.weights.h5"), "vocab": str(tmp / "vocab.json")}),
            "baseline prediction")
        common.log("(b) seqlab predict in process ...")
        ours_pred = common.check(common.run_child(script, {
            "role": "seqlab-predict", "test": str(test_path), "model": str(model_path),
            "out": str(tmp / "tagged.conll"), "batch_size": 64, "repeats": repeats}),
            "seqlab prediction")
        cmd_times = []
        if not args.quick:  # the commands, whole processes: full runs only
            common.log("(b) seqlab predict command ...")
            seqlab_predict_command(model_path, test_path, tmp / "cmd.conll")  # warm-up
            cmd_times = [seqlab_predict_command(model_path, test_path, tmp / "cmd.conll")
                         for _ in range(cmd_repeats)]
        # Whole processes, file to file: (a)'s script against the command, on the test file
        # and on the test file repeated --scale times (start-up is paid once per file).
        inputs = [] if args.quick else [("test", test_path)]
        if args.scale > 1:
            big = tmp / "big.txt"
            text = test_path.read_text(encoding="utf-8").strip("\n") + "\n\n"
            big.write_text(text * args.scale, encoding="utf-8")
            inputs.append((f"test x{args.scale}", big))
        whole = []
        for name, path in inputs:
            common.log(f"whole processes on {name}: (a)'s script and the seqlab command ...")
            script_runs, command_runs = [], []
            for _ in range(cmd_repeats):
                t0 = time.perf_counter()
                run = common.check(common.run_child(script, {
                    "role": "baseline-script", "test": str(path), "out": str(tmp / "a.conll"),
                    "weights": str(tmp / "baseline.weights.h5"),
                    "vocab": str(tmp / "vocab.json")}, timeout_s=3600), "(a)'s script")
                run["wall_s"] = time.perf_counter() - t0
                script_runs.append(run)
                command_runs.append(seqlab_predict_command(model_path, path, tmp / "b.conll"))
            whole.append({"input": name, "tokens": script_runs[0]["tokens"],
                          "script": script_runs,
                          "script_time": common.summarize([r["wall_s"] for r in script_runs]),
                          "command_time": common.summarize(command_runs)})
    load_after = common.load_status()

    epochs, n_tok = args.epochs, base_train["tokens"]
    base_tps = n_tok * epochs / base_train["fit_s"]
    base_proc_tps = n_tok * epochs / base_train["process_s"]
    loop_tps = n_tok * epochs / ours_train["loop_s"]
    cmd_tps = n_tok * epochs / ours_train["wall_s"]
    f1_base, f1_ours = base_pred["f1"], ours_pred["f1"]
    train_rows = [
        ["(a) README way: padded arrays → model.fit", f"{base_train['fit_s']:.1f} s",
         f"{base_tps:,.0f}", "**1.00×**", f"{base_train['process_s']:.1f} s",
         f"{base_proc_tps:,.0f}", f"{f1_base:.2f}"],
        ["(b) seqlab train", f"{ours_train['loop_s']:.1f} s", f"{loop_tps:,.0f}",
         f"**{loop_tps / base_tps:.2f}×**", f"{ours_train['wall_s']:.1f} s",
         f"{cmd_tps:,.0f}", f"{f1_ours:.2f}"],
    ]
    train_table = common.markdown_table(
        ["training", "loop time", "tokens/s", "tokens/s ÷ (a)", "whole process", "tokens/s",
         "test F1"], train_rows)

    n_test = base_pred["tokens"]
    cmd_stats = common.summarize(cmd_times) if cmd_times else None
    pb = base_pred["time"]["median"]
    pred_rows = []
    paths = [("(a) model.predict on padded arrays (batch 32)", base_pred["time"]),
             ("(b) seqlab predict in process, file → file (batch 64)", ours_pred["time"])]
    if cmd_stats:
        paths.append(("(b) `seqlab predict` command (start-up and model load included)",
                      cmd_stats))
    for label, stats in paths:
        pred_rows.append([label, common.fmt_time(stats), f"{n_test / stats['median']:,.0f}",
                          f"**{pb / stats['median']:.2f}×**"])
    pred_table = common.markdown_table(
        ["prediction", "time: median (min–max)", "tokens/s", "tokens/s ÷ (a)"], pred_rows)

    base_pred_tps = n_test / pb
    whole_rows = []
    for w in whole:
        a, b = w["script_time"]["median"], w["command_time"]["median"]
        w["command_tps"] = w["tokens"] / b
        parts = w["script"][len(w["script"]) // 2]
        whole_rows.append([
            f"{w['input']} ({w['tokens']:,} tokens)", common.fmt_time(w["script_time"]),
            f"{parts['import_s']:.1f} + {parts['load_s']:.1f} + {parts['predict_s']:.1f} s",
            common.fmt_time(w["command_time"]), f"**{a / b:.2f}×**",
            f"{w['command_tps']:,.0f}", f"**{w['command_tps'] / base_pred_tps:.2f}×**"])
    whole_table = common.markdown_table(
        ["input, file → file", "(a) whole script: median (min–max)",
         "(a) imports + model + read/pad/predict/write", "(b) `seqlab predict` command",
         "(a) ÷ (b)", "(b) tokens/s", "÷ (a) model.predict tokens/s"], whole_rows)

    train_ratio = loop_tps / base_tps
    pred_ratio = pb / ours_pred["time"]["median"]
    targets = [
        {"target": f"training: seqlab >= {TARGET_TRAIN:g}x the tokens/s of (a)",
         "met": train_ratio >= TARGET_TRAIN,
         "measured": f"{train_ratio:.2f}x (training loops); {cmd_tps / base_proc_tps:.2f}x "
                     f"(whole seqlab train command against (a)'s whole process)"},
        {"target": "at equal or better test F1", "met": f1_ours >= f1_base,
         "measured": f"seqlab {f1_ours:.2f}, (a) {f1_base:.2f}"},
        {"target": f"prediction: seqlab predict >= {TARGET_PREDICT:g}x the tokens/s of "
                   "(a)'s model.predict", "met": pred_ratio >= TARGET_PREDICT,
         "measured": f"{pred_ratio:.2f}x in process" + (
             f"; {pb / cmd_stats['median']:.2f}x for the whole command on the test file"
             if cmd_stats else "")},
    ]
    if whole:
        big_ratio = whole[-1]["command_tps"] / base_pred_tps
        targets.append({
            "target": f"prediction: the seqlab predict command >= {TARGET_PREDICT:g}x the "
                      f"tokens/s of (a)'s model.predict on {whole[-1]['input']}",
            "met": big_ratio >= TARGET_PREDICT,
            "measured": f"{big_ratio:.2f}x ({whole[-1]['tokens']:,} tokens)"})

    train_name = f"first {QUICK_TRAIN:,} sentences of CoNLL-2003 train" if args.quick else \
        "CoNLL-2003 train"
    test_name = f"first {QUICK_TEST:,} sentences of CoNLL-2003 test" if args.quick else \
        "CoNLL-2003 test"
    print(common.describe_environment(machine, vers))
    print(f"Load: before {load_before}; after {load_after}")
    print(f"\nTraining: {train_name} ({base_train['sentences']:,} sentences, {n_tok:,} tokens; "
          f"(a) pads them to {base_train['maxlen']} tokens: {base_train['padded_tokens']:,} "
          f"positions), {epochs} epoch(s), batch {BATCH}, Adam 0.001, seed {SEED}; one run "
          "each. tokens/s counts real tokens. (a) loop = model.fit, whole process = imports, "
          "reading, padding, building and fit; (b) loop = history.csv elapsed_seconds (tf.data and "
          "tracing included), whole process = the `seqlab train` command. Warm-up: (a) fits a "
          "throwaway copy of the model on 64 sentences in its process first (not counted)"
          + ("." if args.quick else "; (b) runs the command once on 64 sentences first.")
          + "\n")
    print(train_table)
    print(f"\nPrediction: {test_name} ({base_pred['sentences']:,} sentences, {n_test:,} "
          f"tokens); {repeats} repeats in process after a warm-up run"
          + (" (--quick: the commands are not run)." if args.quick else
             f", {cmd_repeats} of the command after a warm-up run.") + "\n")
    print(pred_table)
    if whole:
        print("\nWhole processes, file to file: (a) the hand-written prediction script (imports, "
              "model and weights, read, pad to the longest sentence, model.predict, write tags) "
              "against the `seqlab predict` command, each a fresh process timed from start to "
              f"exit, {cmd_repeats} run(s) each; the last column compares the command's tokens/s "
              "with (a)'s model.predict alone (the table above).\n")
        print(whole_table)
    return common.finish("train", {
        "benchmark": "training and prediction vs the keras-self-attention README way",
        "machine": machine, "versions": vers,
        "load_before": load_before, "load_after": load_after, "epochs": epochs,
        "baseline_train": base_train, "seqlab_train": ours_train,
        "baseline_predict": base_pred, "seqlab_predict": ours_pred,
        "seqlab_predict_command": {"times": cmd_times, "time": cmd_stats},
        "whole_process": whole,
    }, targets, args.quick)


if __name__ == "__main__":
    sys.exit(main())
