/* unit/fuzz_assert.h: the fuzzers' assertion.  A failed one prints the
 * program, the place, the condition and a message, then aborts, which
 * libFuzzer reports as a crash and keeps the input for.
 *
 * Define FUZZ_PROGRAM ("fuzz_etag") before including it. */
#ifndef CONDCACHE_UNIT_FUZZ_ASSERT_H
#define CONDCACHE_UNIT_FUZZ_ASSERT_H

#include <stdio.h>
#include <stdlib.h>

#ifndef FUZZ_PROGRAM
#error "define FUZZ_PROGRAM before including fuzz_assert.h"
#endif

#define FUZZ_ASSERT(c, ...) do { \
        if (!(c)) { \
            fprintf(stderr, FUZZ_PROGRAM ": assertion failed at %s:%d: " \
                    "%s\n", __FILE__, __LINE__, #c); \
            fprintf(stderr, __VA_ARGS__); \
            fputc('\n', stderr); \
            abort(); \
        } \
    } while (0)

#endif /* CONDCACHE_UNIT_FUZZ_ASSERT_H */
