# Two commands on a fresh machine (each creates .venv from the pins when it is missing):
#   make run    the main job: the default experiment (quota for aandachtsgroepen, Haaglanden),
#               paired replications on every core, then the HTML report; results/quota_haaglanden/
#   make test   lint + the test suite (what CI runs)
#   make dashboard   the interactive dashboard on http://127.0.0.1:8765 (live model, results)
PYTHON ?= python3.12
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run region national dashboard test test-all validate bench lint lock lab clean

$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "make: need Python 3.12 as '$(PYTHON)' (pyenv install 3.12, or make PYTHON=/path/to/python3.12)"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' || { echo "make: $(PYTHON) is not Python 3.12"; exit 1; }
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/woonsim experiment experiments/quota_haaglanden.yaml --out results/quota_haaglanden

region: $(STAMP)
	$(BIN)/woonsim run experiments/scenarios/haaglanden.yaml --seed 1 --out results/haaglanden

national: $(STAMP)
	$(BIN)/woonsim national experiments/scenarios/national.yaml --seed 1 --out results/national

dashboard: $(STAMP)
	$(BIN)/woonsim dashboard

# a test that hangs fails alone (with every thread's stack) instead of stopping CI
TEST_TIMEOUT ?= 900

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -m "not slow" --timeout $(TEST_TIMEOUT)

test-all: $(STAMP)
	$(BIN)/python -m pytest -q

validate: $(STAMP)
	$(BIN)/woonsim validate --out results/validation

bench: $(STAMP)
	$(BIN)/woonsim bench --repeats 5

lab: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check jupyterlab==4.6.6
	$(BIN)/jupyter lab notebooks/

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/lint-imports

lock: $(STAMP)
	{ head -3 requirements.lock; $(BIN)/python -m pip freeze --exclude-editable; } > requirements.lock.new && mv requirements.lock.new requirements.lock

clean:
	rm -rf $(VENV) results .pytest_cache .ruff_cache
