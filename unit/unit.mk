# unit/unit.mk: C unit tests and fuzzers for validators.c.
#
# Include it from the top-level makefile (include unit/unit.mk), or use it
# on its own from the repository root:
#
#   make -f unit/unit.mk unit            gcc -O1 -Werror build, run the tests
#   make -f unit/unit.mk unit-asan       clang ASan+UBSan build, run the tests
#   make -f unit/unit.mk unit-valgrind   the gcc build under valgrind memcheck
#   make -f unit/unit.mk fuzz            both libFuzzer targets, FUZZ_SECONDS each
#   make -f unit/unit.mk unit-all        all four
#   make -f unit/unit.mk unit-clean      rm -rf build/unit
#
# Knobs:
#   UNIT_ARGS      extra arguments for test_validators, e.g.
#                  UNIT_ARGS='-k table'   or   UNIT_ARGS=--xfail-bugs
#                  (tests named bug_* are known bugs of validators.c; they
#                  fail the run until fixed unless --xfail-bugs is given)
#   FUZZ_SECONDS   time per fuzz target (default 30)
#   FUZZ_ARGS      extra libFuzzer flags, e.g. FUZZ_ARGS=-jobs=2
#
# Everything is built under build/unit/.  The fuzzers run over a fresh copy
# of unit/corpus/* in build/unit/fuzz-corpus/, so runs never touch the
# repository; crash inputs go to build/unit/fuzz-artifacts/.

UNIT_MK   := $(lastword $(MAKEFILE_LIST))
UNIT_DIR  := $(patsubst %/,%,$(dir $(UNIT_MK)))
UNIT_ROOT := $(patsubst %/,%,$(dir $(UNIT_DIR)))
UNIT_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)

UNIT_BUILD ?= $(UNIT_ROOT)/build/unit
UNIT_CC    ?= gcc
UNIT_CLANG ?= $(firstword $(shell command -v clang-14 clang 2>/dev/null) clang)
UNIT_VALGRIND ?= valgrind

UNIT_APR_CFLAGS := $(shell apr-1-config --cflags --cppflags --includes 2>/dev/null) \
                   $(shell apu-1-config --includes 2>/dev/null)
UNIT_APR_LIBS   := $(shell apu-1-config --link-ld --libs 2>/dev/null) \
                   $(shell apr-1-config --link-ld --libs 2>/dev/null)
UNIT_LIBS       := $(UNIT_APR_LIBS) -lcrypto -lxxhash -lpthread

UNIT_CPPFLAGS := -I$(UNIT_ROOT) $(UNIT_APR_CFLAGS)
UNIT_CFLAGS   := -std=gnu11 -Wall -Wextra -Werror -O1 -g
UNIT_VALIDATORS_CFLAGS ?=
UNIT_SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all \
                  -fno-omit-frame-pointer
# -DFUZZ_IS_VALID_NEEDS_NUL=1 would hand cc_etag_is_valid() NUL-terminated
# copies; by default it gets exact-size buffers, so an out-of-bounds read
# (a bug found this way once) crashes the fuzzer.
UNIT_FUZZ_DEFS ?=

UNIT_ASAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1 \
                 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
UNIT_VALGRIND_FLAGS := --error-exitcode=1 --leak-check=full \
                       --errors-for-leak-kinds=definite,possible \
                       --child-silent-after-fork=no --trace-children=no -q

FUZZ_SECONDS ?= 30
FUZZ_ARGS    ?=
UNIT_FUZZ_CORPUS    := $(UNIT_BUILD)/fuzz-corpus
UNIT_FUZZ_ARTIFACTS := $(UNIT_BUILD)/fuzz-artifacts

UNIT_DEPS := $(UNIT_ROOT)/validators.c $(UNIT_ROOT)/validators.h

.PHONY: unit unit-asan unit-valgrind fuzz fuzz-build fuzz-etag fuzz-table \
        unit-all unit-clean

unit: $(UNIT_BUILD)/gcc/test_validators
	$< $(UNIT_ARGS)

unit-asan: $(UNIT_BUILD)/asan/test_validators
	$(UNIT_ASAN_ENV) $< $(UNIT_ARGS)

# --quick: fewer iterations, processes and smaller files.  Forked children
# stay under valgrind (fork needs no --trace-children); each one checks
# its own errors and leaks at exit and fails through its exit status.
unit-valgrind: $(UNIT_BUILD)/gcc/test_validators
	$(UNIT_VALGRIND) $(UNIT_VALGRIND_FLAGS) $< --quick $(UNIT_ARGS)

fuzz: fuzz-etag fuzz-table

fuzz-build: $(UNIT_BUILD)/fuzz/fuzz_etag $(UNIT_BUILD)/fuzz/fuzz_table

# $(call unit_fuzz_run,name): fresh corpus copy, bounded run, fail on crash
define unit_fuzz_run
	rm -rf $(UNIT_FUZZ_CORPUS)/$(1)
	mkdir -p $(UNIT_FUZZ_CORPUS)/$(1) $(UNIT_FUZZ_ARTIFACTS)
	cp $(UNIT_DIR)/corpus/$(1)/* $(UNIT_FUZZ_CORPUS)/$(1)/
	$(UNIT_ASAN_ENV) $(UNIT_BUILD)/fuzz/fuzz_$(1) \
	    -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 \
	    $(if $(wildcard $(UNIT_DIR)/fuzz_$(1).dict),-dict=$(UNIT_DIR)/fuzz_$(1).dict) \
	    -artifact_prefix=$(UNIT_FUZZ_ARTIFACTS)/$(1)- $(FUZZ_ARGS) \
	    $(UNIT_FUZZ_CORPUS)/$(1)
endef

fuzz-etag: $(UNIT_BUILD)/fuzz/fuzz_etag
	$(call unit_fuzz_run,etag)

fuzz-table: $(UNIT_BUILD)/fuzz/fuzz_table
	$(call unit_fuzz_run,table)

unit-all: unit unit-asan unit-valgrind fuzz

unit-clean:
	rm -rf $(UNIT_BUILD)

# --- builds ---------------------------------------------------------

$(UNIT_BUILD)/gcc/validators.o: $(UNIT_DEPS)
	@mkdir -p $(@D)
	$(UNIT_CC) $(UNIT_CFLAGS) $(UNIT_VALIDATORS_CFLAGS) $(UNIT_CPPFLAGS) \
	    -c $(UNIT_ROOT)/validators.c -o $@

$(UNIT_BUILD)/gcc/test_validators.o: $(UNIT_DIR)/test_validators.c $(UNIT_DEPS)
	@mkdir -p $(@D)
	$(UNIT_CC) $(UNIT_CFLAGS) $(UNIT_CPPFLAGS) -c $< -o $@

$(UNIT_BUILD)/gcc/test_validators: $(UNIT_BUILD)/gcc/test_validators.o \
                                   $(UNIT_BUILD)/gcc/validators.o
	$(UNIT_CC) -g $^ $(UNIT_LIBS) -o $@

$(UNIT_BUILD)/asan/test_validators: $(UNIT_DIR)/test_validators.c $(UNIT_DEPS)
	@mkdir -p $(@D)
	$(UNIT_CLANG) $(UNIT_CFLAGS) $(UNIT_SAN_FLAGS) $(UNIT_CPPFLAGS) \
	    $(UNIT_DIR)/test_validators.c $(UNIT_ROOT)/validators.c \
	    $(UNIT_LIBS) -o $@

$(UNIT_BUILD)/fuzz/validators.o: $(UNIT_DEPS)
	@mkdir -p $(@D)
	$(UNIT_CLANG) $(UNIT_CFLAGS) $(UNIT_SAN_FLAGS) -fsanitize=fuzzer-no-link \
	    $(UNIT_CPPFLAGS) -c $(UNIT_ROOT)/validators.c -o $@

$(UNIT_BUILD)/fuzz/fuzz_%: $(UNIT_DIR)/fuzz_%.c $(UNIT_BUILD)/fuzz/validators.o
	@mkdir -p $(@D)
	$(UNIT_CLANG) $(UNIT_CFLAGS) $(UNIT_SAN_FLAGS) -fsanitize=fuzzer \
	    $(UNIT_FUZZ_DEFS) $(UNIT_CPPFLAGS) $< $(UNIT_BUILD)/fuzz/validators.o \
	    $(UNIT_LIBS) -o $@

# Standalone (make -f unit/unit.mk): `unit` is the default goal; included,
# the including makefile keeps its own.
ifeq ($(firstword $(MAKEFILE_LIST)),$(UNIT_MK))
.DEFAULT_GOAL := unit
else
.DEFAULT_GOAL := $(UNIT_SAVED_DEFAULT_GOAL)
endif
