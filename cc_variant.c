/* cc_variant.c: is a precompressed sidecar exactly its original,
 * compressed?  How it is decided and remembered is at the top of
 * cc_variant.h.
 */

#include "cc_variant.h"

#include <string.h>

/* The top byte of a device number marks a variant's key: Linux device
 * numbers (major and minor of at most 32 bits, as glibc's makedev() packs
 * them) never reach it. */
#define VARIANT_DEV_MARK  UINT64_C(0xcc00000000000000)

void cc_variant_key(const cc_file_key_t *sidecar, cc_decode_e coding,
                    cc_file_key_t *out)
{
    *out = *sidecar;
    out->dev = sidecar->dev ^ VARIANT_DEV_MARK
               ^ ((apr_uint64_t)coding << 48);
}

/* What a sidecar that does not decode is remembered as: no hash of any
 * content is every byte 0xff. */
static void not_decodable(cc_algo_e algo, cc_digest_t *out)
{
    memset(out, 0, sizeof(*out));
    out->algo = algo;
    memset(out->bytes, 0xff, cc_algo_size(algo));
}

static int same_digest(const cc_digest_t *a, const cc_digest_t *b)
{
    return a->algo == b->algo
        && memcmp(a->bytes, b->bytes, cc_algo_size(a->algo)) == 0;
}

cc_variant_e cc_variant_check(cc_table_t *t, int fd,
                              const cc_file_key_t *sidecar,
                              cc_decode_e coding,
                              const cc_digest_t *original,
                              apr_int64_t original_size,
                              apr_int64_t max_decode, apr_time_t now,
                              int *decided, apr_status_t *err)
{
    cc_file_key_t vkey, after;
    cc_digest_t decoded;
    apr_uint64_t out_len = 0, bytes = 0;
    cc_decode_result_e result;
    int same;

    *decided = 0;
    *err = APR_SUCCESS;
    cc_variant_key(sidecar, coding, &vkey);
    if (t && cc_table_peek(t, &vkey, original->algo, now, &decoded)) {
        cc_digest_t poison;

        if (same_digest(&decoded, original)) {
            return CC_VARIANT_SAME;
        }
        not_decodable(original->algo, &poison);
        if (!same_digest(&decoded, &poison)) {
            /* It decodes to another version of the original: stale since
             * the original changed.  Found now, and said once: it is
             * remembered as not decodable from here on. */
            cc_table_replace(t, &vkey, &poison, now);
            cc_table_count_variant(t, CC_VARIANT_REJECTED, 1);
            *decided = 1;
        }
        return CC_VARIANT_OTHER;
    }
    if (fd < 0) {
        return CC_VARIANT_NEED_FILE;
    }
    if (sidecar->size > max_decode) {
        return CC_VARIANT_UNKNOWN;
    }
    /* decoding stops as soon as the output passes the original's size:
     * a decompression bomb costs no more than the original would */
    result = cc_decode_digest(fd, sidecar->size, coding, original_size,
                              original->algo, &decoded, &out_len, &bytes,
                              err);
    if (t) {
        cc_table_count_variant(t, CC_VARIANT_BYTES_DECODED, bytes);
    }
    if (result != CC_DECODE_ERROR
        && (cc_file_key_from_fd(fd, &after) != APR_SUCCESS
            || !cc_file_key_equal(sidecar, &after))) {
        return CC_VARIANT_UNKNOWN;     /* rewritten while it was read */
    }
    if (result == CC_DECODE_CHANGED || result == CC_DECODE_ERROR) {
        return CC_VARIANT_UNKNOWN;     /* nothing learnt about the pair */
    }
    *decided = 1;
    same = result == CC_DECODED && (apr_int64_t)out_len == original_size
           && same_digest(&decoded, original);
    if (!same) {
        /* corrupt, too long, or other bytes: remembered as not decodable,
         * so that a later lookup tells it from a sidecar that was right
         * until its original changed */
        not_decodable(original->algo, &decoded);
    }
    if (t) {
        cc_table_count_variant(t, CC_VARIANT_CHECKED, 1);
        if (!same) {
            cc_table_count_variant(t, CC_VARIANT_REJECTED, 1);
        }
        if (cc_key_settled(sidecar, apr_time_now())) {
            cc_table_store(t, &vkey, &decoded, now);
        }
    }
    return same ? CC_VARIANT_SAME : CC_VARIANT_OTHER;
}
