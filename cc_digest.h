/* cc_digest.h: the digests of files, and the entity-tags made of them.
 *
 * One of the three core units of mod_condcache (with validators.h and
 * cc_table.h), APR-only like the others: no httpd header, no logging.  It
 * is the only unit that uses OpenSSL's libcrypto (SHA-1, SHA-256 and MD5,
 * with the CPU's SHA instructions) and libxxhash (XXH3-128), so that what
 * parses tags or manages the table can be built and fuzzed without them.
 *
 * Owns: the algorithms (names, sizes, the form of their entity-tag),
 * hashing exactly a file's size in bytes from a descriptor (in blocks of
 * CC_READ_BLOCK, stopping when asked to), and hashing a buffer.
 */
#ifndef CONDCACHE_CC_DIGEST_H
#define CONDCACHE_CC_DIGEST_H

#include <apr.h>
#include <apr_errno.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes per read when hashing a file: one block fits in L2 and keeps the
 * syscalls few.  Benchmarks read in the same blocks. */
#define CC_READ_BLOCK  (256 * 1024)

typedef enum {
    CC_ALGO_NONE   = 0,
    CC_ALGO_SHA1   = 1,   /* "base64"        as core's FileETag Digest */
    CC_ALGO_SHA256 = 2,   /* "sha256-base64" as a Subresource Integrity value */
    CC_ALGO_MD5    = 3,   /* "hex"           as md5sum and S3 print it */
    CC_ALGO_XXH128 = 4,   /* "hex"           as xxh128sum prints it */
    CC_ALGO_SHA512 = 5    /* "sha512-base64", for integrity fields */
} cc_algo_e;

#define CC_DIGEST_MAX  64   /* bytes of the longest digest (SHA-512) */
#define CC_ETAG_MAX    112  /* bytes of the longest ETag, quotes and NUL included */

typedef struct {
    cc_algo_e     algo;
    unsigned char bytes[CC_DIGEST_MAX];   /* the first cc_algo_size() count */
} cc_digest_t;

/* The algorithm named `name` (case-insensitive), or CC_ALGO_NONE. */
cc_algo_e cc_algo_from_name(const char *name);
/* The lower-case name of `algo`, or NULL. */
const char *cc_algo_name(cc_algo_e algo);
/* May `algo` make an ETag (CondCacheDigest)?  SHA-512 is for integrity
 * fields only: its tag would be longer than caches keep (nginx: 128
 * bytes) for no gain in a validator. */
int cc_algo_for_etag(cc_algo_e algo);
/* The algorithm of an integrity field (RFC 9530's registry: "sha-256",
 * "sha-512", case-insensitive), or CC_ALGO_NONE. */
cc_algo_e cc_algo_from_field_name(const char *name);
/* Its name in those fields, or NULL. */
const char *cc_algo_field_name(cc_algo_e algo);
/* The digest length of `algo` in bytes, 0 for CC_ALGO_NONE. */
apr_size_t cc_algo_size(cc_algo_e algo);

/* Asked between blocks while a file is hashed: 0 to stop (the hash is
 * abandoned), non-zero to go on.  NULL: never stop. */
typedef int (*cc_keep_going_fn)(void *arg);

typedef struct {
    cc_keep_going_fn keep_going;
    void            *arg;
} cc_cancel_t;

/* Bytes hashed between two calls of a cc_cancel_t's keep_going. */
#define CC_CANCEL_CHECK_BYTES  (16 * 1024 * 1024)

/* Hashes exactly the `size` bytes that fstat() gave for the file behind
 * `fd` (size is what the response will say and send), from offset 0 with
 * pread(), so the descriptor's offset is untouched, in fixed-size blocks.
 * Adds the count of bytes read to *bytes_read when it is not NULL (also on
 * failure).  Returns APR_SUCCESS; APR_INCOMPLETE when the file does not
 * hold exactly `size` bytes (it ends early, or has more: files in /proc,
 * some FUSE and network files, or a file being rewritten); ECANCELED when
 * `cancel` said stop; or the errno of the failing read. */
apr_status_t cc_digest_fd(int fd, apr_int64_t size, cc_algo_e algo,
                          cc_digest_t *out, apr_uint64_t *bytes_read,
                          const cc_cancel_t *cancel);

/* The most digests cc_digest_fd_multi() computes in one read. */
#define CC_DIGEST_MULTI_MAX  4

/* cc_digest_fd() for n (1 to CC_DIGEST_MULTI_MAX) algorithms at once: one
 * read of the file feeds every digest, so outs[i] is the digest of
 * algos[i] for the price of reading the bytes once.  Same results. */
apr_status_t cc_digest_fd_multi(int fd, apr_int64_t size,
                                const cc_algo_e *algos, int n,
                                cc_digest_t *outs, apr_uint64_t *bytes_read,
                                const cc_cancel_t *cancel);

/* A digest fed piece by piece, for bytes that are not a file's (what a
 * compressed file decodes to).  NULL when `algo` is not valid or memory
 * is short.  finish() writes the digest and frees the hasher; destroy()
 * frees one that is not finished. */
typedef struct cc_hasher_t cc_hasher_t;
cc_hasher_t *cc_hasher_create(cc_algo_e algo);
void cc_hasher_update(cc_hasher_t *h, const void *data, apr_size_t len);
void cc_hasher_finish(cc_hasher_t *h, cc_digest_t *out);
void cc_hasher_destroy(cc_hasher_t *h);

/* Same, for a buffer in memory. */
void cc_digest_buffer(const void *data, apr_size_t len, cc_algo_e algo,
                      cc_digest_t *out);

/* Writes the strong entity-tag of `d`, with its quotes, into `buf`
 * (at least CC_ETAG_MAX bytes) and returns its length. */
apr_size_t cc_etag_format(const cc_digest_t *d, char *buf);

#ifdef __cplusplus
}
#endif

#endif /* CONDCACHE_CC_DIGEST_H */
