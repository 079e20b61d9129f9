/* cc_queue.h: files waiting for the background worker to hash them, and
 * what the worker says of its progress.
 *
 * A core unit (APR and C11 atomics only, no httpd header, no logging).  A
 * request that finds a large file's digest missing does not hash it: it
 * adds the file here and is served at once, and the server's one
 * background worker takes the file, hashes it and stores the digest in
 * the table (cc_table.h).  The queue lives in shared memory created by
 * httpd's parent: every child adds, the worker alone takes.
 *
 * PROTOCOL (many producers, one consumer, any process may die anywhere)
 *
 * Each slot has a state word:  FREE -> FILLING -> READY -> TAKEN -> FREE
 *   - A producer claims a FREE slot with a compare-exchange to FILLING;
 *     the state word holds the owner's pid too, so the claim and the
 *     owner's name are one atomic step.  It writes the item and publishes
 *     it with a release store of READY.  The item's fields are then never written until the
 *     slot is FREE again, and only the owner of a FILLING slot writes
 *     them: the worker's acquire load of READY makes them visible.
 *   - The worker takes the oldest READY slot (smallest ticket) with a
 *     compare-exchange to TAKEN (naming itself in the same word), copies
 *     the item out, and frees the slot with a release store of FREE when
 *     it is done.
 *   - Duplicates are not added: a producer first takes the adder lock
 *     of its file (one of CC_QUEUE_ADDER_LOCKS words, chosen by a hash of
 *     key and algorithms; a compare-exchange from 0 to its pid and the
 *     hash), then looks for a READY or TAKEN slot with the same key and
 *     algorithms, claims and publishes, and releases the lock.  The lock
 *     makes looking and claiming one step, and its release/acquire pair
 *     shows the next holder every item published before.  It never waits
 *     for the same file: a lock held with that file's hash means the file
 *     is being added now (ALREADY).  Another file of the same bucket is
 *     waited for with a few yields, then the add is refused (BUSY).  The
 *     look reads a slot's fields as a seqlock reader does (generation
 *     before and after, every field an atomic): a copy that changed
 *     meanwhile is not a duplicate.
 *   - A producer that dies holding an adder lock: the next adder of that
 *     bucket takes the lock over when the pid is dead, and the worker
 *     frees a lock it finds held by the same word on two visits seconds
 *     apart (a reused pid).
 *   - A producer that dies while FILLING leaves the slot claimed; the
 *     worker frees FILLING slots whose owner is dead.  A worker that dies
 *     leaves TAKEN slots; the next worker (after a restart) puts them back
 *     to READY when their taker is dead.
 *   - Idle looks: every way to READY draws a ticket (QC_TICKETS) after
 *     the slot left FREE (an add, between FILLING and READY, with release
 *     order) or after it is READY again (a recover).  A take that read
 *     the tickets (acquire), then found no slot READY or FILLING, notes
 *     that count; while the count stays there, no slot can be READY, and
 *     a take returns without looking at the slots.
 * Losing an item is harmless (the next request adds it again); the queue
 * never blocks a request.
 */
#ifndef CONDCACHE_CC_QUEUE_H
#define CONDCACHE_CC_QUEUE_H

#include <apr.h>
#include <apr_time.h>

#include "cc_table.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cc_queue_t cc_queue_t;   /* lives in shared memory */

#define CC_QUEUE_SLOTS     256
#define CC_QUEUE_PATH_MAX  4096          /* bytes of a path, NUL included */

/* Bytes of shared memory for the queue (aligned to CC_TABLE_ALIGN). */
apr_size_t cc_queue_bytes(void);

/* Lays an empty queue over `mem` (cc_queue_bytes(), aligned to
 * CC_TABLE_ALIGN, zero-filled), or finds the one a previous generation
 * left there (a graceful restart keeps its items).  NULL when the
 * arguments do not fit. */
cc_queue_t *cc_queue_create(void *mem, apr_size_t bytes);
cc_queue_t *cc_queue_reuse(void *mem, apr_size_t bytes);

typedef enum {
    CC_QUEUE_ADDED = 0,
    CC_QUEUE_ALREADY,          /* the same file and digest are waiting */
    CC_QUEUE_FULL,
    CC_QUEUE_BUSY,             /* another file's add held its adder lock
                                  too long (counted as full) */
    CC_QUEUE_TOO_LONG          /* the path does not fit */
} cc_queue_add_e;

/* Asks for the file at `path`, whose fstat gave `key`, to be hashed with
 * the algorithms of `algos` (bits: 1 << cc_algo_e; the lowest is the main
 * one, the others are computed in the same read) unless it is bigger than
 * `max_size`.  Never blocks. */
cc_queue_add_e cc_queue_add(cc_queue_t *q, const char *path,
                            const cc_file_key_t *key, unsigned algos,
                            apr_int64_t max_size);

typedef struct {
    unsigned      slot;
    cc_file_key_t key;
    unsigned      algos;      /* bits: 1 << cc_algo_e */
    apr_int64_t   max_size;
    char          path[CC_QUEUE_PATH_MAX];
} cc_queue_item_t;

/* The worker: takes the oldest waiting item into *item; 0 when none. */
int cc_queue_take(cc_queue_t *q, cc_queue_item_t *item);
/* The worker: the item is done (hashed, or given up). */
void cc_queue_done(cc_queue_t *q, const cc_queue_item_t *item,
                   apr_uint64_t bytes_hashed, int stored);
/* The worker, when it starts: puts back what a dead worker had taken and
 * frees what dead producers left half-written.  Also called now and then
 * to free slots of producers that died. */
void cc_queue_recover(cc_queue_t *q);

/* Where the worker's warm-up is (CondCacheWarmUp). */
typedef enum {
    CC_WARM_NONE = 0,          /* nothing to warm up */
    CC_WARM_RUNNING,
    CC_WARM_DONE,
    CC_WARM_TABLE_FULL         /* stopped: the trees hold more files than
                                  the table has room for */
} cc_warm_state_e;

typedef struct {
    apr_uint64_t waiting;      /* items waiting or being hashed now */
    apr_uint64_t added;
    apr_uint64_t done;
    apr_uint64_t stored;       /* done with a digest stored */
    apr_uint64_t full;         /* adds refused: the queue was full (or
                                  busy) */
    apr_uint64_t bytes;        /* bytes the worker hashed for the queue */
    cc_warm_state_e warm_state;
    apr_uint64_t warm_seen;    /* files the warm-up looked at */
    apr_uint64_t warm_hashed;  /* ... and hashed (the rest were known) */
    apr_uint64_t warm_bytes;
    apr_uint64_t warm_msec;    /* time it has taken, by the worker's
                                  monotonic clock */
    apr_uint64_t worker_pid;
} cc_queue_stats_t;

void cc_queue_stats(cc_queue_t *q, cc_queue_stats_t *out);

/* The worker's warm-up: its state, and counts to add.  The state is
 * published with release order and cc_queue_stats() reads it first, with
 * acquire: a reader that sees a state sees all the worker did before it
 * (the table's counts included, when read after). */
void cc_queue_warm_progress(cc_queue_t *q, cc_warm_state_e state,
                            apr_uint64_t seen, apr_uint64_t hashed,
                            apr_uint64_t bytes);
/* The worker: the time its warm-up has taken so far (it says so as it
 * goes, and once more at the end). */
void cc_queue_warm_time(cc_queue_t *q, apr_uint64_t msec);
/* The worker, when its warm-up starts again (each start walks the trees
 * anew: what is known already costs a stat and a lookup). */
void cc_queue_warm_reset(cc_queue_t *q, cc_warm_state_e state);
/* The worker's pid, for the status page. */
void cc_queue_set_worker(cc_queue_t *q, apr_uint64_t pid);

#ifdef __cplusplus
}
#endif

#endif /* CONDCACHE_CC_QUEUE_H */
