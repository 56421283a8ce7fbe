"""How often the tokens of `predict -i document` differ from a corpus's own (issue 36, item 4).

`-i document` splits running text with spaCy's rule-based English tokenizer and sentencizer
(``seqlab.formats.document``); a model trained on CoNLL-2003 or UD then sees tokens cut by
other rules than its training data's. This measures the disagreement, against the corpus's
gold tokens:

* **CoNLL-2003 test**: each sentence's tokens (column 0) joined with single spaces, cut again;
* **UD English LinES test**: each sentence's ``# text`` (the original text), cut, against its
  syntactic words (a multiword token such as ``it's`` is its words ``it`` + ``'s`` where
  their forms spell it, else one token), placed in the text by their forms.

A gold token agrees when the tokenizer gives a token with exactly its characters (an alignment
by character offsets); a sentence agrees when all its tokens do. Also, on LinES, the sentence
starts found by ``split_text`` in each document's sentences joined by spaces, against the gold
ones (precision, recall). Peers, each run on the same texts: whitespace splitting (what
``-i text`` does: the baseline), seqlab's ``simple`` regex tokenizer, and syntok 1.4 (segtok's
successor) where it is installed. Speed: tokens a second over the CoNLL texts, one process.

    python bench/tokenizer_agreement.py            # the full test sets
    python bench/tokenizer_agreement.py --quick    # their first 300 sentences
"""

from __future__ import annotations

import argparse
import collections
import gzip
import re
import subprocess
import sys
import time
from pathlib import Path

# bench/profile.py would shadow the standard library's profile module, which spaCy imports
# (through cProfile): the standard one is imported first, with bench/ off the path.
_BENCH = str(Path(__file__).resolve().parent)
sys.path[:] = [p for p in sys.path if str(Path(p or ".").resolve()) != _BENCH]
import cProfile  # noqa: E402, F401

sys.path.insert(0, _BENCH)

import _common as common  # noqa: E402

DATA = common.ROOT.parent / "shared" / "data"
CONLL = DATA / "conll2003" / "test.txt"
LINES = DATA / "ud_english_lines" / "en_lines-ud-test.conllu.gz"
_NONSPACE = re.compile(r"\S+")


# ----------------------------------------------------------------------------- gold data
def conll_sentences(path: Path, most: int | None):
    """``(text, gold offsets)`` of each sentence: its tokens joined by single spaces."""
    out, tokens = [], []
    with open(path, encoding="utf-8") as fh:
        for line in [*fh, "\n"]:
            if line.strip() and not line.startswith("-DOCSTART-"):
                tokens.append(line.split()[0])
            elif tokens:
                out.append(_joined(tokens))
                tokens = []
                if most and len(out) >= most:
                    break
    return out


def _joined(tokens):
    offsets, at = [], 0
    for t in tokens:
        offsets.append((at, at + len(t)))
        at += len(t) + 1
    return " ".join(tokens), offsets


def ud_sentences(path: Path, most: int | None):
    """``(documents, sentences, unplaced)``: each sentence's ``(text, gold offsets)`` and
    its document's number; sentences whose forms could not be found in their text in order
    are counted in ``unplaced`` and left out."""
    out, unplaced = [], 0
    doc, text, rows = 0, None, []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in [*fh, "\n"]:
            line = line.rstrip("\n")
            if line.startswith("# newdoc"):
                doc += 1
            elif line.startswith("# text = "):
                text = line[len("# text = "):]
            elif line and not line.startswith("#"):
                rows.append(line.split("\t"))
            elif not line and rows:
                offsets = _place(text or "", rows)
                if offsets is None:
                    unplaced += 1
                else:
                    out.append((doc, text, offsets))
                text, rows = None, []
                if most and len(out) >= most:
                    break
    return out, unplaced


def _place(text, rows):
    """The words' offsets in ``text``, found in order by their forms; None if one is not."""
    offsets, at, skip = [], 0, 0
    for row in rows:
        ident, form = row[0], row[1]
        if "." in ident:
            continue  # an empty node
        if "-" in ident:
            first, last = map(int, ident.split("-"))
            start = text.find(form, at)
            if start < 0:
                return None
            words = [r[1] for r in rows if r[0].isdigit() and first <= int(r[0]) <= last]
            inner, here = [], start
            for w in words:
                if text.startswith(w, here):
                    inner.append((here, here + len(w)))
                    here += len(w)
                else:
                    inner = None
                    break
            if inner and here == start + len(form):
                offsets.extend(inner)
            else:
                offsets.append((start, start + len(form)))
            at, skip = start + len(form), last - first + 1
            continue
        if skip:
            skip -= 1
            continue
        start = text.find(form, at)
        if start < 0 or text[at:start].strip():
            return None
        offsets.append((start, start + len(form)))
        at = start + len(form)
    return offsets


# ------------------------------------------------------------------------------ tokenizers
def tokenizers():
    """``{name: text -> offsets}``: the baseline first, seqlab's document tokenizer, peers."""
    from seqlab.formats import tokenize
    from seqlab.formats.document import tokenize_offsets

    def whitespace(text):
        return [m.span() for m in _NONSPACE.finditer(text)]

    def simple(text):
        out, at = [], 0
        for token in tokenize(text, "simple"):
            start = text.index(token, at)
            out.append((start, start + len(token)))
            at = start + len(token)
        return out

    found = {"whitespace (-i text; baseline)": whitespace, "seqlab simple (regex)": simple,
             "spaCy 3.8 blank en, hyphens kept (-i document)": tokenize_offsets}
    shipped = None

    def spacy_shipped(text):  # spaCy's English rules as they come, hyphen splitting and all
        nonlocal shipped
        if shipped is None:
            from seqlab.formats.document import pipeline

            pipeline()  # spaCy imported as seqlab imports it
            import spacy

            shipped = spacy.blank("en").tokenizer
        return [(t.idx, t.idx + len(t.text)) for t in shipped(text) if not t.is_space]

    found["spaCy 3.8 blank en, as shipped"] = spacy_shipped
    try:
        from syntok.tokenizer import Tokenizer

        syntok = Tokenizer()

        def syntok_tokens(text):
            return [(t.offset, t.offset + len(t.value)) for t in syntok.tokenize(text)]

        found["syntok 1.4"] = syntok_tokens
    except ImportError:
        common.log("syntok is not installed: its row is left out")
    return found


def sentence_splitters():
    from seqlab.formats.document import split_text

    def regex(text):
        return [m.end() for m in re.finditer(r"(?:^|(?<=[.!?])\s+)(?=\S)", text)]

    found = {"regex: after . ! ? and a space (baseline)": regex,
             "spaCy 3.8 sentencizer, openers moved (-i document)":
                 lambda t: [s[0][0] for s in split_text(t)]}
    try:
        import syntok.segmenter as segmenter

        def syntok_starts(text):
            return [s[0].offset for p in segmenter.analyze(text) for s in p if s]

        found["syntok 1.4"] = syntok_starts
    except ImportError:
        pass
    return found


# -------------------------------------------------------------------------------- measures
def agreement(sentences, tokenize):
    """Shares of sentences and of gold tokens cut otherwise, of the tokenizer's tokens that
    are no gold token, the commonest differences, and tokens a second."""
    differ = gold_total = gold_missed = made_total = made_extra = 0
    examples = collections.Counter()
    tokenize("Warm up, once.")  # spaCy's import and pipeline are not timed
    start = time.perf_counter()
    made_all = [tokenize(text) for text, _ in sentences]
    seconds = time.perf_counter() - start
    for (text, gold), made in zip(sentences, made_all):
        g, m = set(gold), set(made)
        gold_total += len(g)
        made_total += len(m)
        missed = g - m
        gold_missed += len(missed)
        made_extra += len(m - g)
        if missed or m - g:
            differ += 1
        for a, b in sorted(missed):
            pieces = [text[x:y] for x, y in made if x < b and y > a]
            examples[f"{text[a:b]} → {' | '.join(pieces)}"] += 1
    return {"sentences": len(sentences), "sentences_differ": differ / len(sentences),
            "gold_tokens": gold_total, "gold_tokens_differ": gold_missed / gold_total,
            "tokens_made": made_total, "made_tokens_not_gold": made_extra / max(1, made_total),
            "tokens_per_s": gold_total / seconds if seconds else None,
            "commonest": examples.most_common(8)}


def boundaries(documents, starts_of):
    """Precision and recall of the sentence starts found in each document's sentences joined
    by single spaces (the document's first start left out: every splitter finds it)."""
    tp = found = gold = 0
    for sentences in documents:
        text, at, truth = "", 0, set()
        for s in sentences:
            truth.add(at)
            text += s + " "
            at = len(text)
        truth.discard(0)
        made = set(starts_of(text.rstrip(" "))) - {0}
        tp += len(made & truth)
        found += len(made)
        gold += len(truth)
    p, r = tp / max(1, found), tp / max(1, gold)
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0,
            "gold_boundaries": gold}


def import_seconds(statement: str, repeats: int) -> float | None:
    times = []
    for _ in range(repeats):
        begin = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", statement], capture_output=True)
        if done.returncode:
            return None
        times.append(time.perf_counter() - begin)
    return common.summarize(times)["median"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the first 300 sentences")
    args = parser.parse_args(argv)
    most = 300 if args.quick else None
    machine = common.machine_info()
    vers = common.versions(("spacy", "syntok", "seqlab"))
    load_before = common.load_status()
    common.log(common.describe_environment(machine, vers))

    corpora = {"CoNLL-2003 test (tokens joined by spaces)": conll_sentences(CONLL, most)}
    ud, unplaced = ud_sentences(LINES, most)
    corpora["UD English LinES test (# text)"] = [(t, o) for _, t, o in ud]
    results, rows = {}, []
    for corpus, sentences in corpora.items():
        base = None
        for name, tokenize in tokenizers().items():
            common.log(f"{corpus}: {name}")
            r = agreement(sentences, tokenize)
            results[f"{corpus} / {name}"] = r
            base = base or r
            rows.append([corpus, name, f"{r['sentences_differ']:.1%}",
                         f"{r['gold_tokens_differ']:.2%}", f"{r['made_tokens_not_gold']:.2%}",
                         f"{r['tokens_per_s']:,.0f}",
                         f"{r['tokens_per_s'] / base['tokens_per_s']:.2f}×"])
    documents = collections.defaultdict(list)
    for doc, text, _ in ud:
        documents[doc].append(text)
    split_rows = []
    for name, starts_of in sentence_splitters().items():
        b = boundaries(list(documents.values()), starts_of)
        results[f"LinES sentence starts / {name}"] = b
        split_rows.append([name, f"{b['precision']:.1%}", f"{b['recall']:.1%}",
                           f"{b['f1']:.1%}"])
    imports = {
        "seqlab's spaCy pipeline": "from seqlab.formats.document import pipeline; pipeline()",
        "syntok": "import syntok.segmenter",
    }
    import_times = {k: import_seconds(v, 1 if args.quick else 3) for k, v in imports.items()}
    load_after = common.load_status()

    print(common.describe_environment(machine, vers))
    print(f"Load: before {load_before}; after {load_after}\n")
    print(common.markdown_table(
        ["corpus", "tokenizer", "sentences cut otherwise", "gold tokens not made",
         "tokens made that are not gold", "tokens/s", "speed ÷ whitespace"], rows))
    print(f"\nLinES: {len(ud):,} sentences placed, {unplaced} left out (a form not found in "
          "their # text).\n")
    gold_starts = next(r["gold_boundaries"] for k, r in results.items() if "sentence starts" in k)
    print(f"Sentence starts in LinES's {len(documents)} documents (sentences joined by "
          f"spaces; {gold_starts:,} gold starts):\n")
    print(common.markdown_table(["splitter", "precision", "recall", "F1"], split_rows))
    print("\nCommonest differences of spaCy's tokens (gold token → the tokens made over it):")
    for key, r in results.items():
        if key.endswith("(-i document)") and "commonest" in r:
            print(f"- {key.split(' / ')[0]}: " + "; ".join(
                f"`{k}` ×{n}" for k, n in r["commonest"]))
    print("\nImport and build time, fresh process: " + ", ".join(
        f"{k} {v:.2f} s" if v is not None else f"{k}: not installed"
        for k, v in import_times.items()))
    return common.finish("tokenizer_agreement", {
        "benchmark": "tokens of -i document against CoNLL-2003 and UD LinES",
        "machine": machine, "versions": vers, "load_before": load_before,
        "load_after": load_after, "quick": args.quick, "results": results,
        "import_seconds": import_times, "lines_unplaced": unplaced,
    }, [], args.quick)


if __name__ == "__main__":
    sys.exit(main())
