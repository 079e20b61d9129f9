/* cc_table.h: what mod_condcache remembers, and finding or computing it.
 *
 * One of the three core units (with cc_digest.h and validators.h): APR
 * only, no httpd header, no logging.  It uses cc_digest for hashing.
 *
 * Owns: the identity of a file version (the key: device, inode, size,
 * mtime, ctime), the rule for when a digest may be stored, the table that
 * maps keys to digests in shared memory (read by every process without a
 * lock: the protocol is described at the top of cc_table.c), single flight
 * (a file many processes want at once is hashed by one of them), and
 * find-or-compute, which is what a request needs.
 */
#ifndef CONDCACHE_CC_TABLE_H
#define CONDCACHE_CC_TABLE_H

#include <apr.h>
#include <apr_errno.h>
#include <apr_time.h>
#include <apr_file_info.h>

#include "cc_digest.h"

#ifdef __cplusplus
extern "C" {
#endif

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

/* The same from a struct stat already taken (a directory walk's). */
struct stat;
apr_status_t cc_file_key_from_stat(const struct stat *st, cc_file_key_t *key);

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

/* The table's alignment: a cache line, so that slots and counters do not
 * share lines (false sharing). */
#define CC_TABLE_ALIGN        64

/* Bytes of shared memory a table of `entries` slots needs, at an address
 * aligned to CC_TABLE_ALIGN. */
apr_size_t cc_table_bytes(apr_uint32_t entries);
/* Bytes a segment needs to hold that table whatever its own alignment
 * (shared memory APIs promise less than CC_TABLE_ALIGN). */
apr_size_t cc_table_segment_bytes(apr_uint32_t entries);
/* Where in a segment of cc_table_segment_bytes() the table goes. */
void *cc_table_place(void *segment);
/* Bytes per slot (the table adds a header of a few cache lines). */
apr_size_t cc_table_slot_bytes(void);

/* Lays a new empty table over `mem`, which must be cc_table_bytes(entries)
 * bytes, aligned to CC_TABLE_ALIGN and zero-filled (as a fresh anonymous
 * mapping is).  Returns the table, or NULL when the arguments do not fit. */
cc_table_t *cc_table_create(void *mem, apr_size_t bytes, apr_uint32_t entries);

/* The table already laid over `mem`, if its header says it was made by
 * this version of the code with this size and entry count; else NULL.
 * Used to keep the contents across a graceful restart. */
cc_table_t *cc_table_reuse(void *mem, apr_size_t bytes, apr_uint32_t entries);

/* What cc_table_attach() found. */
typedef struct {
    apr_uint64_t kept;        /* digests kept */
    apr_uint64_t dropped;     /* slots emptied: pending hashes of dead
                                 processes, torn or damaged slots */
} cc_table_attach_t;

/* The table in `mem` as a previous run of the server left it (a table
 * file), if its header says this layout, size, entry count and digest set:
 * else NULL, and the caller makes a new one (cc_table_create() over zeros).
 * Only while no other process uses the table (at start, before the
 * children): it takes back the writer lock, empties every slot that is
 * not a complete digest (pending, or left odd, torn or damaged: the check
 * word of each slot is verified) and counts again.  The counters start
 * from zero.  A digest whose file changed since is never used: its key
 * (ctime) no longer matches. */
cc_table_t *cc_table_attach(void *mem, apr_size_t bytes, apr_uint32_t entries,
                            cc_table_attach_t *report);

/* Looks the digest of (key, algo) up without taking any lock.  Returns 1
 * and fills *out on a hit.  `now` (seconds are enough) refreshes the
 * entry's last-use time, which guides replacement. */
int cc_table_lookup(cc_table_t *t, const cc_file_key_t *key, cc_algo_e algo,
                    apr_time_t now, cc_digest_t *out);

/* Is the digest of (key, algo) in the table?  Like cc_table_lookup(), but
 * it counts nothing and leaves the last-use hint alone: for the background
 * worker, which is no visitor. */
int cc_table_contains(cc_table_t *t, const cc_file_key_t *key,
                      cc_algo_e algo);

/* Stores a digest.  Best effort: returns 1 when stored, 0 when the table
 * could not take it now (it never blocks for long). */
int cc_table_store(cc_table_t *t, const cc_file_key_t *key,
                   const cc_digest_t *digest, apr_time_t now);

/* cc_table_lookup() that counts nothing (a lookup that is not a
 * request's, such as what a sidecar decodes to). */
int cc_table_peek(cc_table_t *t, const cc_file_key_t *key, cc_algo_e algo,
                  apr_time_t now, cc_digest_t *out);

/* The counters of precompressed variants (cc_variant.h), kept with the
 * table's so that the status page reads one place. */
typedef enum {
    CC_VARIANT_SERVED = 0,
    CC_VARIANT_CHECKED,
    CC_VARIANT_REJECTED,
    CC_VARIANT_BYTES_DECODED
} cc_variant_count_e;

void cc_table_count_variant(cc_table_t *t, cc_variant_count_e what,
                            apr_uint64_t n);

/* cc_table_store() that overwrites an entry of the same key and
 * algorithm.  Never for a file's digest (a key's content does not change);
 * for what the table remembers about a pair of files (cc_variant.h). */
int cc_table_replace(cc_table_t *t, const cc_file_key_t *key,
                     const cc_digest_t *digest, apr_time_t now);

/* Removes every entry.  For tests and for the status handler's reset. */
void cc_table_clear(cc_table_t *t);

/* Maps every page of the table into this process at once, where the
 * system can (Linux 5.14 and later; elsewhere a no-op).  For a process
 * about to touch most slots, such as the warm-up: one call instead of a
 * page fault per page on first touch.  Read access only, so the pages of
 * a table file are not made dirty. */
void cc_table_prefault(cc_table_t *t);

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
    apr_uint64_t variants_served;   /* precompressed variants sent */
    apr_uint64_t variants_checked;  /* sidecars decoded and compared */
    apr_uint64_t variants_rejected; /* ... that were not the original */
    apr_uint64_t bytes_decoded;     /* sidecar bytes read for that */
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
    CC_OUTCOME_UNCACHED,    /* hashed now, not stored: changed too recently */
    CC_OUTCOME_CHANGED,     /* the file kept changing while being hashed: no digest */
    CC_OUTCOME_BUSY,        /* another process took too long to hash it: no digest */
    CC_OUTCOME_TOO_LARGE,   /* bigger than the limit: not hashed, no digest */
    CC_OUTCOME_ERROR,       /* a read failed: no digest; see *err */
    CC_OUTCOME_CANCELLED,   /* the requester went away: its hash, which
                               nobody else waited for, was abandoned, or
                               its wait for another's hash ended */
    CC_OUTCOME_NEED_FILE,   /* not in the table, and no descriptor was
                               given: come back with one */
    CC_OUTCOME_DEFERRED     /* not in the table, and bigger than
                               how->defer_above: not hashed here (the
                               caller hands it to the background worker) */
} cc_outcome_e;

/* A short lower-case word for logs and the request note. */
const char *cc_outcome_name(cc_outcome_e o);

typedef struct {
    cc_algo_e    algo;
    apr_int64_t  max_size;     /* files bigger than this are not hashed */
    apr_time_t   now;          /* the request time */
    cc_cancel_t  cancel;       /* keep_going: is the requester still there?
                                  (NULL: always) */
    int          defer;        /* non-zero: files bigger than defer_above */
    apr_int64_t  defer_above;  /* are looked up but not hashed (DEFERRED) */
    int          background;   /* the background worker: counts no hit or
                                  miss (it is no visitor) */
    int          n_also;       /* cc_find_digests(): more digests of the */
    cc_algo_e    also[CC_DIGEST_MULTI_MAX - 1];   /* same bytes (integrity
                                  fields), from the same read */
} cc_find_t;

/* The `also` digests cc_find_digests() found or computed: have[i] when
 * digest[i] (of how->also[i]) describes the same bytes as the main one;
 * all 0 on an outcome without a main digest. */
typedef struct {
    cc_digest_t digest[CC_DIGEST_MULTI_MAX - 1];
    int         have[CC_DIGEST_MULTI_MAX - 1];
    int         deferred;   /* some are missing and the file is above
                               how->defer_above: the background worker's */
    apr_uint64_t read_for_also;   /* bytes read for them alone, after a
                                     HIT of the main digest */
} cc_also_t;

/* Finds or computes the digest of the open regular file `fd`, whose fstat
 * the caller took as *key.  On CC_OUTCOME_HIT, MISS, SHARED and UNCACHED
 * *out holds the digest of the key->size bytes behind `fd`.  A hash whose
 * requester goes away (how->cancel) is abandoned unless another process
 * waits for it.  When the file changed while it was hashed, *key is
 * updated to what fstat says now (so the caller's Content-Length and
 * Last-Modified describe the file it serves).  `t` may be NULL (no table:
 * always hash, never store).
 *
 * With `fd` < 0 it only looks the table up: CC_OUTCOME_HIT, TOO_LARGE, or
 * CC_OUTCOME_NEED_FILE, after which the caller opens the file, takes its
 * key from fstat and calls again with the descriptor.  The table counts
 * one hit or one miss per request either way (none for a file too large
 * to hash). */
cc_outcome_e cc_find_digest(cc_table_t *t, int fd, cc_file_key_t *key,
                            const cc_find_t *how, cc_digest_t *out,
                            apr_status_t *err);

/* cc_find_digest() that also finds how->also's digests of the same bytes
 * (each stored as an entry of its own), computing the missing ones in the
 * same read as the main digest, or, when only they are missing, in one
 * read of their own.  With fd < 0 a main digest found but a field missing
 * is NEED_FILE.  Single flight is on the main digest; its owner stores
 * the fields before the digest, so a waiter finds them too.  Fields
 * missing for a known main digest have a single flight of their own; when
 * the file is above how->defer_above (how->defer) they are not hashed:
 * HIT with also->deferred, for the caller to queue. */
cc_outcome_e cc_find_digests(cc_table_t *t, int fd, cc_file_key_t *key,
                             const cc_find_t *how, cc_digest_t *out,
                             cc_also_t *also, apr_status_t *err);

#ifdef __cplusplus
}
#endif

#endif /* CONDCACHE_CC_TABLE_H */
