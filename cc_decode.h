/* cc_decode.h: what a precompressed file decodes to.
 *
 * A core unit (APR and the decoders of Debian's zlib, libbrotli and
 * libzstd; no httpd header, no logging).  Before the module serves
 * style.css.br for style.css, it must know that the sidecar decodes to
 * exactly the bytes of style.css: a stale, truncated or foreign sidecar
 * would send other content under style.css's name and tag.  This unit
 * decodes a sidecar as a stream and hashes the output with the digest of
 * the original's tag, so the check is "same digest, same length", done
 * once per pair of versions (the table remembers it).
 *
 * Safety: the input is exactly the sidecar's fstat size (as a response
 * sends it; more or fewer bytes is CC_DECODE_CHANGED); decoding stops as
 * soon as the output passes the original's size (a decompression bomb
 * costs at most that much work); anything after the one gzip member or
 * zstd frame (RFC 1952 and 8878 allow more, but some clients read only
 * the first: Chromium), a truncated stream or any decoder error are
 * "does not decode";
 * nothing is written but the digest.
 */
#ifndef CONDCACHE_CC_DECODE_H
#define CONDCACHE_CC_DECODE_H

#include <apr.h>
#include <apr_errno.h>

#include "cc_digest.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The codings a sidecar can have. */
typedef enum {
    CC_DECODE_GZIP = 1,        /* F.gz  (RFC 1952), one member */
    CC_DECODE_BR   = 2,        /* F.br  (RFC 7932) */
    CC_DECODE_ZSTD = 3         /* F.zst (RFC 8878), one frame */
} cc_decode_e;

typedef enum {
    CC_DECODED = 0,            /* *out is the digest of the output, whose
                                  length is in *out_len */
    CC_DECODE_CORRUPT,         /* not a valid stream of that coding */
    CC_DECODE_TOO_LONG,        /* the output passed max_out: stopped */
    CC_DECODE_CHANGED,         /* the sidecar does not hold `size` bytes */
    CC_DECODE_ERROR            /* reading failed (*err: its errno), no
                                  memory (APR_ENOMEM) or an argument out of
                                  range (APR_EINVAL) */
} cc_decode_result_e;

/* Decodes the `size` bytes of the sidecar behind `fd` (from offset 0,
 * with pread: the descriptor's offset is untouched) and hashes what they
 * decode to with `algo`; max_out (>= 0, inclusive) is the most output
 * allowed, the original's size.  Adds the bytes read to *bytes_read if
 * given (also when it fails).  *out and *out_len are written only when
 * the result is CC_DECODED; *err is APR_SUCCESS unless CC_DECODE_ERROR. */
cc_decode_result_e cc_decode_digest(int fd, apr_int64_t size,
                                    cc_decode_e coding, apr_int64_t max_out,
                                    cc_algo_e algo, cc_digest_t *out,
                                    apr_uint64_t *out_len,
                                    apr_uint64_t *bytes_read,
                                    apr_status_t *err);

#ifdef __cplusplus
}
#endif

#endif /* CONDCACHE_CC_DECODE_H */
