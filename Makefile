# The README's commands. Each one installs the Debian packages it needs first
# (scripts/install-deps: apt-get as root, otherwise it prints the command to run).
#
#   make check      build and run every test suite (C++, Tcl, Perl)
#   make demo       build and run the demonstration
#   make asan       every test suite again under -fsanitize=address,undefined
#   make tsan       the shared memory and robust mutex tests under -fsanitize=thread (quick)
#   make bench      benchmarks against the alternatives (Release build)
#   make stress     the long variants of the load and fault tests (a few minutes)
#   make fuzz       build the libFuzzer harnesses with clang and run them FUZZ_SECONDS (60)
#   make valgrind   the Tcl and Perl suites and the mmipc tool under valgrind (memcheck)
#   make install    PREFIX=/usr/local DESTDIR= : library, headers, Tcl packages, Perl module,
#                   the mmipc tool with its man page and bash completion
#   make format     clang-format the sources; make format-check only checks
#   make dist       the release tarballs in DIST_DIR (build/dist): Sys-Mmap-<version>.tar.gz,
#                   the standalone Perl distribution, and mmipc-<version>.tar.gz (git archive)

PREFIX ?= /usr/local
DESTDIR ?=
JOBS ?= $(shell nproc)
CMAKE_ARGS ?=
FUZZ_SECONDS ?= 60
DIST_DIR ?= build/dist

# Mmap.xs too: its C++ part (the XS part below MODULE turns clang-format off).
SOURCES = $(shell git ls-files '*.cpp' '*.hpp' '*.h' '*.xs' 2>/dev/null)

.PHONY: all deps build check asan tsan demo install bench stress fuzz valgrind format format-check dist clean

all: build

deps:
	@scripts/install-deps check

build: deps
	cmake --preset default -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_ARGS) >/dev/null
	cmake --build build/default -j $(JOBS)

check: build
	ctest --test-dir build/default --output-on-failure -j $(JOBS) -LE stress

asan: deps
	cmake --preset asan $(CMAKE_ARGS) >/dev/null
	cmake --build build/asan -j $(JOBS)
	ctest --test-dir build/asan --output-on-failure -j $(JOBS) -LE stress

tsan: deps
	cmake --preset tsan $(CMAKE_ARGS) >/dev/null
	cmake --build build/tsan -j $(JOBS)
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	  ctest --test-dir build/tsan --output-on-failure -j $(JOBS)

stress: build
	ctest --test-dir build/default --output-on-failure -j $(JOBS) -L stress

fuzz:
	@scripts/install-deps fuzz
	cmake --preset fuzz $(CMAKE_ARGS) >/dev/null
	cmake --build build/fuzz -j $(JOBS)
	scripts/run-fuzzers build/fuzz $(FUZZ_SECONDS)

demo: build
	@scripts/demo build/default

valgrind: build
	@scripts/install-deps valgrind
	scripts/valgrind build/default

install: build
	DESTDIR=$(DESTDIR) cmake --install build/default

# clang-format alone (scripts/install-deps format), not the whole toolchain.
format:
	@scripts/install-deps format
	clang-format -i $(SOURCES)

format-check:
	@scripts/install-deps format
	@clang-format --dry-run -Werror $(SOURCES) && echo "format-check: $(words $(SOURCES)) files formatted"

# QUICK=1: smaller sizes and fewer repetitions, under a minute.
bench:
	@scripts/install-deps bench
	cmake --preset release $(CMAKE_ARGS) >/dev/null
	cmake --build build/release -j $(JOBS)
	bench/run --build build/release $(if $(QUICK),--quick)

dist: deps
	@scripts/make-dist $(DIST_DIR)

clean:
	rm -rf build
