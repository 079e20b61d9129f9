/* validators.h: content validators for static files, remembered in a
 * table that many processes share.
 *
 * This is the core of mod_condcache.  It knows nothing of httpd requests:
 * it needs APR, OpenSSL's libcrypto and libxxhash, nothing else, so that it
 * can be unit-tested, fuzzed and used by the command-line tool
 * condcache-etag on its own.  mod_condcache.c adapts it to httpd.
 *
 * Four parts:
 *   - digests of a file descriptor (SHA-1, SHA-256, MD5, XXH3-128),
 *   - entity-tag formatting, parsing and list matching (RFC 9110 8.8.3),
 *   - evaluation of the preconditions of RFC 9110 13.2.2,
 *   - the shared table from file identity to digest, with single flight:
 *     a file that many processes want at once is hashed by one of them.
 */
#ifndef CONDCACHE_VALIDATORS_H
#define CONDCACHE_VALIDATORS_H

#include <apr.h>
#include <apr_errno.h>
#include <apr_time.h>
#include <apr_file_info.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Digests                                                             */

typedef enum {
    CC_ALGO_NONE   = 0,
    CC_ALGO_SHA1   = 1,   /* "base64"        as core's FileETag Digest */
    CC_ALGO_SHA256 = 2,   /* "sha256-base64" as a Subresource Integrity value */
    CC_ALGO_MD5    = 3,   /* "hex"           as md5sum and S3 print it */
    CC_ALGO_XXH128 = 4    /* "hex"           as xxh128sum prints it */
} cc_algo_e;

#define CC_DIGEST_MAX  32   /* bytes of the longest digest (SHA-256) */
#define CC_ETAG_MAX    64   /* bytes of the longest ETag, quotes and NUL included */

typedef struct {
    cc_algo_e     algo;
    unsigned char bytes[CC_DIGEST_MAX];   /* the first cc_algo_size() count */
} cc_digest_t;

/* The algorithm named `name` (case-insensitive), or CC_ALGO_NONE. */
cc_algo_e cc_algo_from_name(const char *name);
/* The lower-case name of `algo`, or NULL. */
const char *cc_algo_name(cc_algo_e algo);
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

/* Same, for a buffer in memory. */
void cc_digest_buffer(const void *data, apr_size_t len, cc_algo_e algo,
                      cc_digest_t *out);

/* Writes the strong entity-tag of `d`, with its quotes, into `buf`
 * (at least CC_ETAG_MAX bytes) and returns its length. */
apr_size_t cc_etag_format(const cc_digest_t *d, char *buf);

/* ------------------------------------------------------------------ */
/* Entity tags and conditional requests (RFC 9110 8.8.3, 13.1, 13.2)    */

typedef enum {
    CC_COMPARE_WEAK   = 0,   /* If-None-Match: W/ is ignored on both sides */
    CC_COMPARE_STRONG = 1    /* If-Match, If-Range: both must be strong */
} cc_compare_e;

/* Does the entity-tag list `field` (the value of If-Match or If-None-Match)
 * match `etag` (a strong tag of ours, quotes included, or NULL when the
 * resource has none)?  A field that is exactly "*" matches any existing
 * resource.  Members that are not well-formed entity-tags (no quotes,
 * lower-case w/, spaces or quotes inside, a "*" inside a list) are skipped;
 * the rest of the list is still read.  A member equal to `etag` with
 * "-gzip" or "-br" before its closing quote also matches: mod_deflate and
 * mod_brotli add those suffixes to the tags of compressed responses and
 * clients send them back. */
int cc_etag_list_match(const char *field, const char *etag, cc_compare_e cmp);

/* Content codings whose ETag suffix is recognised. */
#define CC_CODING_GZIP  1u     /* "-gzip", mod_deflate */
#define CC_CODING_BR    2u     /* "-br", mod_brotli */

/* Which of those codings does an Accept-Encoding value not accept (q=0,
 * or not listed and no "*")?  With no Accept-Encoding at all, all of
 * them: mod_deflate and mod_brotli compress nothing then. */
unsigned cc_codings_refused(const char *accept_encoding);

/* cc_etag_list_match(), except that a suffix of a coding in `refused`
 * does not match: the client holds a variant it would not get now. */
int cc_etag_list_match_codings(const char *field, const char *etag,
                               cc_compare_e cmp, unsigned refused);

/* Is `s`, of length `len`, one well-formed entity-tag (W/ allowed)? */
int cc_etag_is_valid(const char *s, apr_size_t len);

typedef enum {
    CC_PRECOND_PASS = 0,          /* serve the selected representation */
    CC_PRECOND_NOT_MODIFIED,      /* 304 */
    CC_PRECOND_FAILED             /* 412 */
} cc_precond_e;

typedef struct {
    int         get_or_head;          /* the method is GET or HEAD */
    const char *if_match;             /* the request's field values, or NULL */
    const char *if_none_match;
    const char *if_modified_since;
    const char *if_unmodified_since;
    const char *etag;                 /* our tag, or NULL when there is none */
    apr_time_t  last_modified;        /* what Last-Modified says; 0: none */
    apr_time_t  now;                  /* the request time */
    unsigned    refused_codings;      /* CC_CODING_ bits whose suffixed
                                         tags do not match (0: none) */
} cc_precond_t;

/* Evaluates the preconditions in the order of RFC 9110 13.2.2: If-Match
 * (else If-Unmodified-Since), then If-None-Match (else, for GET and HEAD,
 * If-Modified-Since).  If-Range is left to httpd's byte-range filter.
 * Dates are compared in whole seconds; a date that does not parse, or one
 * later than `now`, is ignored. */
cc_precond_e cc_evaluate_preconditions(const cc_precond_t *p);

/* ------------------------------------------------------------------ */
/* File identity                                                       */

/* What the table is keyed by.  ctime is in the key because it cannot be
 * set from user space: a rewrite that restores the old mtime (cp -p, tar,
 * rsync -t --inplace) still changes it.  Times are in microseconds, as APR
 * keeps them, so that httpd's own stat of the file (r->finfo) gives the
 * same key as an fstat: finer is not needed, since no digest is stored for
 * a file whose ctime is not settled (below), and any later write moves
 * ctime by more than that. */
typedef struct {
    apr_uint64_t dev;
    apr_uint64_t ino;
    apr_int64_t  size;
    apr_time_t   mtime;
    apr_time_t   ctime;
} cc_file_key_t;

/* fstat() of `fd`.  APR_SUCCESS for a regular file; APR_EINVAL (with the
 * key filled in) for anything else; the errno of fstat() on failure. */
apr_status_t cc_file_key_from_fd(int fd, cc_file_key_t *key);

/* The same key from a stat APR already took, without a syscall.
 * APR_INCOMPLETE when `finfo` lacks a field, APR_EINVAL for anything but a
 * regular file. */
apr_status_t cc_file_key_from_finfo(const apr_finfo_t *finfo,
                                    cc_file_key_t *key);

int cc_file_key_equal(const cc_file_key_t *a, const cc_file_key_t *b);

/* Is the file old enough (by its ctime, against the wall-clock `now`) for
 * its digest to be stored?  At least 1 s, or 3 s when the ctime has no
 * sub-second part (a filesystem with whole-second or 2-second stamps):
 * until then a rewrite of the same size could still get the same key. */
int cc_key_settled(const cc_file_key_t *key, apr_time_t now);

/* ------------------------------------------------------------------ */
/* The shared table                                                    */

typedef struct cc_table_t cc_table_t;   /* lives in the shared segment */

#define CC_TABLE_MAX_ENTRIES  (1U << 28)

/* Bytes of shared memory a table of `entries` slots needs. */
apr_size_t cc_table_bytes(apr_uint32_t entries);
/* Bytes per slot (the table adds a header of a few cache lines). */
apr_size_t cc_table_slot_bytes(void);

/* Lays a new empty table over `mem`, which must be cc_table_bytes(entries)
 * bytes, aligned to 64 bytes and zero-filled (as a fresh anonymous mapping
 * is).  Returns the table, or NULL when the arguments do not fit. */
cc_table_t *cc_table_create(void *mem, apr_size_t bytes, apr_uint32_t entries);

/* The table already laid over `mem`, if its header says it was made by
 * this version of the code with this size and entry count; else NULL.
 * Used to keep the contents across a graceful restart. */
cc_table_t *cc_table_reuse(void *mem, apr_size_t bytes, apr_uint32_t entries);

/* Looks the digest of (key, algo) up without taking any lock.  Returns 1
 * and fills *out on a hit.  `now` (seconds are enough) refreshes the
 * entry's last-use time, which guides replacement. */
int cc_table_lookup(cc_table_t *t, const cc_file_key_t *key, cc_algo_e algo,
                    apr_time_t now, cc_digest_t *out);

/* Stores a digest.  Best effort: returns 1 when stored, 0 when the table
 * could not take it now (it never blocks for long). */
int cc_table_store(cc_table_t *t, const cc_file_key_t *key,
                   const cc_digest_t *digest, apr_time_t now);

/* Removes every entry.  For tests and for the status handler's reset. */
void cc_table_clear(cc_table_t *t);

typedef struct {
    apr_uint32_t capacity;
    apr_uint32_t in_use;          /* slots holding a digest or a pending hash */
    apr_uint64_t hits;
    apr_uint64_t misses;
    apr_uint64_t inserts;
    apr_uint64_t evictions;       /* entries replaced by others */
    apr_uint64_t files_hashed;
    apr_uint64_t bytes_hashed;
    apr_uint64_t waits;           /* requests that waited for another's hash */
    apr_uint64_t uncached;        /* digests not kept: the file changed too recently */
    apr_uint64_t lock_recoveries; /* write locks taken over from dead writers */
    apr_size_t   shm_bytes;
    apr_size_t   slot_bytes;
} cc_table_stats_t;

void cc_table_stats(cc_table_t *t, cc_table_stats_t *out);

/* ------------------------------------------------------------------ */
/* Find or compute: what a request needs                               */

typedef enum {
    CC_OUTCOME_HIT = 0,     /* digest from the table */
    CC_OUTCOME_MISS,        /* hashed now and stored */
    CC_OUTCOME_SHARED,      /* another process hashed it while we waited */
    CC_OUTCOME_UNCACHED,    /* hashed now, not stored: changed in the last second */
    CC_OUTCOME_CHANGED,     /* the file kept changing while being hashed: no digest */
    CC_OUTCOME_BUSY,        /* another process took too long to hash it: no digest */
    CC_OUTCOME_TOO_LARGE,   /* bigger than the limit: not hashed, no digest */
    CC_OUTCOME_ERROR,       /* a read failed: no digest; see *err */
    CC_OUTCOME_CANCELLED    /* the requester went away: its hash, which
                               nobody else waited for, was abandoned, or
                               its wait for another's hash ended */
} cc_outcome_e;

/* A short lower-case word for logs and the request note. */
const char *cc_outcome_name(cc_outcome_e o);

typedef struct {
    cc_algo_e    algo;
    apr_int64_t  max_size;     /* files bigger than this are not hashed */
    apr_time_t   now;          /* the request time */
    int          looked_up;    /* the caller has just looked this key up
                                  and missed: do not look (and count) again */
    cc_cancel_t  cancel;       /* keep_going: is the requester still there?
                                  (NULL: always) */
} cc_find_t;

/* Finds or computes the digest of the open regular file `fd`, whose fstat
 * the caller took as *key.  On CC_OUTCOME_HIT, MISS, SHARED and UNCACHED
 * *out holds the digest of the key->size bytes behind `fd`.  A hash whose
 * requester goes away (how->cancel) is abandoned unless another process
 * waits for it.  When the file changed
 * while it was hashed, *key is updated to what fstat says now (so the
 * caller's Content-Length and Last-Modified describe the file it serves).
 * `t` may be NULL (no table: always hash, never store). */
cc_outcome_e cc_find_digest(cc_table_t *t, int fd, cc_file_key_t *key,
                            const cc_find_t *how, cc_digest_t *out,
                            apr_status_t *err);

#ifdef __cplusplus
}
#endif

#endif /* CONDCACHE_VALIDATORS_H */
