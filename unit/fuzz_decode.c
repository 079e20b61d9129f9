/* unit/fuzz_decode.c: libFuzzer target for cc_decode.c, which decodes a
 * precompressed sidecar into a digest.
 *
 * Build: clang -fsanitize=fuzzer,address,undefined (see unit/unit.mk),
 * linked with cc_decode.c, cc_digest.c, zlib, libbrotlidec and libzstd.
 *
 * The input is the sidecar: written to a memfd (a file the unit preads,
 * as it preads a real one) and decoded as gzip, as brotli and as zstd
 * with a max_out of 1 MiB.  Asserted, for each coding:
 *   - the result is one of the enum's, and never ERROR (the file reads,
 *     the arguments are valid; memory is not short);
 *   - *err is APR_SUCCESS unless ERROR; *bytes_read grows by at most the
 *     input's size; the descriptor's offset does not move;
 *   - DECODED: *out_len <= max_out, the digest has the asked algorithm;
 *     then the same call gives the same digest and length (nothing
 *     depends on the earlier call), with max_out = *out_len it is still
 *     DECODED, with *out_len - 1 it is TOO_LONG, and with a size one
 *     byte less or more than the file it is not DECODED;
 *   - TOO_LONG: with a max_out of 1 MiB the input of a few KiB decoded
 *     to more (a bomb): stopped, and the same at a smaller max_out.
 */
#define _GNU_SOURCE 1

#include "cc_decode.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define FUZZ_PROGRAM "fuzz_decode"
#include "fuzz_assert.h"

#define MAX_OUT  ((apr_int64_t)1 << 20)
#define OFFSET   ((off_t)3)

static int fd = -1;

static cc_decode_result_e decode(apr_int64_t size, cc_decode_e coding,
                                 apr_int64_t max_out, cc_algo_e algo,
                                 cc_digest_t *out, apr_uint64_t *out_len)
{
    apr_uint64_t br = 1, len = 0xdeadbeef;
    apr_status_t err = -1;
    cc_decode_result_e r;

    r = cc_decode_digest(fd, size, coding, max_out, algo, out, &len, &br,
                         &err);
    FUZZ_ASSERT(r == CC_DECODED || r == CC_DECODE_CORRUPT
                || r == CC_DECODE_TOO_LONG || r == CC_DECODE_CHANGED,
                "coding %d: result %d, err %d", (int)coding, (int)r, (int)err);
    FUZZ_ASSERT(err == APR_SUCCESS, "coding %d: err %d", (int)coding,
                (int)err);
    FUZZ_ASSERT(br >= 1 && br - 1 <= (apr_uint64_t)size,
                "coding %d: read %llu of %lld", (int)coding,
                (unsigned long long)(br - 1), (long long)size);
    FUZZ_ASSERT(lseek(fd, 0, SEEK_CUR) == OFFSET, "coding %d: offset moved",
                (int)coding);
    if (r == CC_DECODED) {
        FUZZ_ASSERT((apr_int64_t)len <= max_out, "coding %d: %llu > %lld",
                    (int)coding, (unsigned long long)len, (long long)max_out);
        FUZZ_ASSERT(out->algo == algo, "coding %d: algo %d", (int)coding,
                    (int)out->algo);
    }
    else {
        FUZZ_ASSERT(len == 0xdeadbeef, "coding %d: out_len written (%d)",
                    (int)coding, (int)r);
    }
    *out_len = len;
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const cc_decode_e codings[] = {
        CC_DECODE_GZIP, CC_DECODE_BR, CC_DECODE_ZSTD
    };
    apr_int64_t n = (apr_int64_t)size;
    size_t c;

    if (fd < 0) {
        fd = memfd_create("fuzz_decode", 0);
        FUZZ_ASSERT(fd >= 0, "memfd_create");
    }
    FUZZ_ASSERT(ftruncate(fd, 0) == 0, "ftruncate");
    FUZZ_ASSERT(size == 0 || pwrite(fd, data, size, 0) == (ssize_t)size,
                "pwrite");
    FUZZ_ASSERT(lseek(fd, OFFSET, SEEK_SET) == OFFSET, "lseek");

    for (c = 0; c < sizeof(codings) / sizeof(codings[0]); c++) {
        cc_digest_t d, d2;
        apr_uint64_t len = 0, len2 = 0;
        cc_decode_result_e r = decode(n, codings[c], MAX_OUT, CC_ALGO_XXH128,
                                      &d, &len);

        FUZZ_ASSERT(r != CC_DECODE_CHANGED, "coding %d: CHANGED for the "
                    "file's own size", (int)codings[c]);
        if (r == CC_DECODED) {
            r = decode(n, codings[c], MAX_OUT, CC_ALGO_XXH128, &d2, &len2);
            FUZZ_ASSERT(r == CC_DECODED && len2 == len
                        && memcmp(&d, &d2, sizeof(d)) == 0,
                        "coding %d: another result the second time",
                        (int)codings[c]);
            r = decode(n, codings[c], (apr_int64_t)len, CC_ALGO_SHA1, &d2,
                       &len2);
            FUZZ_ASSERT(r == CC_DECODED && len2 == len,
                        "coding %d: max_out %llu: %d", (int)codings[c],
                        (unsigned long long)len, (int)r);
            if (len > 0) {
                r = decode(n, codings[c], (apr_int64_t)len - 1, CC_ALGO_SHA1,
                           &d2, &len2);
                FUZZ_ASSERT(r == CC_DECODE_TOO_LONG,
                            "coding %d: max_out %llu - 1: %d",
                            (int)codings[c], (unsigned long long)len, (int)r);
            }
            r = decode(n + 1, codings[c], MAX_OUT, CC_ALGO_SHA1, &d2, &len2);
            FUZZ_ASSERT(r == CC_DECODE_CHANGED, "coding %d: size + 1: %d",
                        (int)codings[c], (int)r);
            if (n > 0) {
                r = decode(n - 1, codings[c], MAX_OUT, CC_ALGO_SHA1, &d2,
                           &len2);
                FUZZ_ASSERT(r != CC_DECODED, "coding %d: size - 1 decoded",
                            (int)codings[c]);
            }
        }
        else if (r == CC_DECODE_TOO_LONG) {
            r = decode(n, codings[c], 1000, CC_ALGO_SHA1, &d2, &len2);
            FUZZ_ASSERT(r == CC_DECODE_TOO_LONG,
                        "coding %d: more than 1 MiB, but %d at 1000",
                        (int)codings[c], (int)r);
        }
    }
    return 0;
}
