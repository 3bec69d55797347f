# Two entry points for a fresh machine: `make run` trains the default spec on the built-in
# digits; `make test` runs the test suite on a worker process per core, at most 4 (and names its
# 20 slowest tests, to keep it quick).
# Both create .venv and install cnnspec into it first.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: run test install clean

$(BIN)/cnnspec: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

install: $(BIN)/cnnspec

run: install
	$(BIN)/cnnspec train specs/digits.cnn

test: install
	$(BIN)/python -m pytest -q -n auto --maxprocesses 4 --durations=20

clean:
	rm -rf $(VENV) build *.egg-info
