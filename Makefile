# siltdb: two entry points.
#   make demo   build everything (release) and run the C and Python hello examples
#   make test   everything CI checks: fmt, clippy, Rust tests (incl. header freshness),
#               C tests against libsiltdb.so and libsiltdb.a, Python tests
# Helpers: make header (regenerate include/siltdb.h), make clean.

CARGO  ?= cargo
CC     := gcc
PYTHON ?= python3

# Where cargo puts its output: $CARGO_TARGET_DIR if set, else ./target. Exported so that
# `make TARGET_DIR=...` steers cargo too.
TARGET_DIR ?= $(or $(CARGO_TARGET_DIR),target)
export CARGO_TARGET_DIR := $(TARGET_DIR)
RELEASE := $(TARGET_DIR)/release

BUILD := build
VENV  := .venv
VPY   := $(VENV)/bin/python

C_FLAGS      := -std=c11 -Wall -Wextra -Werror -Iinclude -pthread
LINK_SHARED  := -L$(RELEASE) -lsiltdb -Wl,-rpath,$(abspath $(RELEASE))
LINK_STATIC  := $(RELEASE)/libsiltdb.a -lpthread -ldl -lm
C_TESTS      := $(wildcard tests/c/*.c)

.PHONY: help test demo header clean rust-checks lib c-tests venv python-module python-tests

help:
	@echo "make demo    build everything and run examples/c/hello.c and examples/python/hello.py"
	@echo "make test    fmt, clippy, cargo tests, C tests (shared + static), Python tests"
	@echo "make header  regenerate include/siltdb.h from capi/"
	@echo "make clean   remove build outputs and the .venv"

# No trailing message: pytest's summary stays the last line of the run.
test: rust-checks c-tests python-tests

demo: lib python-module
	@mkdir -p $(BUILD)
	$(CC) $(C_FLAGS) examples/c/hello.c -o $(BUILD)/hello $(LINK_SHARED)
	rm -rf $(BUILD)/hello-c && mkdir -p $(BUILD)/hello-c
	$(BUILD)/hello $(BUILD)/hello-c
	$(VPY) examples/python/hello.py

rust-checks:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) test --workspace

lib:
	$(CARGO) build --release -p siltdb-capi

# Each C test is built twice, against libsiltdb.so and statically against libsiltdb.a,
# and both builds must pass.
c-tests: lib
	@mkdir -p $(BUILD)/c
	@set -e; for src in $(C_TESTS); do \
	    name=$$(basename $$src .c); \
	    echo "$(CC) $$src (shared, static)"; \
	    $(CC) $(C_FLAGS) $$src -o $(BUILD)/c/$$name-shared $(LINK_SHARED); \
	    $(CC) $(C_FLAGS) $$src -o $(BUILD)/c/$$name-static $(LINK_STATIC); \
	    echo "== $$name (libsiltdb.so)"; $(BUILD)/c/$$name-shared; \
	    echo "== $$name (libsiltdb.a)"; $(BUILD)/c/$$name-static; \
	done

$(VPY):
	$(PYTHON) -m venv $(VENV)

venv: $(VPY)
	$(VPY) -m pip install -q maturin pytest

# Builds the extension with the venv's maturin (no isolated build env to download);
# the backend runs `maturin` from PATH, hence the venv's bin first.
python-module: venv
	PATH="$(abspath $(VENV))/bin:$$PATH" $(VPY) -m pip install -q --no-build-isolation ./python

python-tests: python-module
	$(VPY) -m pytest -q tests/python

header:
	SILTDB_UPDATE_HEADER=1 $(CARGO) test -p siltdb-capi --test header_is_fresh

clean:
	$(CARGO) clean
	rm -rf $(BUILD) $(VENV)
