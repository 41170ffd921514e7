# Set-up and the everyday commands. `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The tested PyTorch release: a CPU wheel where one is provided locally, the CUDA build from PyPI elsewhere.
TORCH ?= torch==2.13.0
RUN ?= quickstart-$(shell date +%Y%m%d-%H%M%S)

.PHONY: setup browser demo test test-fast lint bench bundles clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@echo "== installing Studio, PyTorch and the other packages into $(VENV)/ (quiet; a few minutes the first time)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@
	@echo "== installed: $(BIN)/studio --help lists the commands"

demo: setup
	@echo "== 1/2: the bundled models, no training: Austen-like text, then a chorale-like piece (.mid, .wav, .png)"
	$(BIN)/studio sample --ckpt lady-susan --prompt "The " --length 300 --temperature 0.8 --top_k 40 --seed 1
	$(BIN)/studio sample --ckpt bach-chorales --seconds 15 --seed 1
	@echo "== 2/2: train the text quickstart yourself (about 4 minutes on a laptop CPU), then sample from it"
	$(BIN)/studio fit --config configs/text/quickstart.yaml --run_name $(RUN)
	$(BIN)/studio sample --ckpt checkpoints/$(RUN)/last.ckpt --prompt "The " --length 500 \
		--temperature 0.8 --top_k 40 --num_samples 4 --seed 1
	@echo "== next: $(BIN)/studio serve, then open http://127.0.0.1:8000/ to generate, listen and watch the run;"
	@echo "   samples are under samples/, the run under checkpoints/$(RUN)/, and $(BIN)/studio models lists the bundles"

# The browser tests drive Debian's Chromium and ChromeDriver (never a downloaded browser), and the
# spoken-digits corpus is said by eSpeak NG. Installed here when missing and this user may (root, or sudo
# without a password); otherwise the tests that need them skip and say why.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo "sudo -n")
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null && command -v espeak-ng >/dev/null || \
		( $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver espeak-ng >/dev/null ) || \
		echo "note: Chromium or eSpeak NG could not be installed; the tests that need them will be skipped"

# The full suite (CI runs it), after the guard rails: lint, format, types and the layers.
test: setup lint browser
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

# The bundled models (studio/bundles/): trained from tools/bundles.yaml, scored, stored; only on purpose.
bundles: setup
	$(BIN)/python tools/make_bundles.py

clean:
	rm -rf $(VENV) build *.egg-info
