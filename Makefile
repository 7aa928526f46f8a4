# cnnprof — the README's commands. `make demo` and `make test` install into .venv when needed.
PYTHON ?= python3
VENV   ?= .venv
TORCH  ?= torch==2.13.0
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BENCH  ?= .venv-bench
BENCH_BIN   := $(BENCH)/bin
BENCH_STAMP := $(BENCH)/.installed
# The zoo's side environment (outside CI): the only torchvision that runs here, and timm.
ZOO    ?= .venv-zoo
ZOO_STAMP := $(ZOO)/.installed
ZOO_PINS  ?= torch==2.14.1 torchvision==0.29.1 timm==1.0.31
# The zoo's ONNX pass: export (onnxscript for the dynamo exporter), count and run the files.
ZOO_ONNX  ?= onnx onnxscript onnxruntime

.PHONY: install test demo lint bench zoo clean

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

# The peers (fvcore, ptflops, thop) live only in the bench venv; torch pinned as for .venv.
# Each benchmark prints PASS/FAIL against its target; a miss does not stop the others.
$(BENCH_STAMP): pyproject.toml Makefile
	test -x $(BENCH_BIN)/python || $(PYTHON) -m venv $(BENCH)
	$(BENCH_BIN)/python -m pip install -q "$(TORCH)"
	$(BENCH_BIN)/python -m pip install -q -e . fvcore ptflops thop torchinfo
	touch $(BENCH_STAMP)

bench: install $(BENCH_STAMP)
	-$(BIN)/python benchmarks/startup.py
	-$(BENCH_BIN)/python benchmarks/peers.py --python $(BENCH_BIN)/python
	-$(BIN)/python benchmarks/latency.py

# `make zoo ZOO=/path/to/venv` uses an environment that already has the pins.
$(ZOO_STAMP):
	test -x $(ZOO)/bin/python || $(PYTHON) -m venv $(ZOO)
	$(ZOO)/bin/python -m pip install -q $(ZOO_PINS)
	$(ZOO)/bin/python -m pip install -q $(ZOO_ONNX)
	$(ZOO)/bin/python -m pip install -q -e .
	touch $(ZOO_STAMP)

zoo: $(ZOO_STAMP)
	$(ZOO)/bin/python benchmarks/zoo.py

clean:
	rm -rf $(VENV) $(BENCH) $(ZOO) build *.egg-info .pytest_cache
