# core.mk: the core units of mod_condcache, listed once for every build
# that uses them: Makefile.apxs (module, tool, hashbench), unit/unit.mk
# (tests, fuzzers) and, through Makefile.apxs, bench/run.
#
#   validators.c  entity tags, coding suffixes, RFC 9110 preconditions
#   cc_digest.c   algorithms and hashing (the only user of CORE_DIGEST_LIBS)
#   cc_table.c    file keys, the shared table, single flight (uses cc_digest)
#   cc_table_file.c  the table kept in a file: safety checks, lock, mapping
#   cc_queue.c    files waiting for the background worker
#   cc_fields.c   integrity fields (RFC 9530) and the Want- fields
#   cc_decode.c   what a precompressed sidecar (.gz, .br, .zst) decodes to,
#                 as a digest (uses cc_digest; the only user of
#                 CORE_DECODE_LIBS: zlib, libbrotlidec, libzstd)
#   cc_variant.c  is a sidecar its original compressed: decided once,
#                 remembered in the table (uses cc_table, cc_decode)
#
# Paths are relative to the repository root.

CORE_VALIDATORS   = validators.c
CORE_DIGEST       = cc_digest.c
CORE_TABLE        = cc_table.c $(CORE_DIGEST)
CORE_TABLE_FILE   = cc_table_file.c
CORE_QUEUE        = cc_queue.c
CORE_FIELDS       = cc_fields.c
CORE_DECODE       = cc_decode.c $(CORE_DIGEST)
CORE_VARIANT      = cc_variant.c cc_decode.c $(CORE_TABLE)
CORE_SOURCES      = $(CORE_VALIDATORS) $(CORE_TABLE) $(CORE_TABLE_FILE) \
                    $(CORE_QUEUE) $(CORE_FIELDS) cc_decode.c cc_variant.c
CORE_HEADERS      = validators.h cc_digest.h cc_table.h cc_table_file.h \
                    cc_queue.h cc_fields.h cc_decode.h cc_variant.h
CORE_DIGEST_LIBS  = -lcrypto -lxxhash
CORE_DECODE_LIBS  = -lz -lbrotlidec -lzstd

CORE_APR_CFLAGS  := $(shell apr-1-config --cflags --cppflags --includes 2>/dev/null) \
                    $(shell apu-1-config --includes 2>/dev/null)
CORE_APR_LIBS    := $(shell apu-1-config --link-ld --libs 2>/dev/null) \
                    $(shell apr-1-config --link-ld --libs 2>/dev/null)
