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

bench: $(STAMP)
	for f in bench/*.py; do $(PY) $$f || exit 1; done

bench-quick: $(STAMP)
	for f in bench/*.py; do $(PY) $$f --quick || exit 1; done

clean:
	rm -rf $(VENV) runs build *.egg-info
