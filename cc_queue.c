/* cc_queue.c: files waiting for the background worker.  The protocol and
 * why it needs no lock are at the top of cc_queue.h.
 */

#include "cc_queue.h"

#include <errno.h>
#include <signal.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sched.h>
#include <unistd.h>

#define CC_QUEUE_MAGIC    UINT64_C(0x6d6f645f63635155)   /* "mod_ccQU" */
#define CC_QUEUE_VERSION  5     /* 2: state and owner in one word;
                                   3: a set of digests per item;
                                   4: adder locks; 5: idle_at */

enum { Q_FREE = 0, Q_FILLING = 1, Q_READY = 2, Q_TAKEN = 3 };

/* Adder locks by a hash of (key, algos): enough that two files added at
 * the same instant rarely share one. */
#define CC_QUEUE_ADDER_LOCKS  1024

/* A slot's state and the pid of the process that filled or took it, in
 * one word: a claim names its owner in the same compare-exchange, so no
 * process can die holding a slot nobody can tell the owner of. */
#define SW(state, pid)  ((uint64_t)(state) | ((uint64_t)(uint32_t)(pid) << 32))
#define SW_STATE(w)     ((uint32_t)((w) & 0xffffffffu))
#define SW_PID(w)       ((uint32_t)((w) >> 32))

typedef struct {
    alignas(CC_TABLE_ALIGN) _Atomic uint64_t sw;   /* SW(state, owner) */
    _Atomic uint64_t generation;   /* +1 on every claim (dedup readers) */
    _Atomic uint64_t ticket;       /* order of publication */
    _Atomic uint64_t dev, ino, size, mtime, ctime;
    _Atomic uint32_t algos;        /* bits by cc_algo_e */
    _Atomic int64_t  max_size;
    char path[CC_QUEUE_PATH_MAX];  /* written while FILLING, read TAKEN */
} q_slot_t;

#define NO_IDLE  UINT64_MAX

enum { QC_ADDED, QC_DONE, QC_STORED, QC_FULL, QC_BYTES, QC_TICKETS,
       QC_WARM_STATE, QC_WARM_SEEN, QC_WARM_HASHED, QC_WARM_BYTES,
       QC_WARM_MSEC, QC_WORKER_PID, QC_COUNT };

struct cc_queue_t {
    alignas(CC_TABLE_ALIGN) uint64_t magic;
    uint32_t version;
    uint32_t slots;
    uint64_t bytes;
    alignas(CC_TABLE_ALIGN) _Atomic uint64_t counters[QC_COUNT];
    /* QC_TICKETS when a take last found nothing READY nor FILLING, or
     * NO_IDLE: while the tickets stay there, nothing is READY */
    _Atomic uint64_t idle_at;
    q_slot_t slot[CC_QUEUE_SLOTS];
    alignas(CC_TABLE_ALIGN) _Atomic uint64_t adder[CC_QUEUE_ADDER_LOCKS];
    uint64_t adder_seen[CC_QUEUE_ADDER_LOCKS];   /* the worker's alone */
};

apr_size_t cc_queue_bytes(void)
{
    return (sizeof(cc_queue_t) + CC_TABLE_ALIGN - 1)
           & ~(apr_size_t)(CC_TABLE_ALIGN - 1);
}

static int args_ok(void *mem, apr_size_t bytes)
{
    return mem && (uintptr_t)mem % CC_TABLE_ALIGN == 0
        && bytes >= cc_queue_bytes();
}

cc_queue_t *cc_queue_create(void *mem, apr_size_t bytes)
{
    cc_queue_t *q = mem;

    if (!args_ok(mem, bytes)) {
        return NULL;
    }
    memset(q, 0, sizeof(*q));
    q->magic = CC_QUEUE_MAGIC;
    q->version = CC_QUEUE_VERSION;
    q->slots = CC_QUEUE_SLOTS;
    q->bytes = bytes;
    atomic_store_explicit(&q->idle_at, NO_IDLE, memory_order_relaxed);
    return q;
}

cc_queue_t *cc_queue_reuse(void *mem, apr_size_t bytes)
{
    cc_queue_t *q = mem;

    if (!args_ok(mem, bytes) || q->magic != CC_QUEUE_MAGIC
        || q->version != CC_QUEUE_VERSION || q->slots != CC_QUEUE_SLOTS
        || q->bytes != bytes) {
        return NULL;
    }
    return q;
}

static void count(cc_queue_t *q, int which, uint64_t n)
{
    atomic_fetch_add_explicit(&q->counters[which], n, memory_order_relaxed);
}

/* Does the slot hold (key, algos), READY or TAKEN?  Read as a seqlock
 * reader does: a copy that changed meanwhile is no match. */
static int slot_has(q_slot_t *s, const cc_file_key_t *key, uint32_t algos)
{
    uint64_t g1 = atomic_load_explicit(&s->generation, memory_order_acquire);
    uint32_t state = SW_STATE(atomic_load_explicit(&s->sw,
                                                   memory_order_acquire));
    int same;

    if (state != Q_READY && state != Q_TAKEN) {
        return 0;
    }
    same = atomic_load_explicit(&s->ino, memory_order_relaxed) == key->ino
        && atomic_load_explicit(&s->dev, memory_order_relaxed) == key->dev
        && atomic_load_explicit(&s->size, memory_order_relaxed)
           == (uint64_t)key->size
        && atomic_load_explicit(&s->mtime, memory_order_relaxed)
           == (uint64_t)key->mtime
        && atomic_load_explicit(&s->ctime, memory_order_relaxed)
           == (uint64_t)key->ctime
        && atomic_load_explicit(&s->algos, memory_order_relaxed) == algos;
    atomic_thread_fence(memory_order_acquire);
    return same
        && atomic_load_explicit(&s->generation, memory_order_relaxed) == g1;
}

/* The adder lock word: who holds it and which file it adds. */
#define AW(pid, hash)  (((uint64_t)(uint32_t)(pid) << 32) | (uint32_t)(hash))
#define AW_PID(w)      ((uint32_t)((w) >> 32))
#define AW_HASH(w)     ((uint32_t)((w) & 0xffffffffu))
#define ADD_TRIES      64      /* yields while another file holds the lock */

static uint32_t key_hash(const cc_file_key_t *key, uint32_t algos)
{
    uint64_t h = UINT64_C(0x9e3779b97f4a7c15) ^ algos;
    uint64_t v[5];
    unsigned i;

    v[0] = key->dev;
    v[1] = key->ino;
    v[2] = (uint64_t)key->size;
    v[3] = (uint64_t)key->mtime;
    v[4] = (uint64_t)key->ctime;
    for (i = 0; i < 5; i++) {           /* splitmix64 steps */
        h ^= v[i];
        h = (h ^ (h >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        h = (h ^ (h >> 27)) * UINT64_C(0x94d049bb133111eb);
        h ^= h >> 31;
    }
    return (uint32_t)h | 1;             /* never 0: 0 is a free lock */
}

static int process_is_dead(uint32_t pid)
{
    return pid > 0 && (pid_t)pid != getpid() && kill((pid_t)pid, 0) != 0
        && errno == ESRCH;
}

/* Takes the adder lock of the file's bucket.  1: ours; 0: the same file is
 * being added right now (nothing to do); -1: another file of the bucket
 * holds it for longer than a few yields. */
static int adder_lock(cc_queue_t *q, _Atomic uint64_t *lock, uint32_t hash)
{
    uint64_t mine = AW(getpid(), hash);
    int tries;

    for (tries = 0; tries < ADD_TRIES; tries++) {
        uint64_t held = 0;

        if (atomic_compare_exchange_strong_explicit(lock, &held, mine,
                memory_order_acquire, memory_order_acquire)) {
            return 1;
        }
        if (process_is_dead(AW_PID(held))) {
            /* its holder died adding: its slot, if any, is FILLING and
             * the worker's recover frees it */
            if (atomic_compare_exchange_strong_explicit(lock, &held, mine,
                    memory_order_acquire, memory_order_relaxed)) {
                return 1;
            }
            continue;
        }
        if (AW_HASH(held) == hash) {
            return 0;
        }
        sched_yield();
    }
    count(q, QC_FULL, 1);
    return -1;
}

cc_queue_add_e cc_queue_add(cc_queue_t *q, const char *path,
                            const cc_file_key_t *key, unsigned algos,
                            apr_int64_t max_size)
{
    apr_size_t len = strlen(path);
    uint32_t me = (uint32_t)getpid(), hash = key_hash(key, algos);
    _Atomic uint64_t *lock = &q->adder[hash % CC_QUEUE_ADDER_LOCKS];
    cc_queue_add_e result = CC_QUEUE_FULL;
    uint64_t ticket;
    unsigned i;
    int locked;

    if (len >= CC_QUEUE_PATH_MAX) {
        return CC_QUEUE_TOO_LONG;
    }
    locked = adder_lock(q, lock, hash);
    if (locked <= 0) {
        return locked == 0 ? CC_QUEUE_ALREADY : CC_QUEUE_BUSY;
    }
    /* Under the lock, every earlier add of this file is READY or TAKEN
     * (or done: then its digest is in the table, and a request that finds
     * it does not come here): looking and claiming are one step. */
    for (i = 0; i < CC_QUEUE_SLOTS; i++) {
        if (slot_has(&q->slot[i], key, algos)) {
            result = CC_QUEUE_ALREADY;
            goto unlock;
        }
    }
    for (i = 0; i < CC_QUEUE_SLOTS; i++) {
        q_slot_t *s = &q->slot[i];
        uint64_t expect = atomic_load_explicit(&s->sw, memory_order_relaxed);

        if (SW_STATE(expect) != Q_FREE
            || !atomic_compare_exchange_strong_explicit(&s->sw, &expect,
                    SW(Q_FILLING, me), memory_order_acquire,
                    memory_order_relaxed)) {
            continue;
        }
        /* ours alone until READY is published */
        atomic_fetch_add_explicit(&s->generation, 1, memory_order_relaxed);
        atomic_thread_fence(memory_order_release);
        atomic_store_explicit(&s->dev, key->dev, memory_order_relaxed);
        atomic_store_explicit(&s->ino, key->ino, memory_order_relaxed);
        atomic_store_explicit(&s->size, (uint64_t)key->size,
                              memory_order_relaxed);
        atomic_store_explicit(&s->mtime, (uint64_t)key->mtime,
                              memory_order_relaxed);
        atomic_store_explicit(&s->ctime, (uint64_t)key->ctime,
                              memory_order_relaxed);
        atomic_store_explicit(&s->algos, algos, memory_order_relaxed);
        atomic_store_explicit(&s->max_size, max_size, memory_order_relaxed);
        memcpy(s->path, path, len + 1);
        /* release: whoever sees this ticket sees the slot FILLING, at
         * least (the idle rule of cc_queue_take) */
        ticket = atomic_fetch_add_explicit(&q->counters[QC_TICKETS], 1,
                                           memory_order_release) + 1;
        atomic_store_explicit(&s->ticket, ticket, memory_order_relaxed);
        atomic_store_explicit(&s->sw, SW(Q_READY, me), memory_order_release);
        count(q, QC_ADDED, 1);
        result = CC_QUEUE_ADDED;
        goto unlock;
    }
    count(q, QC_FULL, 1);
unlock:
    atomic_store_explicit(lock, 0, memory_order_release);
    return result;
}

int cc_queue_take(cc_queue_t *q, cc_queue_item_t *item)
{
    uint32_t me = 0;        /* asked only when there is something to take */

    for (;;) {
        int best = -1, filling = 0;
        uint64_t best_ticket = 0, expect = 0, tickets;
        unsigned i;
        q_slot_t *s;

        /* Idle rule: a slot becomes READY only after a ticket is drawn
         * for it (an add draws one while FILLING, a recover after putting
         * an item back), so a look that found nothing READY nor FILLING
         * holds while the tickets do not move: no scan of every slot
         * between two files of the warm-up. */
        tickets = atomic_load_explicit(&q->counters[QC_TICKETS],
                                       memory_order_acquire);
        if (tickets == atomic_load_explicit(&q->idle_at,
                                            memory_order_relaxed)) {
            return 0;
        }
        for (i = 0; i < CC_QUEUE_SLOTS; i++) {
            uint64_t w;

            s = &q->slot[i];
            w = atomic_load_explicit(&s->sw, memory_order_acquire);
            filling |= SW_STATE(w) == Q_FILLING;
            if (SW_STATE(w) == Q_READY) {
                uint64_t t = atomic_load_explicit(&s->ticket,
                                                  memory_order_relaxed);
                if (best < 0 || t < best_ticket) {
                    best = (int)i;
                    best_ticket = t;
                    expect = w;
                }
            }
        }
        if (best < 0) {
            if (!filling) {
                atomic_store_explicit(&q->idle_at, tickets,
                                      memory_order_relaxed);
            }
            return 0;
        }
        s = &q->slot[best];
        if (!me) {
            me = (uint32_t)getpid();
        }
        /* only the worker takes, but the worker's recover may move a slot:
         * on a change, look again */
        if (!atomic_compare_exchange_strong_explicit(&s->sw, &expect,
                SW(Q_TAKEN, me), memory_order_acquire,
                memory_order_relaxed)) {
            continue;
        }
        item->slot = (unsigned)best;
        item->key.dev = atomic_load_explicit(&s->dev, memory_order_relaxed);
        item->key.ino = atomic_load_explicit(&s->ino, memory_order_relaxed);
        item->key.size = (apr_int64_t)atomic_load_explicit(
                &s->size, memory_order_relaxed);
        item->key.mtime = (apr_time_t)atomic_load_explicit(
                &s->mtime, memory_order_relaxed);
        item->key.ctime = (apr_time_t)atomic_load_explicit(
                &s->ctime, memory_order_relaxed);
        item->algos = atomic_load_explicit(&s->algos, memory_order_relaxed);
        item->max_size = atomic_load_explicit(&s->max_size,
                                              memory_order_relaxed);
        memcpy(item->path, s->path, CC_QUEUE_PATH_MAX);
        item->path[CC_QUEUE_PATH_MAX - 1] = '\0';
        return 1;
    }
}

void cc_queue_done(cc_queue_t *q, const cc_queue_item_t *item,
                   apr_uint64_t bytes_hashed, int stored)
{
    q_slot_t *s = &q->slot[item->slot % CC_QUEUE_SLOTS];

    count(q, QC_DONE, 1);
    count(q, QC_BYTES, bytes_hashed);
    if (stored) {
        count(q, QC_STORED, 1);
    }
    atomic_store_explicit(&s->sw, SW(Q_FREE, 0), memory_order_release);
}

void cc_queue_recover(cc_queue_t *q)
{
    unsigned i;

    /* An adder lock held since the last call (seconds: an add takes
     * microseconds) was left by a holder that died, its pid since given
     * to a live process.  Freeing one still held risks a duplicate item
     * at worst. */
    for (i = 0; i < CC_QUEUE_ADDER_LOCKS; i++) {
        uint64_t held = atomic_load_explicit(&q->adder[i],
                                             memory_order_relaxed);
        if (held != 0 && held == q->adder_seen[i]) {
            atomic_compare_exchange_strong_explicit(&q->adder[i], &held, 0,
                    memory_order_release, memory_order_relaxed);
            held = 0;
        }
        q->adder_seen[i] = held;
    }

    for (i = 0; i < CC_QUEUE_SLOTS; i++) {
        q_slot_t *s = &q->slot[i];
        uint64_t expect = atomic_load_explicit(&s->sw, memory_order_acquire);
        uint32_t state = SW_STATE(expect), owner = SW_PID(expect);

        if (state == Q_FILLING && process_is_dead(owner)) {
            atomic_compare_exchange_strong_explicit(&s->sw, &expect,
                    SW(Q_FREE, 0), memory_order_release, memory_order_relaxed);
        }
        else if (state == Q_TAKEN && (process_is_dead(owner)
                                      || (pid_t)owner == getpid())) {
            /* a dead worker's item, or one of ours we did not finish;
             * a ticket drawn after it ends any idle look (it keeps its
             * own ticket: its place in the order) */
            if (atomic_compare_exchange_strong_explicit(&s->sw, &expect,
                    SW(Q_READY, owner), memory_order_release,
                    memory_order_relaxed)) {
                atomic_fetch_add_explicit(&q->counters[QC_TICKETS], 1,
                                          memory_order_release);
            }
        }
    }
}

void cc_queue_stats(cc_queue_t *q, cc_queue_stats_t *out)
{
    unsigned i;

    memset(out, 0, sizeof(*out));
    for (i = 0; i < CC_QUEUE_SLOTS; i++) {
        uint32_t state = SW_STATE(atomic_load_explicit(&q->slot[i].sw,
                                                       memory_order_relaxed));
        if (state == Q_READY || state == Q_TAKEN) {
            out->waiting++;
        }
    }
    out->added = atomic_load_explicit(&q->counters[QC_ADDED],
                                      memory_order_relaxed);
    out->done = atomic_load_explicit(&q->counters[QC_DONE],
                                     memory_order_relaxed);
    out->stored = atomic_load_explicit(&q->counters[QC_STORED],
                                       memory_order_relaxed);
    out->full = atomic_load_explicit(&q->counters[QC_FULL],
                                     memory_order_relaxed);
    out->bytes = atomic_load_explicit(&q->counters[QC_BYTES],
                                      memory_order_relaxed);
    out->warm_state = (cc_warm_state_e)atomic_load_explicit(
            &q->counters[QC_WARM_STATE], memory_order_acquire);
    out->warm_seen = atomic_load_explicit(&q->counters[QC_WARM_SEEN],
                                          memory_order_relaxed);
    out->warm_hashed = atomic_load_explicit(&q->counters[QC_WARM_HASHED],
                                            memory_order_relaxed);
    out->warm_bytes = atomic_load_explicit(&q->counters[QC_WARM_BYTES],
                                           memory_order_relaxed);
    out->warm_msec = atomic_load_explicit(&q->counters[QC_WARM_MSEC],
                                          memory_order_relaxed);
    out->worker_pid = atomic_load_explicit(&q->counters[QC_WORKER_PID],
                                           memory_order_relaxed);
}

void cc_queue_warm_progress(cc_queue_t *q, cc_warm_state_e state,
                            apr_uint64_t seen, apr_uint64_t hashed,
                            apr_uint64_t bytes)
{
    /* release: who reads the state reads the time and counts set before */
    atomic_store_explicit(&q->counters[QC_WARM_STATE], (uint64_t)state,
                          memory_order_release);
    count(q, QC_WARM_SEEN, seen);
    count(q, QC_WARM_HASHED, hashed);
    count(q, QC_WARM_BYTES, bytes);
}

void cc_queue_warm_time(cc_queue_t *q, apr_uint64_t msec)
{
    atomic_store_explicit(&q->counters[QC_WARM_MSEC], msec,
                          memory_order_relaxed);
}

void cc_queue_warm_reset(cc_queue_t *q, cc_warm_state_e state)
{
    atomic_store_explicit(&q->counters[QC_WARM_MSEC], 0, memory_order_relaxed);
    atomic_store_explicit(&q->counters[QC_WARM_SEEN], 0, memory_order_relaxed);
    atomic_store_explicit(&q->counters[QC_WARM_HASHED], 0,
                          memory_order_relaxed);
    atomic_store_explicit(&q->counters[QC_WARM_BYTES], 0, memory_order_relaxed);
    atomic_store_explicit(&q->counters[QC_WARM_STATE], (uint64_t)state,
                          memory_order_relaxed);
}

void cc_queue_set_worker(cc_queue_t *q, apr_uint64_t pid)
{
    atomic_store_explicit(&q->counters[QC_WORKER_PID], pid,
                          memory_order_relaxed);
}
