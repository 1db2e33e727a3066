# Two commands on a fresh machine: `make demo` (the main job) and `make test`.
# Each creates .venv and installs what it needs on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.fbh-installed
DEV_STAMP := $(VENV)/.fbh-dev-installed
NODE_STAMP := contracts/node_modules/.fbh-installed
SOURCES := pyproject.toml CMakeLists.txt $(wildcard csrc/*.cpp csrc/*.h)

# Offline machines that keep the datasets beside the checkout (as CI does) use them.
ifneq ($(wildcard ../shared/data/mnist),)
export FBH_DATA_DIR ?= $(abspath ../shared/data)
endif

.PHONY: install demo test bench contracts node clean native-check cross-tools

install: $(DEV_STAMP)

# fbh itself: all `make demo` needs.
$(STAMP): $(SOURCES)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "scikit-build-core>=0.10" "pybind11>=2.13" ninja
	# No build isolation: the build uses the venv's pybind11/scikit-build-core and needs no network.
	$(BIN)/python -m pip install -q --no-build-isolation -e . -Cbuild-dir=build/dev
	touch $@

# The test and benchmark extras (Flower with ray, coincurve, ...): the main job never downloads them.
$(DEV_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q --no-build-isolation -e ".[test,bench]" -Cbuild-dir=build/dev
	touch $@

# Node is only needed by tests (anvil, recompiling contracts), never to run fbh.
node: $(NODE_STAMP)

$(NODE_STAMP): contracts/package.json contracts/package-lock.json
	npm ci --prefix contracts --no-audit --no-fund --loglevel=error
	touch $@

# The main job: 3 encrypted rounds (constant-time, guardians, range checks, embedded chain) of
# 5 hospitals on a 20,000-image subset, so that install plus run stays within 5 minutes on a
# 2-core machine.
demo: $(STAMP)
	$(BIN)/fbh run --clients 5 --train-examples 20000

test: $(DEV_STAMP) $(NODE_STAMP)
	$(BIN)/python -m pytest

# Benchmarks are not tests: they print tables of ratios against same-run baselines.
bench: $(DEV_STAMP) $(NODE_STAMP)
	$(BIN)/fbh bench crypto
	$(BIN)/fbh bench train
	$(BIN)/fbh bench chain
	$(BIN)/fbh bench round --fast-crypto
	$(BIN)/fbh bench flower

# The C++ core's self-test driver, natively and for aarch64 under qemu-user (tests/native).
native-check: $(DEV_STAMP)
	$(BIN)/python -m pytest tests/native -q

# Debian's aarch64 cross compiler and qemu-user for native-check (root; .ci/run calls it).
cross-tools:
	@if command -v aarch64-linux-gnu-g++ >/dev/null && command -v qemu-aarch64 >/dev/null; then \
	  echo "aarch64 cross toolchain and qemu-aarch64 present"; \
	else \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    g++-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user >/dev/null; \
	fi

contracts: $(NODE_STAMP)
	node contracts/compile.mjs

clean:
	rm -rf build $(VENV) contracts/node_modules
