/* cc_digest.c: digests of files and buffers, and their entity-tags.
 * See cc_digest.h.  The only unit that uses libcrypto and libxxhash.
 */

#include "cc_digest.h"

#include <apr_base64.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <xxhash.h>

/* ------------------------------------------------------------------ */
/* Digests                                                             */

static const struct {
    const char *name;
    apr_size_t  size;
    int         etag;        /* may make an ETag */
    const char *field;       /* its name in integrity fields (RFC 9530) */
} algos[] = {
    [CC_ALGO_NONE]   = { NULL,     0,  0, NULL },
    [CC_ALGO_SHA1]   = { "sha1",   20, 1, NULL },
    [CC_ALGO_SHA256] = { "sha256", 32, 1, "sha-256" },
    [CC_ALGO_MD5]    = { "md5",    16, 1, NULL },
    [CC_ALGO_XXH128] = { "xxh128", 16, 1, NULL },
    [CC_ALGO_SHA512] = { "sha512", 64, 0, "sha-512" },
};

#define CC_ALGO_COUNT ((int)(sizeof(algos) / sizeof(algos[0])))

static int algo_valid(cc_algo_e algo)
{
    /* unsigned: an enum holding a huge value must not pass as negative */
    return (unsigned)algo - 1 < (unsigned)CC_ALGO_COUNT - 1;
}

cc_algo_e cc_algo_from_name(const char *name)
{
    int i;
    for (i = 1; name && i < CC_ALGO_COUNT; i++) {
        if (strcasecmp(name, algos[i].name) == 0) {
            return (cc_algo_e)i;
        }
    }
    return CC_ALGO_NONE;
}

const char *cc_algo_name(cc_algo_e algo)
{
    return algo_valid(algo) ? algos[algo].name : NULL;
}

int cc_algo_for_etag(cc_algo_e algo)
{
    return algo_valid(algo) && algos[algo].etag;
}

cc_algo_e cc_algo_from_field_name(const char *name)
{
    int i;
    for (i = 1; name && i < CC_ALGO_COUNT; i++) {
        if (algos[i].field && strcasecmp(name, algos[i].field) == 0) {
            return (cc_algo_e)i;
        }
    }
    return CC_ALGO_NONE;
}

const char *cc_algo_field_name(cc_algo_e algo)
{
    return algo_valid(algo) ? algos[algo].field : NULL;
}

apr_size_t cc_algo_size(cc_algo_e algo)
{
    return algo_valid(algo) ? algos[algo].size : 0;
}

/* One running digest: libcrypto for the cryptographic ones (it uses the
 * CPU's SHA extensions where there are some), libxxhash for XXH3. */
typedef struct {
    cc_algo_e     algo;
    EVP_MD_CTX   *evp;
    XXH3_state_t *xxh;
} hasher_t;

static int hasher_init(hasher_t *h, cc_algo_e algo)
{
    const EVP_MD *md = NULL;

    h->algo = algo;
    h->evp = NULL;
    h->xxh = NULL;
    switch (algo) {
    case CC_ALGO_SHA1:   md = EVP_sha1();   break;
    case CC_ALGO_SHA256: md = EVP_sha256(); break;
    case CC_ALGO_SHA512: md = EVP_sha512(); break;
    case CC_ALGO_MD5:    md = EVP_md5();    break;
    case CC_ALGO_XXH128:
        h->xxh = XXH3_createState();
        return h->xxh && XXH3_128bits_reset(h->xxh) == XXH_OK;
    default:
        return 0;
    }
    h->evp = EVP_MD_CTX_new();
    return h->evp && EVP_DigestInit_ex(h->evp, md, NULL) == 1;
}

static void hasher_update(hasher_t *h, const void *data, apr_size_t len)
{
    if (h->xxh) {
        XXH3_128bits_update(h->xxh, data, len);
    }
    else {
        EVP_DigestUpdate(h->evp, data, len);
    }
}

static void hasher_final(hasher_t *h, cc_digest_t *out)
{
    memset(out, 0, sizeof(*out));
    out->algo = h->algo;
    if (h->xxh) {
        XXH128_canonical_t canon;
        XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(h->xxh));
        memcpy(out->bytes, canon.digest, sizeof(canon.digest));
    }
    else {
        unsigned int len = 0;
        EVP_DigestFinal_ex(h->evp, out->bytes, &len);
    }
}

static void hasher_free(hasher_t *h)
{
    if (h->evp) {
        EVP_MD_CTX_free(h->evp);
    }
    if (h->xxh) {
        XXH3_freeState(h->xxh);
    }
}

struct cc_hasher_t {
    hasher_t h;
};

cc_hasher_t *cc_hasher_create(cc_algo_e algo)
{
    cc_hasher_t *s = malloc(sizeof(*s));

    if (s && !hasher_init(&s->h, algo)) {
        hasher_free(&s->h);
        free(s);
        s = NULL;
    }
    return s;
}

void cc_hasher_update(cc_hasher_t *s, const void *data, apr_size_t len)
{
    hasher_update(&s->h, data, len);
}

void cc_hasher_finish(cc_hasher_t *s, cc_digest_t *out)
{
    hasher_final(&s->h, out);
    cc_hasher_destroy(s);
}

void cc_hasher_destroy(cc_hasher_t *s)
{
    if (s) {
        hasher_free(&s->h);
        free(s);
    }
}

void cc_digest_buffer(const void *data, apr_size_t len, cc_algo_e algo,
                      cc_digest_t *out)
{
    hasher_t h;

    if (!hasher_init(&h, algo)) {
        hasher_free(&h);
        memset(out, 0, sizeof(*out));
        return;
    }
    hasher_update(&h, data, len);
    hasher_final(&h, out);
    hasher_free(&h);
}

/* pread() that retries on EINTR: the count read, or -1 with errno. */
static ssize_t pread_retry(int fd, void *buf, size_t len, off_t offset)
{
    ssize_t n;

    do {
        n = pread(fd, buf, len, offset);
    } while (n < 0 && errno == EINTR);
    return n;
}

/* One read buffer kept for the next hash of this process.  A block of
 * CC_READ_BLOCK is above malloc's mmap threshold: a fresh one costs an
 * mmap, a page fault per 4 KiB and a munmap, more than hashing a small
 * file does (the warm-up of a tree of small files spent a third of its
 * time there).  Taken and given back with atomic exchanges: threads that
 * hash at the same time get buffers of their own. */
static _Atomic(unsigned char *) spare_block;

static unsigned char *block_get(void)
{
    unsigned char *b = atomic_exchange_explicit(&spare_block, NULL,
                                                memory_order_acquire);
    return b ? b : malloc(CC_READ_BLOCK);
}

static void block_put(unsigned char *b)
{
    unsigned char *none = NULL;

    if (!atomic_compare_exchange_strong_explicit(&spare_block, &none, b,
            memory_order_release, memory_order_relaxed)) {
        free(b);
    }
}

apr_status_t cc_digest_fd_multi(int fd, apr_int64_t size,
                                const cc_algo_e *algos, int n,
                                cc_digest_t *outs, apr_uint64_t *bytes_read,
                                const cc_cancel_t *cancel)
{
    hasher_t h[CC_DIGEST_MULTI_MAX];
    unsigned char *buf;
    off_t offset = 0, next_check = CC_CANCEL_CHECK_BYTES;
    apr_status_t rv = APR_SUCCESS;
    int i, ready = 0, at_end = 0;

    if (size < 0 || n < 1 || n > CC_DIGEST_MULTI_MAX) {
        return APR_EINVAL;
    }
    buf = block_get();
    if (!buf) {
        return APR_ENOMEM;
    }
    for (; ready < n; ready++) {
        if (!hasher_init(&h[ready], algos[ready])) {
            rv = APR_EINVAL;
            ready++;                        /* it may hold a context */
            break;
        }
    }
    /* Exactly `size` bytes, and the end of the file right after them:
     * the tag must describe the bytes the response sends, which are
     * Content-Length = size bytes.  The last read asks for one byte more
     * where the block has room, so a short answer is the end and costs no
     * read of its own (a read of a regular file stops short only there).
     * Sequential preads: the kernel's read-ahead needs no advice.  Every
     * digest is fed from the same block, so n digests cost one read of
     * the file. */
    while (rv == APR_SUCCESS && (offset < size || !at_end)) {
        apr_int64_t left = size - offset;
        size_t want = left < CC_READ_BLOCK ? (size_t)left + 1
                                           : CC_READ_BLOCK;
        ssize_t got = pread_retry(fd, buf, want, offset);

        if (got < 0) {
            rv = errno;
            break;
        }
        if (got > left) {
            offset += left;                 /* read, not hashed */
            rv = APR_INCOMPLETE;            /* longer than its size */
            break;
        }
        if (got == 0 && offset < size) {
            rv = APR_INCOMPLETE;            /* shorter than its size */
            break;
        }
        at_end = (size_t)got < want && got == left;
        for (i = 0; i < n; i++) {
            hasher_update(&h[i], buf, (apr_size_t)got);
        }
        offset += got;
        if (cancel && cancel->keep_going && offset >= next_check
            && offset < size) {
            next_check = offset + CC_CANCEL_CHECK_BYTES;
            if (!cancel->keep_going(cancel->arg)) {
                rv = ECANCELED;
                break;
            }
        }
    }
    if (bytes_read) {
        *bytes_read += (apr_uint64_t)offset;
    }
    for (i = 0; i < ready; i++) {
        if (rv == APR_SUCCESS) {
            hasher_final(&h[i], &outs[i]);
        }
        hasher_free(&h[i]);
    }
    block_put(buf);
    return rv;
}

apr_status_t cc_digest_fd(int fd, apr_int64_t size, cc_algo_e algo,
                          cc_digest_t *out, apr_uint64_t *bytes_read,
                          const cc_cancel_t *cancel)
{
    return cc_digest_fd_multi(fd, size, &algo, 1, out, bytes_read, cancel);
}

static apr_size_t put_hex(char *dst, const unsigned char *src, apr_size_t n)
{
    static const char digits[] = "0123456789abcdef";
    apr_size_t i;
    for (i = 0; i < n; i++) {
        dst[2 * i] = digits[src[i] >> 4];
        dst[2 * i + 1] = digits[src[i] & 15];
    }
    return 2 * n;
}

apr_size_t cc_etag_format(const cc_digest_t *d, char *buf)
{
    apr_size_t len = 0, n = cc_algo_size(d->algo);

    buf[len++] = '"';
    if (d->algo == CC_ALGO_SHA256 || d->algo == CC_ALGO_SHA512) {
        /* the Subresource Integrity form: "sha256-" or "sha512-" */
        len += (apr_size_t)sprintf(buf + len, "%s-", algos[d->algo].name);
    }
    switch (d->algo) {
    case CC_ALGO_SHA1:
    case CC_ALGO_SHA256:
    case CC_ALGO_SHA512:
        /* apr_base64_encode_binary() counts the NUL it writes */
        len += (apr_size_t)apr_base64_encode_binary(buf + len, d->bytes,
                                                    (int)n) - 1;
        break;
    case CC_ALGO_MD5:
    case CC_ALGO_XXH128:
        len += put_hex(buf + len, d->bytes, n);
        break;
    default:
        break;
    }
    buf[len++] = '"';
    buf[len] = '\0';
    return len;
}
