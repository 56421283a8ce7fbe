# seqlab: two commands for a fresh machine are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install test demo lint bench bench-quick clean

# Re-install only when the project's metadata changes.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,backends]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

demo: $(STAMP)
	rm -rf runs/quickstart
	$(VENV)/bin/seqlab train configs/quickstart.yaml --output runs/quickstart
	$(VENV)/bin/seqlab predict runs/quickstart/model.keras data/sample_input.txt --format conll
	$(VENV)/bin/seqlab evaluate runs/quickstart/model.keras data/test.txt

lint: $(STAMP)
	$(VENV)/bin/ruff check seqlab tests bench

# Every bench/*.py but the shared helpers, in name order. Every benchmark runs; the target
# fails at the end if any of them crashed or missed its target. Tables go to stdout.
BENCHES := $(sort $(filter-out bench/_common.py,$(wildcard bench/*.py)))

bench: $(STAMP)
	status=0; for f in $(BENCHES); do echo "== $$f"; $(PY) $$f || status=1; done; exit $$status

bench-quick: $(STAMP)
	status=0; for f in $(BENCHES); do echo "== $$f --quick"; $(PY) $$f --quick || status=1; done; exit $$status

clean:
	rm -rf $(VENV) runs build *.egg-info
