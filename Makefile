# Two entry points for a fresh machine: `make run` trains the default spec on the built-in
# digits; `make test` runs the test suite on a worker process per core, at most 4, then the tests
# marked `alone` (a real Dask cluster) in a process of their own (and names the slowest tests,
# to keep it quick).
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

# The `alone` tests run even when the first run fails, so one failure does not hide theirs; the
# target fails if either run did. Exit 5 of the second: none collected (no Dask here).
test: install
	status=0; \
	$(BIN)/python -m pytest -q -n auto --maxprocesses 4 --durations=20 -m "not alone" || status=$$?; \
	$(BIN)/python -m pytest -q --durations=5 -m alone || [ $$? -eq 5 ] || status=1; \
	exit $$status

clean:
	rm -rf $(VENV) build *.egg-info
