# unit/unit.mk: C unit tests and fuzzers of the core units (core.mk).
#
# Include it from the top-level makefile (include unit/unit.mk), or use it
# on its own from the repository root:
#
#   make -f unit/unit.mk unit            gcc -O1 -Werror build, run the tests
#   make -f unit/unit.mk unit-asan       clang ASan+UBSan build, run the tests
#   make -f unit/unit.mk unit-valgrind   the gcc build under valgrind memcheck
#   make -f unit/unit.mk fuzz            the libFuzzer targets, FUZZ_SECONDS each
#   make -f unit/unit.mk fuzz-etag       one of them (or fuzz-table, fuzz-fields,
#                                        fuzz-decode)
#   make -f unit/unit.mk unit-all        unit, unit-asan, unit-valgrind, fuzz
#   make -f unit/unit.mk unit-clean      rm -rf build/unit
#
# One test program per core unit, each linked with that unit only (and
# what it uses), so a unit is tested without the libraries it does not
# need:
#
#   test_validators   validators.c              APR
#   test_digest       cc_digest.c               APR, libcrypto, libxxhash
#   test_table        cc_table.c cc_digest.c    APR, libcrypto, libxxhash
#   test_queue        cc_queue.c                APR
#   test_table_file   cc_table_file.c cc_table.c cc_digest.c
#                                               APR, libcrypto, libxxhash
#   test_fields       cc_fields.c               APR
#   test_decode       cc_decode.c cc_digest.c   APR, libcrypto, libxxhash,
#                                               zlib, libbrotlidec, libzstd
#                     (and, at test time, the gzip, brotli and zstd
#                     commands, which make its sidecars)
#   fuzz_etag         validators.c              APR
#   fuzz_table        cc_table.c cc_digest.c    APR, libcrypto, libxxhash
#   fuzz_fields       cc_fields.c               APR
#   fuzz_decode       cc_decode.c cc_digest.c   as test_decode
#
# The lists come from core.mk (CORE_VALIDATORS, CORE_DIGEST, CORE_TABLE,
# CORE_QUEUE, CORE_TABLE_FILE, CORE_FIELDS, CORE_DECODE, CORE_HEADERS,
# CORE_DIGEST_LIBS, CORE_DECODE_LIBS, CORE_APR_*):
# read by the including makefile, or here when this file is used on its
# own.  The framework the tests share is unit/unit_test.h and
# unit/unit_test.c.
#
# Knobs:
#   UNIT_TESTS     which programs `unit`, `unit-asan` and `unit-valgrind`
#                  run (default: validators digest table queue
#                  table_file fields decode)
#   UNIT_ARGS      extra arguments for every test program, e.g.
#                  UNIT_ARGS='-k table'   or   UNIT_ARGS=--xfail-bugs
#                  (tests named bug_* are known bugs of the unit under
#                  test; they fail the run until fixed unless --xfail-bugs
#                  is given); every program runs even when one fails
#   UNIT_CORE_CFLAGS  extra flags for the core units in the test builds
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

# Makefile.apxs has read core.mk already; on our own, read it here.
ifndef CORE_TABLE
include $(UNIT_ROOT)/core.mk
endif

UNIT_BUILD ?= $(UNIT_ROOT)/build/unit
UNIT_CC    ?= gcc
UNIT_CLANG ?= $(firstword $(shell command -v clang-14 clang 2>/dev/null) clang)
UNIT_VALGRIND ?= valgrind

UNIT_TESTS ?= validators digest table queue table_file fields decode variant

UNIT_CPPFLAGS := -I$(UNIT_ROOT) $(CORE_APR_CFLAGS)
UNIT_CFLAGS   := -std=gnu11 -Wall -Wextra -Werror -O1 -g
# UNIT_VALIDATORS_CFLAGS: the name this knob had when there was one unit
UNIT_CORE_CFLAGS ?= $(UNIT_VALIDATORS_CFLAGS)
UNIT_SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all \
                  -fno-omit-frame-pointer
# -DFUZZ_IS_VALID_NEEDS_NUL=1 would hand cc_etag_is_valid() NUL-terminated
# copies; by default it gets exact-size buffers, so an out-of-bounds read
# (a bug found this way once) crashes the fuzzer.
UNIT_FUZZ_DEFS ?=

UNIT_ASAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1 \
                 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# --fair-sched: valgrind runs one thread at a time, and its default lock
# lets a thread that hashes keep the CPU until it is done, so the threads
# of a single-flight test would never meet
UNIT_VALGRIND_FLAGS := --error-exitcode=1 --leak-check=full \
                       --errors-for-leak-kinds=definite,possible \
                       --child-silent-after-fork=no --trace-children=no \
                       --fair-sched=yes -q

FUZZ_SECONDS ?= 30
FUZZ_ARGS    ?=
UNIT_FUZZ_CORPUS    := $(UNIT_BUILD)/fuzz-corpus
UNIT_FUZZ_ARTIFACTS := $(UNIT_BUILD)/fuzz-artifacts

# --- what each program links, from core.mk ---------------------------

UNIT_CORE_test_validators := $(CORE_VALIDATORS)
UNIT_CORE_test_digest     := $(CORE_DIGEST)
UNIT_CORE_test_table      := $(CORE_TABLE)
UNIT_CORE_test_queue      := $(CORE_QUEUE)
UNIT_CORE_test_table_file := $(CORE_TABLE_FILE) $(CORE_TABLE)
UNIT_CORE_test_fields     := $(CORE_FIELDS)
UNIT_CORE_test_decode     := $(CORE_DECODE)
UNIT_CORE_test_variant    := $(CORE_VARIANT)
UNIT_CORE_fuzz_etag       := $(CORE_VALIDATORS)
UNIT_CORE_fuzz_table      := $(CORE_TABLE)
UNIT_CORE_fuzz_fields     := $(CORE_FIELDS)
UNIT_CORE_fuzz_decode     := $(CORE_DECODE)

UNIT_EXTRA_LIBS_test_table := -pthread
# test_table_file changes a file between cc_table_file.c's lstat() and its
# open(): every open() of the program goes through its __wrap_open()
UNIT_EXTRA_LIBS_test_table_file := -Wl,--wrap=open

UNIT_HEADERS := $(addprefix $(UNIT_ROOT)/,$(CORE_HEADERS))
# sf_ref.h: the reference RFC 9651 parser of test_fields and fuzz_fields
UNIT_FRAMEWORK_DEPS := $(UNIT_DIR)/unit_test.h $(UNIT_DIR)/sf_ref.h

# $(call unit_core_objs,flavour,program): its core objects in that build
unit_core_objs = $(patsubst %.c,$(UNIT_BUILD)/$(1)/core/%.o,$(UNIT_CORE_$(2)))
# $(call unit_libs,program): APR, libcrypto/libxxhash only for what links
# cc_digest.c, and zlib/libbrotlidec/libzstd only for what links cc_decode.c
UNIT_DECODE_SRC := $(filter-out $(CORE_DIGEST),$(CORE_DECODE))
unit_libs = $(CORE_APR_LIBS) \
            $(if $(filter $(CORE_DIGEST),$(UNIT_CORE_$(1))),$(CORE_DIGEST_LIBS)) \
            $(if $(filter $(UNIT_DECODE_SRC),$(UNIT_CORE_$(1))),$(CORE_DECODE_LIBS)) \
            $(UNIT_EXTRA_LIBS_$(1))

UNIT_GCC_BINS  = $(UNIT_TESTS:%=$(UNIT_BUILD)/gcc/test_%)
UNIT_ASAN_BINS = $(UNIT_TESTS:%=$(UNIT_BUILD)/asan/test_%)

.PHONY: unit unit-asan unit-valgrind unit-build fuzz fuzz-build fuzz-etag \
        fuzz-table fuzz-fields fuzz-decode unit-all unit-clean

# $(call unit_run,command prefix,programs,arguments): runs every program
# (even after one failed), each command shown; fails if any failed.
define unit_run
@rc=0; for t in $(2); do \
    echo "$(strip $(1) $$t $(3))"; \
    $(1) $$t $(3) || { echo "*** $$t failed"; rc=1; }; \
done; exit $$rc
endef

unit-build: $(UNIT_GCC_BINS) $(UNIT_ASAN_BINS)

unit: $(UNIT_GCC_BINS)
	$(call unit_run,,$^,$(UNIT_ARGS))

unit-asan: $(UNIT_ASAN_BINS)
	$(call unit_run,$(UNIT_ASAN_ENV),$^,$(UNIT_ARGS))

# --quick: fewer iterations, processes and smaller files.  Forked children
# stay under valgrind (fork needs no --trace-children); each one checks
# its own errors and leaks at exit and fails through its exit status.
unit-valgrind: $(UNIT_GCC_BINS)
	$(call unit_run,$(UNIT_VALGRIND) $(UNIT_VALGRIND_FLAGS),$^,--quick $(UNIT_ARGS))

fuzz: fuzz-etag fuzz-table fuzz-fields fuzz-decode

fuzz-build: $(UNIT_BUILD)/fuzz/fuzz_etag $(UNIT_BUILD)/fuzz/fuzz_table \
            $(UNIT_BUILD)/fuzz/fuzz_fields $(UNIT_BUILD)/fuzz/fuzz_decode

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

fuzz-fields: $(UNIT_BUILD)/fuzz/fuzz_fields
	$(call unit_fuzz_run,fields)

fuzz-decode: $(UNIT_BUILD)/fuzz/fuzz_decode
	$(call unit_fuzz_run,decode)

unit-all: unit unit-asan unit-valgrind fuzz

unit-clean:
	rm -rf $(UNIT_BUILD)

# --- builds ---------------------------------------------------------
#
# Three flavours, each in its own directory: gcc (plain, also what
# valgrind runs), asan (clang, ASan+UBSan) and fuzz (clang, ASan+UBSan,
# libFuzzer).  Core units go to FLAVOUR/core/, tests and the framework to
# FLAVOUR/.

$(UNIT_BUILD)/gcc/core/%.o: $(UNIT_ROOT)/%.c $(UNIT_HEADERS)
	@mkdir -p $(@D)
	$(UNIT_CC) $(UNIT_CFLAGS) $(UNIT_CORE_CFLAGS) $(UNIT_CPPFLAGS) -c $< -o $@

$(UNIT_BUILD)/gcc/%.o: $(UNIT_DIR)/%.c $(UNIT_FRAMEWORK_DEPS) $(UNIT_HEADERS)
	@mkdir -p $(@D)
	$(UNIT_CC) $(UNIT_CFLAGS) $(UNIT_CPPFLAGS) -c $< -o $@

$(UNIT_BUILD)/asan/core/%.o: $(UNIT_ROOT)/%.c $(UNIT_HEADERS)
	@mkdir -p $(@D)
	$(UNIT_CLANG) $(UNIT_CFLAGS) $(UNIT_SAN_FLAGS) $(UNIT_CORE_CFLAGS) \
	    $(UNIT_CPPFLAGS) -c $< -o $@

$(UNIT_BUILD)/asan/%.o: $(UNIT_DIR)/%.c $(UNIT_FRAMEWORK_DEPS) $(UNIT_HEADERS)
	@mkdir -p $(@D)
	$(UNIT_CLANG) $(UNIT_CFLAGS) $(UNIT_SAN_FLAGS) $(UNIT_CPPFLAGS) -c $< -o $@

$(UNIT_BUILD)/fuzz/core/%.o: $(UNIT_ROOT)/%.c $(UNIT_HEADERS)
	@mkdir -p $(@D)
	$(UNIT_CLANG) $(UNIT_CFLAGS) $(UNIT_SAN_FLAGS) -fsanitize=fuzzer-no-link \
	    $(UNIT_CPPFLAGS) -c $< -o $@

# $(call unit_test_rules,program): the gcc and asan links of test_PROGRAM
define unit_test_rules
$(UNIT_BUILD)/gcc/test_$(1): $(UNIT_BUILD)/gcc/test_$(1).o \
        $(UNIT_BUILD)/gcc/unit_test.o $(call unit_core_objs,gcc,test_$(1))
	$$(UNIT_CC) -g $$^ $(call unit_libs,test_$(1)) -o $$@

$(UNIT_BUILD)/asan/test_$(1): $(UNIT_BUILD)/asan/test_$(1).o \
        $(UNIT_BUILD)/asan/unit_test.o $(call unit_core_objs,asan,test_$(1))
	$$(UNIT_CLANG) $$(UNIT_SAN_FLAGS) $$^ $(call unit_libs,test_$(1)) -o $$@
endef

# $(call unit_fuzz_rules,name): fuzz_NAME, with only the units it tests
define unit_fuzz_rules
$(UNIT_BUILD)/fuzz/fuzz_$(1): $(UNIT_DIR)/fuzz_$(1).c $(UNIT_HEADERS) \
        $(UNIT_DIR)/sf_ref.h $(UNIT_DIR)/fuzz_assert.h \
        $(call unit_core_objs,fuzz,fuzz_$(1))
	@mkdir -p $$(@D)
	$$(UNIT_CLANG) $$(UNIT_CFLAGS) $$(UNIT_SAN_FLAGS) -fsanitize=fuzzer \
	    $$(UNIT_FUZZ_DEFS) $$(UNIT_CPPFLAGS) $$< \
	    $(call unit_core_objs,fuzz,fuzz_$(1)) $(call unit_libs,fuzz_$(1)) -o $$@
endef

$(foreach p,validators digest table queue table_file fields decode variant,$(eval $(call unit_test_rules,$(p))))
$(foreach f,etag table fields decode,$(eval $(call unit_fuzz_rules,$(f))))

# Standalone (make -f unit/unit.mk): `unit` is the default goal; included,
# the including makefile keeps its own.
ifeq ($(firstword $(MAKEFILE_LIST)),$(UNIT_MK))
.DEFAULT_GOAL := unit
else
.DEFAULT_GOAL := $(UNIT_SAVED_DEFAULT_GOAL)
endif
