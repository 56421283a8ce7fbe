"""seqlab against flair 0.15 with the same representations (issue 35 item 7).

Both train on the same CoNLL-2003 files, each pinned to one core with one thread, side by
side, for the same wall-clock budget (default 25 minutes; ``--quick``: 2 minutes on 1,000
training sentences, 300 dev and 300 test):

* seqlab: ``seqlab train configs/conll2003_ner_minilm.yaml`` (``--config``): GloVe 6B 50d
  lower-cased, the char CNN and MiniLM-L6 frozen (its 7 hidden states scalar-mixed, its
  subwords averaged), BiLSTM 128 + attention + CRF; stopped at the budget if it has not
  stopped early by itself (its best-dev weights are then taken from its checkpoint);
* flair: ``bench/_flair_ner.py train``, run by flair's own environment (``bench/.flair``,
  ``--flair-env``): a ``SequenceTagger`` BiLSTM-CRF with the config's LSTM size over stacked
  [the same GloVe file, flair's ``CharacterEmbeddings``, ``TransformerWordEmbeddings`` on the
  same MiniLM directory (frozen, the config's ``layers`` averaged, subwords pooled as its
  ``pooling``)], trained by flair's
  ``ModelTrainer`` the documented way (SGD lr 0.1, mini-batch 32, annealed on plateau) with
  ``embeddings_storage_mode="cpu"``: the transformer runs once per sentence, as seqlab's
  feature pass does. Nothing downloads (the hub is off, the script refuses any connection).

Neither side sees the test file while it trains. Reported per system: test F1 of the best-dev
model (conlleval-exact, by seqlab's evaluator, on both systems' predictions; flair's own
micro span F1 beside it), epochs, training tokens/s and prediction tokens/s on the test file
(seqlab's ``Tagger.tag`` and flair's ``SequenceTagger.predict`` on Sentences made from the
token lists, in process, one core each: the first whole pass after both tagged the file's
first 256 sentences, and the median of three passes more, "warm"). seqlab's prediction is
timed twice: as trained (float32, the default) and as ``seqlab predict --precision auto``
computes on the machine (bfloat16 where the CPU has AMX or AVX512-BF16).

Training tokens/s is tokens trained (complete epochs x training tokens) over training seconds,
the transformer feature pass included for both: seqlab's feature passes (train and dev, as
its log reports them) plus its training clock (epochs and dev scoring); flair's clock from
just before ``ModelTrainer.train`` (its feature pass happens in epoch 1 and the first dev
evaluation) to the end of its last complete epoch's dev evaluation. Imports and loading the
vectors and the checkpoint are outside both.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common
import peers  # the spaCy race's helpers: Timed, pinned, seqlab_cmd, history_of...

CONFIG = common.ROOT / "configs" / "conll2003_ner_minilm.yaml"
FLAIR = "flair==0.15.1"
FLAIR_SCRIPT = common.BENCH_DIR / "_flair_ner.py"
FLAIR_CORE = 1
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "HF_HUB_DISABLE_TELEMETRY": "1", "TOKENIZERS_PARALLELISM": "false",
           "FLAIR_NER_THREADS": "1"}
QUICK_SIZES = {"train": 1000, "dev": 300, "test": 300}


# ------------------------------------------------------------------ flair's environment
def flair_versions(python: Path) -> dict:
    code = ("import json; from importlib.metadata import version as v; print(json.dumps("
            "{k: v(k) for k in ('flair', 'torch', 'transformers')}))")
    proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    return {f"flair env: {k}" if k != "flair" else k: x
            for k, x in json.loads(proc.stdout).items()}


# ------------------------------------------------------------------ the config's files
def config_files(config: Path) -> dict:
    """What flair must match in seqlab's config: the GloVe file, the transformer directory
    (paths in the file resolve against its folder), the LSTM size and the seed."""
    import yaml

    raw = yaml.safe_load(config.read_text(encoding="utf-8"))
    transformer = (raw.get("model") or {}).get("transformer") or {}
    vectors = (raw.get("vocab") or {}).get("vectors")
    if not vectors or not transformer.get("path"):
        raise SystemExit(f"--config {config}: flair races the config's GloVe vectors and "
                         "transformer; it names vocab.vectors and model.transformer.path")
    def path(relative):  # absolute, links kept (vectors/all-MiniLM-L6-v2 is one)
        return Path(os.path.normpath(config.parent / relative))

    out = {"glove": path(vectors), "transformer": path(transformer["path"]),
           "hidden_size": int(raw["model"]["lstm"]["units"]), "seed": int(raw.get("seed", 13)),
           "pooling": transformer.get("pooling", "first"),
           "layers": flair_layers(transformer.get("layers", "last"))}
    for key in ("glove", "transformer"):
        if not out[key].exists():
            raise SystemExit(f"{out[key]}: not found (make vectors/glove.6B.50d.txt.gz minilm)")
    return out


def flair_layers(layers) -> str:
    """The config's ``model.transformer.layers`` as flair's ``layers`` string. Both number the
    hidden states as Hugging Face's ``output_hidden_states`` (0 the embeddings' output, -1 the
    last block), so the same indices select the same states."""
    if layers == "all":
        return "all"
    if layers == "last":
        return "-1"
    return ",".join(str(int(i)) for i in layers)


def trimmed_checkpoint(source: Path, tmp: Path, layers: str) -> Path:
    """A copy of the Hugging Face directory ``source`` whose ``config.json`` keeps only the
    blocks up to the highest hidden state ``layers`` names (its other files linked). flair
    runs every block of the model it loads, used or not; seqlab runs only those its config's
    states need. transformers loads the copy with the same weights, dropping the unused
    blocks', so flair then does the same work a word as seqlab."""
    if layers == "all" or any(int(i) < 0 for i in layers.split(",")):
        raise SystemExit(f"--flair-trimmed: the config's layers ({layers}) use the last block; "
                         "there is nothing to trim")
    blocks = max(int(i) for i in layers.split(","))
    out = tmp / f"{source.name}-{blocks}-blocks"
    out.mkdir()
    for item in source.resolve().iterdir():
        if item.name != "config.json":
            (out / item.name).symlink_to(item)
    config = json.loads((source / "config.json").read_text(encoding="utf-8"))
    config["num_hidden_layers"] = blocks
    (out / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return out


def write_data(tmp: Path, quick: bool) -> dict:
    files = {"train": "train.txt", "dev": "valid.txt", "test": "test.txt"}
    data = {}
    for split, src in files.items():
        path = tmp / f"{split}.iob"
        data[f"{split}_tokens"] = peers.write_slice(peers.DATA / src, path,
                                              QUICK_SIZES[split] if quick else None)
        data[split] = str(path)
    return data


# ------------------------------------------------------------------ the race
FEATURES = re.compile(r"transformer features \((\w+)\):\s+\d+ sentences,\s+\d+ tokens in\s+"
                      r"([\d.]+) s")


def read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut by the stop
            pass
    return rows


def seqlab_side(run: Path, log_text: str, train_tokens: int) -> dict:
    """Curve and training rate of seqlab's run: its feature passes plus its epochs."""
    features = {m.group(1): float(m.group(2)) for m in FEATURES.finditer(log_text)}
    offset = sum(features.values())
    rows = peers.history_of(run)
    curve = [{"seconds": offset + peers.elapsed(r), "epoch": int(r["epoch"]),
              "dev_f1": r.get("dev_f1")} for r in rows]
    out = {"curve": curve, "epochs": len(rows), "feature_pass_s": features}
    if rows:
        out["train_seconds"] = curve[-1]["seconds"]
        out["train_tokens_per_s"] = train_tokens * len(rows) / out["train_seconds"]
        out["first_epoch_s"] = curve[0]["seconds"]
        if len(rows) > 1:
            out["later_epoch_s"] = (curve[-1]["seconds"] - curve[0]["seconds"]) / (len(rows) - 1)
    return out


def flair_side(progress: list[dict]) -> dict:
    """Curve and training rate of flair's run from its progress lines."""
    epochs = [r for r in progress if r.get("event") == "epoch"]
    curve = [{"seconds": r["seconds"], "epoch": r["epoch"], "dev_f1": r["dev_f1"]}
             for r in epochs]
    start = next((r for r in progress if r.get("event") == "start"), {})
    out = {"curve": curve, "epochs": len(epochs), "load_s": start.get("load_seconds")}
    if epochs:
        out["train_seconds"] = epochs[-1]["seconds"]
        out["train_tokens_per_s"] = epochs[-1]["train_tokens"] / epochs[-1]["seconds"]
        out["first_epoch_s"] = epochs[0]["seconds"]
        if len(epochs) > 1:
            out["later_epoch_s"] = ((epochs[-1]["seconds"] - epochs[0]["seconds"])
                                    / (len(epochs) - 1))
    else:  # not one epoch in the budget: the rate of the part done, marked as such
        batches = [r for r in progress if r.get("event") in ("batch", "trained")]
        if batches and batches[-1]["seconds"] > 0:
            out["train_tokens_per_s"] = batches[-1]["train_tokens"] / batches[-1]["seconds"]
            out["partial_epoch"] = True
    return out


def conlleval_f1(predictions: Path) -> float | None:
    """seqlab's conlleval-exact F1 of a ``token gold predicted`` file."""
    from seqlab.metrics import evaluate

    gold, pred, g, p = [], [], [], []
    for line in predictions.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if not parts:
            if g:
                gold.append(g)
                pred.append(p)
            g, p = [], []
            continue
        g.append(parts[1])
        p.append(parts[2])
    if g:
        gold.append(g)
        pred.append(p)
    return evaluate(gold, pred)["f1"] if gold else None


def run_race(tmp: Path, data: dict, flair: Path, files: dict, budget_s: float,
             config: Path) -> dict:
    seqlab_run = tmp / "race-seqlab"
    overrides = [f"data.train={data['train']}", f"data.dev={data['dev']}", "data.test=null"]
    flair_dir, progress = tmp / "flair", tmp / "flair-progress.jsonl"
    flair_env = dict(peers.ONE_THREAD, **OFFLINE, FLAIR_CACHE_ROOT=str(tmp / "flair-cache"))
    flair_cmd = [*peers.pinned(FLAIR_CORE), str(flair), str(FLAIR_SCRIPT), "train",
                 "--train", data["train"], "--dev", data["dev"], "--glove", str(files["glove"]),
                 "--transformer", str(files["transformer"]), "--out", str(flair_dir),
                 "--progress", str(progress), "--hidden-size", str(files["hidden_size"]),
                 "--pooling", files["pooling"], "--layers", files["layers"],
                 "--seed", str(files["seed"]), "--threads", "1"]
    common.log(f"race: seqlab on core {peers.SEQLAB_CORE}, flair on core {FLAIR_CORE}, "
               f"{budget_s / 60:.0f} min each")
    ours = peers.Timed(peers.seqlab_cmd(seqlab_run, overrides, config=config),
                       dict(peers.ONE_THREAD, COLUMNS="200"), common.ROOT, tmp / "seqlab.log")
    theirs = peers.Timed(flair_cmd, flair_env, common.ROOT, tmp / "flair.log")
    ours_ended = ours.wait(budget_s)
    theirs_ended = theirs.wait(budget_s)
    mine = seqlab_side(seqlab_run, "\n".join(line for _, line in ours.lines),
                       data["train_tokens"])
    other = flair_side(read_jsonl(progress))
    for side, timed in ((mine, ours), (other, theirs)):
        if not side["curve"]:
            side["log_tail"] = [line for _, line in timed.lines[-8:]]

    common.log("scoring the best-dev models on test and timing prediction, one core each")
    if mine["curve"]:
        proc = subprocess.run(
            [*peers.pinned(peers.SEQLAB_CORE), sys.executable, "-c", peers.SEQLAB_TEST,
             str(seqlab_run), data["test"]], capture_output=True, text=True,
            env=dict(os.environ, **peers.ONE_THREAD), cwd=common.ROOT)
        mine.update(peers.last_json(proc.stdout if proc.returncode == 0 else proc.stderr))
        # What `seqlab predict --precision auto` computes in here: bfloat16 on a CPU with
        # AMX or AVX512-BF16 (issue 39), else float32 again.
        proc = subprocess.run(
            [*peers.pinned(peers.SEQLAB_CORE), sys.executable, "-c", peers.SEQLAB_TEST,
             str(seqlab_run), data["test"], "auto"], capture_output=True, text=True,
            env=dict(os.environ, **peers.ONE_THREAD), cwd=common.ROOT)
        mine["auto"] = peers.last_json(proc.stdout if proc.returncode == 0 else proc.stderr)
    else:
        mine["error"] = "no epoch ended in the budget"
    best = flair_dir / "best-model.pt"
    if best.is_file():
        predictions = tmp / "flair-test.txt"
        proc = subprocess.run(
            [*peers.pinned(FLAIR_CORE), str(flair), str(FLAIR_SCRIPT), "test", "--model",
             str(best), "--test", data["test"], "--predictions", str(predictions),
             "--warm-passes", "3"],
            capture_output=True, text=True, env=dict(os.environ, **flair_env),
            cwd=common.ROOT)
        scored = peers.last_json(proc.stdout if proc.returncode == 0 else proc.stderr)
        if "error" not in scored and predictions.is_file():
            scored["test_f1"] = conlleval_f1(predictions)
        other.update(scored)
    elif other["curve"]:
        other["error"] = "no best-model.pt (dev F1 never above 0)"
    else:
        other["error"] = "no epoch ended in the budget"
    mine["ended_by_itself"], other["ended_by_itself"] = ours_ended, theirs_ended
    return {"seqlab": mine, "flair": other}


# ------------------------------------------------------------------ report
def _f(value, fmt="{:,.0f}", missing="-"):
    return fmt.format(value) if isinstance(value, (int, float)) else missing


def ratio(a, b):
    return a / b if a and b else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="2 minutes on 1,000 train sentences, 300 dev, 300 test")
    parser.add_argument("--minutes", type=float, default=None, help="budget each (25)")
    parser.add_argument("--flair-env", type=Path, default=common.BENCH_DIR / ".flair")
    parser.add_argument("--keep", action="store_true", help="keep the working folder (data "
                        "slices, both runs, their logs) and print its path")
    parser.add_argument("--config", type=Path, default=CONFIG,
                        help="seqlab's config; flair takes its GloVe file, transformer "
                        "directory, LSTM size and seed")
    parser.add_argument("--flair-trimmed", action="store_true",
                        help="give flair a copy of the checkpoint cut to the blocks the "
                        "config's layers use (flair runs every block it loads)")
    args = parser.parse_args()
    quick = args.quick
    budget_s = 60 * (args.minutes or (2 if quick else 25))
    if not peers.DATA.is_dir():
        raise SystemExit(f"{peers.DATA}: CoNLL-2003 not found "
                         "(expected ../shared/data/conll2003)")
    if not args.config.is_file():
        raise SystemExit(f"--config {args.config}: no such file (expected a seqlab YAML config)")
    config = args.config.resolve()
    files = config_files(config)
    machine, vers = common.machine_info(), common.versions()
    flair = common.peer_python(args.flair_env, FLAIR)
    vers.update(flair_versions(flair))
    common.log(common.describe_environment(machine, vers))
    load_before = common.load_status()
    common.log(load_before)

    tmp = Path(tempfile.mkdtemp(prefix="seqlab-peers-flair-"))
    try:
        data = write_data(tmp, quick)
        if args.flair_trimmed:
            files["transformer"] = trimmed_checkpoint(files["transformer"], tmp, files["layers"])
        race = run_race(tmp, data, flair, files, budget_s, config)
    finally:
        if args.keep:
            common.log(f"working folder kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    load_after = common.load_status()

    ours, theirs = race["seqlab"], race["flair"]
    print(common.describe_environment(machine, vers))
    print(f"Load: before {load_before}; after {load_after}")
    print(f"\nCoNLL-2003 NER, train {data['train_tokens']:,} tokens, dev {data['dev_tokens']:,}, "
          f"test {data['test_tokens']:,}; budget {budget_s / 60:.0f} min each, one core and "
          f"one thread each; seqlab races with {config.name}, flair {vers['flair']} with the "
          f"same GloVe file and {files['transformer'].name} (frozen, layers "
          f"{files['layers']}), its char BiLSTM, BiLSTM {files['hidden_size']}-CRF")
    print("Training tokens/s: complete epochs x training tokens over training seconds, the "
          "transformer feature pass and dev scoring included for both (loading excluded). "
          "Prediction: in process, first whole pass over test after a 256-sentence warm-up.\n")
    print(common.markdown_table(
        ["system", "test F1 (conlleval)", "flair's micro F1", "best dev F1", "epochs",
         "ended by itself", "training tokens/s", "feature pass + epoch 1", "later epochs",
         "prediction tokens/s", "warm (median of 3 more)"],
        [[name, _f(r.get("test_f1"), "{:.2f}", r.get("error", "-")),
          _f(r.get("flair_micro_f1"), "{:.2f}"),
          _f(max((p["dev_f1"] or 0) for p in r["curve"]) if r["curve"] else None, "{:.2f}"),
          r["epochs"], "yes" if r["ended_by_itself"] else "no (budget)",
          _f(r.get("train_tokens_per_s")) + (" (partial epoch)" if r.get("partial_epoch")
                                             else ""),
          _f(r.get("first_epoch_s"), "{:.0f} s"), _f(r.get("later_epoch_s"), "{:.0f} s each"),
          _f(r.get("predict_tokens_per_s")), _f(r.get("predict_warm_tokens_per_s"))]
         for name, r in (("seqlab", ours), (f"flair {vers['flair']}", theirs))]))
    feats = ours.get("feature_pass_s") or {}
    if feats:
        print("\nseqlab's feature pass: " + ", ".join(f"{k} {v:.0f} s" for k, v in
                                                      feats.items())
              + f"; flair loaded its embeddings in {_f(theirs.get('load_s'), '{:.0f} s')} "
              "before its clock started")
    rows = [[name, f"{p['seconds'] / 60:.1f}", p["epoch"], f"{p['dev_f1']:.2f}"]
            for name, r in (("seqlab", ours), ("flair", theirs)) for p in r["curve"]
            if p["dev_f1"] is not None]
    if rows:
        print("\nDev F1 over training time:\n")
        print(common.markdown_table(["system", "minutes", "epoch", "dev F1"], rows))
    for name, r in (("seqlab", ours), ("flair", theirs)):
        if r.get("log_tail"):
            print(f"\n{name} trained no epoch; the end of its log:\n  "
                  + "\n  ".join(r["log_tail"]))

    auto = ours.get("auto") or {}
    if "predict_tokens_per_s" in auto:
        against = ratio(auto["predict_tokens_per_s"], theirs.get("predict_tokens_per_s")) or 0
        print(f"\nseqlab predicting with `--precision auto` ({auto.get('precision')} here): "
              f"test F1 {auto['test_f1']:.2f}, {auto['predict_tokens_per_s']:,.0f} tokens/s "
              f"({against:.2f}x flair's), warm {auto['predict_warm_tokens_per_s']:,.0f}")
    train = ratio(ours.get("train_tokens_per_s"), theirs.get("train_tokens_per_s"))
    predict = ratio(ours.get("predict_tokens_per_s"), theirs.get("predict_tokens_per_s"))
    warm = ratio(ours.get("predict_warm_tokens_per_s"), theirs.get("predict_warm_tokens_per_s"))
    f1s = ours.get("test_f1"), theirs.get("test_f1")
    targets = [
        {"target": "seqlab training tokens/s at least 2x flair's (feature pass included)",
         "met": bool(train and train >= 2), "measured": f"{train:.2f}x" if train else "-"},
        {"target": "seqlab prediction tokens/s at least 2x flair's", "met": bool(
            predict and predict >= 2), "measured": (f"{predict:.2f}x" if predict else "-") + (
            f" (warm passes {warm:.2f}x)" if warm else "")},
        {"target": "seqlab test F1 above flair's", "met": bool(
            None not in f1s and f1s[0] > f1s[1]),
         "measured": " vs ".join(_f(x, "{:.2f}") for x in f1s)},
    ]
    payload = {"machine": machine, "versions": vers, "budget_s": budget_s, "data": data,
               "config": config.name, "flair_setup": {k: str(v) for k, v in files.items()},
               "load": {"before": load_before, "after": load_after}, "race": race}
    return common.finish("peers-flair", payload, targets, quick)


if __name__ == "__main__":
    sys.exit(main())
