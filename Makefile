# paperlab: `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Install into the active virtualenv if there is one, else into ./.venv.
VENV ?= $(if $(VIRTUAL_ENV),$(VIRTUAL_ENV),.venv)
PY := $(VENV)/bin/python
# The torch build this project is tested with (on these machines it installs from local disk).
TORCH_PINS := torch==2.14.1 torchvision==0.29.1
FASHION_MNIST := /usr/share/datasets/fashion-mnist
FORTUNES := /usr/share/games/fortunes
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help install data tools test test-all test-torch test-gpu bench lint format clean

help: ## show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

install: ## create the virtualenv, install torch, paperlab (editable, dev extras) and the embedded data
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet $(TORCH_PINS)
	$(PY) -m pip install --quiet -e '.[dev,launchers]'
	@$(MAKE) --no-print-directory data
	@$(MAKE) --no-print-directory tools
	@echo "paperlab installed in $(VENV). Activate it with: source $(VENV)/bin/activate"

data: ## install the embedded data (Debian's dataset-fashion-mnist and fortunes) where apt-get can
	@if [ -f $(FASHION_MNIST)/train-images-idx3-ubyte.gz ]; then \
	  echo "Fashion-MNIST: $(FASHION_MNIST)"; \
	elif command -v apt-get >/dev/null && ( [ -z "$(SUDO)" ] || command -v sudo >/dev/null ); then \
	  $(SUDO) apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q dataset-fashion-mnist >/dev/null; } && \
	  echo "Fashion-MNIST: $(FASHION_MNIST) (apt-get install dataset-fashion-mnist)"; \
	else \
	  echo "warning: no apt-get here; get Fashion-MNIST with 'paperlab train data.download=true data.root=DIR'"; \
	fi
	@if [ -f $(FORTUNES)/wisdom ]; then \
	  echo "English text (fortunes): $(FORTUNES)"; \
	elif command -v apt-get >/dev/null && ( [ -z "$(SUDO)" ] || command -v sudo >/dev/null ); then \
	  $(SUDO) apt-get install -y -q fortunes >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q fortunes >/dev/null; } && \
	  echo "English text (fortunes): $(FORTUNES) (apt-get install fortunes)"; \
	else \
	  echo "warning: no apt-get here; data=fortunes falls back to Python's documentation (data=python_docs)"; \
	fi

tools: ## Debian's chromium where apt-get can: the tests render `paperlab reproduce`'s report.html headless
	@if command -v chromium >/dev/null; then \
	  echo "chromium: $$(command -v chromium)"; \
	elif command -v apt-get >/dev/null && ( [ -z "$(SUDO)" ] || command -v sudo >/dev/null ); then \
	  $(SUDO) apt-get install -y -q chromium >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q chromium >/dev/null; } && \
	  echo "chromium: $$(command -v chromium) (apt-get install chromium)"; \
	else \
	  echo "warning: no apt-get here; the report.html rendering test will be skipped"; \
	fi

test: ## run the test suite (slow tests excluded; under 10 minutes on 2 cores)
	$(PY) -m pytest -m "not slow" -q

test-all: ## run every test, slow ones included
	$(PY) -m pytest -q

# pyproject allows torch >= 2.4: the fast suite against another release, in a venv of its own
# (the pins above stay the default; pip's constraint file on these machines caps the versions)
test-torch: ## the fast suite on another torch, e.g. make test-torch TORCH=2.4.1 TORCHVISION=0.19.1
	@test -n "$(TORCH)" -a -n "$(TORCHVISION)" || { echo "error: name the releases, e.g. make test-torch TORCH=2.4.1 TORCHVISION=0.19.1" >&2; exit 2; }
	@test -x .venv-torch-$(TORCH)/bin/python || python3 -m venv .venv-torch-$(TORCH)
	.venv-torch-$(TORCH)/bin/python -m pip install --quiet torch==$(TORCH) torchvision==$(TORCHVISION)
	.venv-torch-$(TORCH)/bin/python -m pip install --quiet -e '.[dev,launchers]'
	.venv-torch-$(TORCH)/bin/python -m pytest -m "not slow" -q

test-gpu: ## run the GPU tier (tests marked cuda; they skip without a CUDA GPU)
	$(PY) -m pytest -m cuda -q tests/gpu

bench: ## run the benchmarks (ratios against peer libraries, printed side by side)
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

lint: ## ruff check, and import-linter's layer contracts (pyproject.toml)
	$(PY) -m ruff check paperlab tests benchmarks scripts
	$(VENV)/bin/lint-imports

format: ## ruff format + autofix
	$(PY) -m ruff check --fix paperlab tests benchmarks
	$(PY) -m ruff format paperlab tests benchmarks

clean: ## remove caches (keeps .venv and outputs/)
	rm -rf .pytest_cache .ruff_cache build dist *.egg-info
	find . -name __pycache__ -prune -exec rm -rf {} +
