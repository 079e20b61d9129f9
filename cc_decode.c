/* cc_decode.c: decoding precompressed sidecars into a digest.  See
 * cc_decode.h for the rules.
 *
 * Each coding is a small state machine over the same loop: read a block
 * of the sidecar, hand it to the decoder, hash whatever comes out, until
 * the input is used up; then the decoder must be at the end of a complete
 * stream.
 */

#include "cc_decode.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <brotli/decode.h>
#include <zlib.h>
#include <zstd.h>

#define OUT_BLOCK  (256 * 1024)

typedef struct {
    cc_hasher_t  *hasher;
    apr_uint64_t  out_len;
    apr_int64_t   max_out;
} sink_t;

/* What came out of the decoder: hashed, unless it makes the output longer
 * than the original can be. */
static int sink(sink_t *s, const unsigned char *data, apr_size_t len)
{
    s->out_len += len;
    if ((apr_int64_t)s->out_len > s->max_out) {
        return 0;
    }
    cc_hasher_update(s->hasher, data, len);
    return 1;
}

typedef struct {
    cc_decode_e coding;
    z_stream    z;
    int         z_open;
    int         z_done;        /* at the end of the gzip member */
    BrotliDecoderState *br;
    int         br_done;
    ZSTD_DStream *zs;
    size_t      zs_hint;       /* 0 after a complete frame */
    int         zs_frame_done; /* a frame (data or skippable) has ended */
} decoder_t;

static int decoder_open(decoder_t *d, cc_decode_e coding)
{
    memset(d, 0, sizeof(*d));
    d->coding = coding;
    switch (coding) {
    case CC_DECODE_GZIP:
        /* 16 + MAX_WBITS: the gzip wrapper, and only it */
        if (inflateInit2(&d->z, 16 + MAX_WBITS) != Z_OK) {
            return 0;
        }
        d->z_open = 1;
        return 1;
    case CC_DECODE_BR:
        d->br = BrotliDecoderCreateInstance(NULL, NULL, NULL);
        return d->br != NULL;
    case CC_DECODE_ZSTD:
        d->zs = ZSTD_createDStream();
        d->zs_hint = 1;                 /* no frame seen yet: incomplete */
        return d->zs && !ZSTD_isError(ZSTD_initDStream(d->zs));
    }
    return 0;
}

static void decoder_close(decoder_t *d)
{
    if (d->z_open) {
        inflateEnd(&d->z);
    }
    if (d->br) {
        BrotliDecoderDestroyInstance(d->br);
    }
    if (d->zs) {
        ZSTD_freeDStream(d->zs);
    }
}

/* Feeds `len` bytes in; CC_DECODED while all is well so far. */
static cc_decode_result_e decoder_feed(decoder_t *d, const unsigned char *in,
                                       apr_size_t len, unsigned char *out,
                                       sink_t *s)
{
    switch (d->coding) {
    case CC_DECODE_GZIP:
        d->z.next_in = (Bytef *)in;
        d->z.avail_in = (uInt)len;
        while (d->z.avail_in > 0) {
            int rv;

            if (d->z_done) {
                /* Another member follows (cat a.gz b.gz; gzip a b > c).
                 * RFC 1952 allows it, but clients differ: Chromium reads
                 * the first member only and drops the rest, so such a
                 * sidecar would not be the original for every client. */
                return CC_DECODE_CORRUPT;
            }
            d->z.next_out = out;
            d->z.avail_out = OUT_BLOCK;
            rv = inflate(&d->z, Z_NO_FLUSH);
            if (rv != Z_OK && rv != Z_STREAM_END && rv != Z_BUF_ERROR) {
                return CC_DECODE_CORRUPT;
            }
            if (!sink(s, out, OUT_BLOCK - d->z.avail_out)) {
                return CC_DECODE_TOO_LONG;
            }
            if (rv == Z_STREAM_END) {
                d->z_done = 1;
            }
            else if (rv == Z_BUF_ERROR && d->z.avail_out == OUT_BLOCK) {
                return CC_DECODE_CORRUPT;   /* no progress possible */
            }
        }
        return CC_DECODED;
    case CC_DECODE_BR: {
        size_t avail_in = len;
        const uint8_t *next_in = in;

        for (;;) {
            size_t avail_out = OUT_BLOCK;
            uint8_t *next_out = out;
            BrotliDecoderResult rv;

            if (d->br_done) {
                return avail_in ? CC_DECODE_CORRUPT : CC_DECODED;
            }
            rv = BrotliDecoderDecompressStream(d->br, &avail_in, &next_in,
                                               &avail_out, &next_out, NULL);
            if (rv == BROTLI_DECODER_RESULT_ERROR) {
                return CC_DECODE_CORRUPT;
            }
            if (!sink(s, out, OUT_BLOCK - avail_out)) {
                return CC_DECODE_TOO_LONG;
            }
            if (rv == BROTLI_DECODER_RESULT_SUCCESS) {
                d->br_done = 1;
            }
            else if (rv == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT) {
                return CC_DECODED;          /* avail_in is 0 */
            }
        }
    }
    case CC_DECODE_ZSTD: {
        ZSTD_inBuffer zin = { in, len, 0 };

        while (zin.pos < zin.size) {
            ZSTD_outBuffer zout = { out, OUT_BLOCK, 0 };

            if (d->zs_frame_done) {
                /* one frame, as for gzip members: a client that stops at
                 * the end of the first would see other content */
                return CC_DECODE_CORRUPT;
            }
            d->zs_hint = ZSTD_decompressStream(d->zs, &zout, &zin);
            if (ZSTD_isError(d->zs_hint)) {
                return CC_DECODE_CORRUPT;
            }
            if (!sink(s, out, zout.pos)) {
                return CC_DECODE_TOO_LONG;
            }
            if (d->zs_hint == 0) {
                d->zs_frame_done = 1;
            }
        }
        /* flush what it holds back for the end of the input */
        while (d->zs_hint > 0) {
            ZSTD_outBuffer zout = { out, OUT_BLOCK, 0 };
            ZSTD_inBuffer none = { in, 0, 0 };

            d->zs_hint = ZSTD_decompressStream(d->zs, &zout, &none);
            if (ZSTD_isError(d->zs_hint)) {
                return CC_DECODE_CORRUPT;
            }
            if (!sink(s, out, zout.pos)) {
                return CC_DECODE_TOO_LONG;
            }
            if (zout.pos == 0) {
                break;                      /* it wants more input */
            }
        }
        return CC_DECODED;
    }
    }
    return CC_DECODE_CORRUPT;
}

/* At the end of the input: is the last stream complete? */
static int decoder_complete(const decoder_t *d)
{
    switch (d->coding) {
    case CC_DECODE_GZIP: return d->z_done;
    case CC_DECODE_BR:   return d->br_done;
    case CC_DECODE_ZSTD: return d->zs_hint == 0;
    }
    return 0;
}

cc_decode_result_e cc_decode_digest(int fd, apr_int64_t size,
                                    cc_decode_e coding, apr_int64_t max_out,
                                    cc_algo_e algo, cc_digest_t *out,
                                    apr_uint64_t *out_len,
                                    apr_uint64_t *bytes_read,
                                    apr_status_t *err)
{
    unsigned char *in = NULL, *buf = NULL;
    cc_decode_result_e result = CC_DECODED;
    decoder_t d;
    sink_t s;
    apr_int64_t offset = 0;

    *err = APR_SUCCESS;
    memset(&d, 0, sizeof(d));           /* decoder_close() of nothing */
    s.hasher = NULL;
    s.out_len = 0;
    s.max_out = max_out;
    if (size < 0 || max_out < 0 || cc_algo_size(algo) == 0
        || (coding != CC_DECODE_GZIP && coding != CC_DECODE_BR
            && coding != CC_DECODE_ZSTD)) {
        *err = APR_EINVAL;
        result = CC_DECODE_ERROR;
    }
    else if (!(in = malloc(CC_READ_BLOCK)) || !(buf = malloc(OUT_BLOCK))
             || !(s.hasher = cc_hasher_create(algo))
             || !decoder_open(&d, coding)) {
        *err = APR_ENOMEM;
        result = CC_DECODE_ERROR;
    }
    while (result == CC_DECODED && offset < size) {
        apr_int64_t left = size - offset;
        size_t want = left < CC_READ_BLOCK ? (size_t)left : CC_READ_BLOCK;
        ssize_t n = pread(fd, in, want, (off_t)offset);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            *err = errno;
            result = CC_DECODE_ERROR;
            break;
        }
        if (n == 0) {
            result = CC_DECODE_CHANGED;      /* shorter than its size */
            break;
        }
        offset += n;
        result = decoder_feed(&d, in, (apr_size_t)n, buf, &s);
    }
    if (result == CC_DECODED) {
        ssize_t n;
        do {
            n = pread(fd, in, 1, (off_t)offset);
        } while (n < 0 && errno == EINTR);
        if (n != 0) {
            result = n > 0 ? CC_DECODE_CHANGED : CC_DECODE_ERROR;
            *err = n < 0 ? errno : APR_SUCCESS;
        }
        else if (!decoder_complete(&d)) {
            result = CC_DECODE_CORRUPT;       /* cut short */
        }
    }
    if (bytes_read) {
        *bytes_read += (apr_uint64_t)offset;
    }
    if (result == CC_DECODED) {
        cc_hasher_finish(s.hasher, out);
        *out_len = s.out_len;
    }
    else {
        cc_hasher_destroy(s.hasher);
    }
    decoder_close(&d);
    free(in);
    free(buf);
    return result;
}
