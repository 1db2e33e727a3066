# Two commands on a fresh machine: `make demo` (the main job) and `make test`.
# Each creates .venv and installs what it needs on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.fbh-installed
NODE_STAMP := contracts/node_modules/.fbh-installed
SOURCES := pyproject.toml CMakeLists.txt $(wildcard csrc/*.cpp csrc/*.h)

# Offline machines that keep the datasets beside the checkout (as CI does) use them.
ifneq ($(wildcard ../shared/data/mnist),)
export FBH_DATA_DIR ?= $(abspath ../shared/data)
endif

.PHONY: install demo test bench contracts node clean

install: $(STAMP)

$(STAMP): $(SOURCES)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "scikit-build-core>=0.10" "pybind11>=2.13" ninja
	# No build isolation: the build uses the venv's pybind11/scikit-build-core and needs no network.
	$(BIN)/python -m pip install -q --no-build-isolation -e ".[test,bench]" -Cbuild-dir=build/dev
	touch $@

# Node is only needed by tests (anvil, recompiling contracts), never to run fbh.
node: $(NODE_STAMP)

$(NODE_STAMP): contracts/package.json contracts/package-lock.json
	npm ci --prefix contracts --no-audit --no-fund --loglevel=error
	touch $@

demo: $(STAMP)
	$(BIN)/fbh run

test: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m pytest

# Benchmarks are not tests: they print tables of ratios against same-run baselines.
bench: $(STAMP) $(NODE_STAMP)
	$(BIN)/fbh bench crypto
	$(BIN)/fbh bench train
	$(BIN)/fbh bench chain
	$(BIN)/fbh bench round --fast-crypto

contracts: $(NODE_STAMP)
	node contracts/compile.mjs

clean:
	rm -rf build $(VENV) contracts/node_modules
