# Set-up and the everyday commands. `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The tested PyTorch release: a CPU wheel where one is provided locally, the CUDA build from PyPI elsewhere.
TORCH ?= torch==2.13.0
RUN ?= quickstart-$(shell date +%Y%m%d-%H%M%S)

.PHONY: setup demo test test-fast lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

demo: setup
	$(BIN)/studio fit --config configs/text/quickstart.yaml --run_name $(RUN)
	$(BIN)/studio sample --ckpt checkpoints/$(RUN)/last.ckpt --prompt "The " --length 500 \
		--temperature 0.8 --top_k 40 --num_samples 4 --seed 1

# The full suite (CI runs it), after the guard rails: lint, format, types and the layers.
test: setup lint
	$(BIN)/pytest

# The edit-test loop: everything but the end-to-end runs marked slow.
test-fast: setup
	$(BIN)/pytest -m "not slow"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: setup
	$(BIN)/pip install --quiet -e ".[bench]"
	for script in benchmarks/*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info
