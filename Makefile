# cnnprof — the README's commands. `make demo` and `make test` install into .venv when needed.
PYTHON ?= python3
VENV   ?= .venv
TORCH  ?= torch==2.13.0
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test demo lint bench clean

install: $(STAMP)

# Torch first and pinned: a bare `torch` would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest

demo: install
	$(BIN)/cnnprof list
	$(BIN)/cnnprof count mobilenet --alpha 0.5 --layers --by op

lint: install
	$(BIN)/ruff check cnnprof tests benchmarks
	$(BIN)/ruff format --check cnnprof tests benchmarks

bench: install
	$(BIN)/python benchmarks/startup.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
