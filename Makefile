# siltdb: two entry points.
#   make demo   build everything (release) and run the C and Python examples
#   make test   everything CI checks: fmt, clippy, Rust tests (incl. header freshness and
#               the crash loop), loom model checks, C tests against libsiltdb.so and
#               libsiltdb.a (plus valgrind and ASan runs), the C++ wrapper's test and
#               example, an install into a temporary prefix used through pkg-config, the
#               ctypes example, Python tests
# Helpers: make header (regenerate include/siltdb.h), make install PREFIX=..., make clean.

CARGO  ?= cargo
CC     := gcc
CXX    := g++
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
MEMCHECK_TESTS := test_arguments test_iterators test_events
ASAN_FLAGS   := -fsanitize=address,undefined -fno-omit-frame-pointer -g
ASAN_ENV     := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
CXX_FLAGS    := -std=c++17 -Wall -Wextra -Werror -Iinclude -pthread

# `make install` puts headers, libsiltdb.so.$(VERSION) (+ .so.0 and .so links), libsiltdb.a
# and siltdb.pc under $(DESTDIR)$(PREFIX).
PREFIX  ?= /usr/local
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
SOMAJOR := $(firstword $(subst ., ,$(VERSION)))

.PHONY: help test demo header clean rust-checks lib c-tests cpp-tests install install-test \
        ctypes-example venv python-module python-tests bench bench-python loom c-asan-tests

help:
	@echo "make demo    build everything and run the examples in examples/c, examples/cpp and examples/python"
	@echo "make test    fmt, clippy, cargo tests, loom models, C tests (shared + static, valgrind),"
	@echo "             ASan C tests, ctypes example, Python tests"
	@echo "make header  regenerate include/siltdb.h from capi/"
	@echo "make install PREFIX=DIR  headers, libsiltdb.so/.a and siltdb.pc under DIR"
	@echo "make bench   db_bench: siltdb and LevelDB side by side (bench-python: vs plyvel)"
	@echo "make clean   remove build outputs and the .venv"

# No trailing message: pytest's summary stays the last line of the run.
test: rust-checks loom c-tests c-asan-tests cpp-tests install-test ctypes-example python-tests

demo: lib python-module
	@mkdir -p $(BUILD)
	$(CC) $(C_FLAGS) examples/c/hello.c -o $(BUILD)/hello $(LINK_SHARED)
	rm -rf $(BUILD)/hello-c && mkdir -p $(BUILD)/hello-c
	$(BUILD)/hello $(BUILD)/hello-c
	$(VPY) examples/python/hello.py
	@mkdir -p $(BUILD)/cpp
	$(CXX) $(CXX_FLAGS) examples/cpp/hello.cpp -o $(BUILD)/cpp/hello $(LINK_SHARED)
	rm -rf $(BUILD)/hello-cpp && mkdir -p $(BUILD)/hello-cpp
	$(BUILD)/cpp/hello $(BUILD)/hello-cpp
	$(CC) $(C_FLAGS) examples/c/observe_flush.c -o $(BUILD)/observe_flush $(LINK_SHARED)
	rm -rf $(BUILD)/observe-c && mkdir -p $(BUILD)/observe-c
	$(BUILD)/observe_flush $(BUILD)/observe-c
	$(VPY) examples/python/observe_flush.py

rust-checks:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) test --workspace
	# The 2-million-random-key load runs in release (its debug twin runs 200,000 keys).
	$(CARGO) test --release -p siltdb --test compaction_keeps_random_load_flowing

# loom model checks of the event thread's hand-offs (core/src/db/notifier.rs), of the
# writer queue behind group commit (core/src/db/writer_queue.rs) and of the memtable
# skiplist's publication of new nodes (core/src/memtable/skiplist.rs), through the
# core/src/sync.rs shim. Own target directory: --cfg loom would otherwise invalidate the
# release build of the library. LOOM_MAX_PREEMPTIONS=3 takes seconds; 4 takes a minute.
LOOM_MAX_PREEMPTIONS ?= 3
loom:
	RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=$(TARGET_DIR)/loom \
	    LOOM_MAX_PREEMPTIONS=$(LOOM_MAX_PREEMPTIONS) \
	    $(CARGO) test -p siltdb --release --lib ::loom

# Not part of `make test`: benchmarks take minutes and their figures are machine-bound.
bench:
	$(CARGO) run --release -p siltdb-bench -- --num=1000000
	$(CARGO) run --release -p siltdb-bench -- --benchmarks=flush --write_buffer_size=4194304
	$(CARGO) run --release -p siltdb-bench -- --benchmarks=flush --write_buffer_size=67108864
	$(CARGO) run --release -p siltdb-bench -- --benchmarks=fillsync --threads=4 --num=3000000

# Two rounds, engines alternating, best of each: one slow round on a busy machine does not
# set the ratio. plyvel is built from source against the system LevelDB (libleveldb-dev).
bench-python: python-module
	$(VPY) -m pip install -q --no-binary plyvel plyvel || echo "plyvel not built: bench_python.py reports it SKIPPED"
	$(VPY) bench/python/bench_python.py --num=1000000 --rounds=2

# The library's soname is libsiltdb.so.0 (capi/build.rs): programs linked with -lsiltdb
# look for that name, so it sits beside libsiltdb.so.
lib:
	$(CARGO) build --release -p siltdb-capi
	ln -sf libsiltdb.so $(RELEASE)/libsiltdb.so.$(SOMAJOR)

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
	@# Memcheck over the misuse, iterator and callback tests: invalid reads or writes, or
	@# a definite leak, fail the run ("possibly lost" thread-local state is not a leak).
	@set -e; if command -v valgrind >/dev/null; then \
	    for name in $(MEMCHECK_TESTS); do \
	        echo "== $$name under valgrind memcheck"; \
	        valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
	            --show-possibly-lost=no $(BUILD)/c/$$name-shared; \
	    done; \
	else echo "SKIPPED: valgrind not installed (memcheck of the C tests)"; fi

# A second net beside valgrind: every C test built with ASan and UBSan (the library itself
# is not instrumented, but its heap goes through ASan's malloc, so leaks and misuse of
# buffers it hands out are caught) and run against libsiltdb.so. Skipped with a SKIPPED
# line where $(CC) cannot build and run a sanitized program.
c-asan-tests: lib
	@mkdir -p $(BUILD)/c-asan
	@set -e; if echo 'int main(void) { return 0; }' \
	        | $(CC) $(ASAN_FLAGS) -x c - -o $(BUILD)/c-asan/probe 2>/dev/null \
	        && $(ASAN_ENV) $(BUILD)/c-asan/probe 2>/dev/null; then \
	    for src in $(C_TESTS); do \
	        name=$$(basename $$src .c); \
	        echo "$(CC) $$src (ASan + UBSan)"; \
	        $(CC) $(C_FLAGS) $(ASAN_FLAGS) $$src -o $(BUILD)/c-asan/$$name $(LINK_SHARED); \
	        echo "== $$name under ASan + UBSan"; $(ASAN_ENV) $(BUILD)/c-asan/$$name; \
	    done; \
	else echo "SKIPPED: $(CC) cannot build and run with $(ASAN_FLAGS) (ASan run of the C tests)"; fi

# The C++ wrapper include/siltdb.hpp: its test, and its example run in a fresh directory.
cpp-tests: lib
	@mkdir -p $(BUILD)/cpp
	$(CXX) $(CXX_FLAGS) tests/cpp/test_wrapper.cpp -o $(BUILD)/cpp/test_wrapper $(LINK_SHARED)
	$(CXX) $(CXX_FLAGS) examples/cpp/hello.cpp -o $(BUILD)/cpp/hello $(LINK_SHARED)
	rm -rf $(BUILD)/hello-cpp && mkdir -p $(BUILD)/hello-cpp
	$(BUILD)/cpp/hello $(BUILD)/hello-cpp
	@echo "== test_wrapper (C++)"; $(BUILD)/cpp/test_wrapper

install: lib
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 include/siltdb.h include/siltdb.hpp $(DESTDIR)$(PREFIX)/include/
	install -m 755 $(RELEASE)/libsiltdb.so $(DESTDIR)$(PREFIX)/lib/libsiltdb.so.$(VERSION)
	ln -sf libsiltdb.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libsiltdb.so.$(SOMAJOR)
	ln -sf libsiltdb.so.$(SOMAJOR) $(DESTDIR)$(PREFIX)/lib/libsiltdb.so
	install -m 644 $(RELEASE)/libsiltdb.a $(DESTDIR)$(PREFIX)/lib/libsiltdb.a
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' capi/siltdb.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/siltdb.pc

# Installs into a scratch prefix and builds examples/c/hello.c as a user would, flags from
# pkg-config; the program must record the soname and run against the installed library.
INSTALL_TEST_PREFIX := $(abspath $(BUILD))/install-test
install-test:
	rm -rf $(INSTALL_TEST_PREFIX) $(BUILD)/hello-installed-db
	$(MAKE) --no-print-directory install PREFIX=$(INSTALL_TEST_PREFIX)
	$(CC) -std=c11 -Wall -Wextra -Werror examples/c/hello.c -o $(BUILD)/hello-installed \
	    $$(PKG_CONFIG_PATH=$(INSTALL_TEST_PREFIX)/lib/pkgconfig pkg-config --cflags --libs siltdb)
	readelf -d $(BUILD)/hello-installed | grep -q 'NEEDED.*\[libsiltdb.so.$(SOMAJOR)\]'
	mkdir -p $(BUILD)/hello-installed-db
	LD_LIBRARY_PATH=$(INSTALL_TEST_PREFIX)/lib $(BUILD)/hello-installed $(BUILD)/hello-installed-db
	@echo "== installed library: hello via pkg-config ok"

# libsiltdb.so from plain ctypes: no siltdb module, no venv.
ctypes-example: lib
	SILTDB_LIB=$(abspath $(RELEASE))/libsiltdb.so $(PYTHON) examples/python/ctypes_flush.py

$(VPY):
	$(PYTHON) -m venv $(VENV)

venv: $(VPY)
	$(VPY) -m pip install -q maturin pytest
	@# plyvel (built against the system LevelDB) lets tests/python compare siltdb with it.
	$(VPY) -m pip install -q --no-binary plyvel plyvel 2>/dev/null \
	    || echo "plyvel not installed (needs libleveldb-dev): the plyvel comparison is skipped"

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
