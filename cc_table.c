/* cc_table.c: file keys, the shared table of digests, single flight and
 * find-or-compute.  APR only: no httpd headers.  See cc_table.h for the
 * interface; hashing is cc_digest's.
 *
 * THE SHARED TABLE
 * ================
 * One table lives in one shared-memory segment, created by httpd's parent
 * before it forks and inherited by every child.  It maps a file's identity
 * (device, inode, size, mtime, ctime, digest algorithm) to the digest of its
 * bytes.  Everything in it is plain data: no pointers, only indices, so any
 * process may map it at any address.
 *
 *   +--------------------------------------------------------------+
 *   | header line: magic, layout version, entries, bytes, slot size |  64 B
 *   | writer lock: 0, or (pid << 32 | monotonic second it was taken)|  64 B
 *   | counters: hits, misses, inserts, ... one per cache line       |  64 B each
 *   +--------------------------------------------------------------+
 *   | slot 0 | slot 1 | slot 2 | ...                  | slot n - 1 | 128 B each
 *   +--------------------------------------------------------------+
 *
 *   slot (16 words of 8 bytes, all C11 atomics):
 *     seq     sequence word: odd while a writer is inside the slot
 *     dev ino size mtime ctime                       the key
 *     meta    state (empty, ready, pending) | algorithm | waited | owner pid
 *     check   32-bit hash of all the above and the digest   | used
 *     word[8] the digest; while pending: monotonic start, owner token
 *
 * A key hashes to a home slot; its entry may sit in any of the CC_WINDOW
 * slots from there on (wrapping).  A lookup reads at most that window.
 *
 * CONCURRENCY PROTOCOL
 * --------------------
 * Readers (every request) take no lock and never write anything but the
 * "used" hint.  Writers (a request that has just hashed a file, or is about
 * to) are rare and serialise on the writer lock.
 *
 * Each slot is a seqlock.  A writer holding the writer lock makes seq odd,
 * issues a release fence, stores the fields with relaxed atomic stores, and
 * makes seq even again with a release store.  A reader loads seq with
 * acquire, loads the fields with relaxed loads, issues an acquire fence and
 * loads seq again.  If both loads saw the same even value, no writer touched
 * the slot in between: had the reader seen any store made after the
 * writer's release fence, its acquire fence would synchronise with that
 * fence and the second load would see the odd seq.  So the copy is one
 * writer's complete work, and the key and digest it pairs belong together.
 * A reader retries a changing slot twice, then treats it as absent.  A
 * miss is always safe: it costs a hash, never a wrong tag.
 *
 * Invariants:
 *  I1  Only the holder of the writer lock changes a slot (other than "used").
 *  I2  A slot's fields are read only as one validated copy: seq equal and
 *      even before and after, and check equal to the hash of the copy.
 *  I3  A ready slot's digest is the digest of bytes read from a descriptor
 *      whose fstat gave exactly the slot's key before and after hashing,
 *      which held exactly the key's size in bytes, and whose key was
 *      settled (cc_key_settled()) when hashing ended.
 *  I4  Nobody waits on anything held by a dead process: the writer lock and
 *      pending entries carry their owner's pid and start time.
 *
 * Dying writers.  A child can be killed anywhere.  Killed while holding
 * the writer lock, it leaves the lock word naming a dead pid: the next
 * writer sees kill(pid, 0) fail with ESRCH and takes the lock over; a lock
 * held longer than CC_LOCK_STALE_SEC is taken over whatever its pid says
 * (pids are reused).  Killed inside a slot, it leaves seq odd: readers skip
 * the slot, and the next lock holder knows an odd slot can only be such a
 * leftover (I1) and overwrites it.  The only way two writers can overlap is
 * a writer stopped (SIGSTOP, debugger) for CC_LOCK_STALE_SEC inside its
 * critical section and then resumed; its stray stores would tear a slot
 * that the check word then rejects (I2).
 *
 * Single flight.  Before hashing a file a writer publishes a pending entry
 * for its key.  Others who want the same key find it and wait (polling the
 * table, at most cc_wait_budget()) instead of hashing the same bytes again.
 * The owner replaces it with the digest, or empties it if it has none.  A
 * pending entry whose owner is dead, or older than cc_abandon_budget(), is
 * taken over by the next comer.
 *
 * A requester that goes away (the client closed the connection) stops
 * hashing at the next CC_CANCEL_CHECK_BYTES unless its pending entry is
 * marked as waited for: a waiter marks it under the lock when it first
 * finds it.
 *
 * Clocks.  Lock stamps, pending start times and wait deadlines are read
 * from CLOCK_MONOTONIC, one clock for all processes that never steps back;
 * ages are signed, and a stamp from the future (another boot) is stale.
 * Only the comparison of a file's ctime with the present uses the wall
 * clock, since ctime is a wall-clock time.
 *
 * Stale digests.  Timestamps come from a coarse clock: two rewrites of a
 * file within one tick can leave the same (size, mtime, ctime).  A digest
 * is therefore stored only when the file's ctime is at least CC_RACY in
 * the past (the "racy git" rule), or CC_RACY_COARSE when the ctime has no
 * sub-second part: such a filesystem keeps whole seconds (NFS, ext4 with
 * 128-byte inodes) or 2-second ticks (FAT), and before Linux 6.13 the
 * kernel's coarse clock can stamp a write made just after a tick with the
 * tick before.  A file changed more recently is hashed on every request,
 * by that request (there is no result to share), until it settles.
 */

#define _GNU_SOURCE 1

#include "cc_table.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sched.h>

#if ATOMIC_LLONG_LOCK_FREE != 2 || ATOMIC_INT_LOCK_FREE != 2
#error "mod_condcache needs lock-free 32- and 64-bit atomics in shared memory"
#endif

/* ------------------------------------------------------------------ */
/* File identity                                                       */

/* What APR makes of a stat() time: microseconds. */
static apr_time_t timespec_apr(const struct timespec *ts)
{
    return apr_time_from_sec(ts->tv_sec) + ts->tv_nsec / 1000;
}

apr_status_t cc_file_key_from_stat(const struct stat *st, cc_file_key_t *key)
{
    key->dev = (apr_uint64_t)st->st_dev;
    key->ino = (apr_uint64_t)st->st_ino;
    key->size = (apr_int64_t)st->st_size;
    key->mtime = timespec_apr(&st->st_mtim);
    key->ctime = timespec_apr(&st->st_ctim);
    return S_ISREG(st->st_mode) ? APR_SUCCESS : APR_EINVAL;
}

apr_status_t cc_file_key_from_fd(int fd, cc_file_key_t *key)
{
    struct stat st;

    if (fstat(fd, &st) != 0) {
        return errno;
    }
    return cc_file_key_from_stat(&st, key);
}

apr_status_t cc_file_key_from_finfo(const apr_finfo_t *finfo,
                                   cc_file_key_t *key)
{
    const apr_int32_t needed = APR_FINFO_IDENT | APR_FINFO_SIZE
                             | APR_FINFO_MTIME | APR_FINFO_CTIME
                             | APR_FINFO_TYPE;

    if ((finfo->valid & needed) != needed) {
        return APR_INCOMPLETE;
    }
    key->dev = (apr_uint64_t)finfo->device;
    key->ino = (apr_uint64_t)finfo->inode;
    key->size = (apr_int64_t)finfo->size;
    key->mtime = finfo->mtime;
    key->ctime = finfo->ctime;
    return finfo->filetype == APR_REG ? APR_SUCCESS : APR_EINVAL;
}

int cc_file_key_equal(const cc_file_key_t *a, const cc_file_key_t *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size
        && a->mtime == b->mtime && a->ctime == b->ctime;
}

/* ------------------------------------------------------------------ */
/* The shared table                                                    */

#define CC_TABLE_MAGIC     UINT64_C(0x6d6f645f63634e44)   /* "mod_ccND" */
/* 2: pending entries carry the waited-for mark and a monotonic start;
 * 3: the header names the digest set (a table may outlive the process);
 * 4: 128-byte slots, room for a SHA-512 digest */
#define CC_TABLE_VERSION   5   /* 5: variant counters */
#define CC_CACHE_LINE      CC_TABLE_ALIGN
#define CC_WINDOW          8        /* slots a key may live in */
#define CC_READ_RETRIES    3        /* copies a reader tries per slot */
#define CC_LOCK_STALE_SEC  10       /* a lock held this long is taken over */
/* How long a writer tries for the lock: a request storing a digest gives
 * up soon (the store is best effort), one that must remove or fill its
 * own pending entry, which others wait on, or clear the table, holds on. */
#define CC_LOCK_PATIENCE_MS         5
#define CC_LOCK_PATIENCE_FINISH_MS  1000
/* Digests are stored only for files whose ctime is this old (see "Stale
 * digests" above); in whole seconds, the ctime of a coarse filesystem. */
#define CC_RACY            apr_time_from_sec(1)
#define CC_RACY_COARSE     apr_time_from_sec(3)

enum { SLOT_EMPTY = 0, SLOT_READY = 1, SLOT_PENDING = 2 };

/* Words of digest in a slot: the longest digest, SHA-512. */
#define SLOT_WORDS         (CC_DIGEST_MAX / 8)

typedef struct {
    _Atomic uint64_t seq;
    _Atomic uint64_t dev;
    _Atomic uint64_t ino;
    _Atomic uint64_t size;
    _Atomic uint64_t mtime;
    _Atomic uint64_t ctime;
    _Atomic uint64_t meta;      /* state | algo << 8 | owner pid << 32 */
    _Atomic uint32_t check;
    _Atomic uint32_t used;      /* last hit, in seconds; a hint, unprotected */
    _Atomic uint64_t word[SLOT_WORDS];  /* digest, or pending start, token */
} cc_slot_t;

_Static_assert(sizeof(cc_slot_t) == 128, "slot layout: two cache lines");

/* A plain copy of a slot, taken under the seqlock rules. */
typedef struct {
    uint64_t dev, ino, size, mtime, ctime, meta;
    uint32_t check, used;
    uint64_t word[SLOT_WORDS];
} slot_copy_t;

typedef struct {
    alignas(CC_CACHE_LINE) _Atomic uint64_t value;
} cc_counter_t;

enum {
    C_HITS, C_MISSES, C_INSERTS, C_EVICTIONS, C_FILES_HASHED, C_BYTES_HASHED,
    C_WAITS, C_UNCACHED, C_LOCK_RECOVERIES, C_IN_USE, C_TOKENS,
    C_VARIANTS_SERVED, C_VARIANTS_CHECKED, C_VARIANTS_REJECTED,
    C_BYTES_DECODED, C_COUNT
};

struct cc_table_t {
    /* Written once, before the children exist; read-only afterwards. */
    alignas(CC_CACHE_LINE) uint64_t magic;
    uint32_t version;
    uint32_t entries;
    uint64_t bytes;
    uint32_t slot_bytes;
    uint32_t window;
    uint32_t digest_set;   /* which algorithms the numbers in slots name */

    alignas(CC_CACHE_LINE) _Atomic uint64_t writer;
    cc_counter_t counters[C_COUNT];
    alignas(CC_CACHE_LINE) cc_slot_t slots[];
};

#define SLOT_STATE(meta)  ((unsigned)((meta) & 0xff))
#define SLOT_ALGO(meta)   ((unsigned)(((meta) >> 8) & 0xff))
#define SLOT_PID(meta)    ((pid_t)((meta) >> 32))
#define SLOT_META(state, algo, pid) \
    ((uint64_t)(state) | ((uint64_t)(algo) << 8) | ((uint64_t)(uint32_t)(pid) << 32))
/* On a pending entry: somebody waits for its digest. */
#define SLOT_WAITED       (UINT64_C(1) << 16)

static void count(cc_table_t *t, int which, uint64_t n)
{
    atomic_fetch_add_explicit(&t->counters[which].value, n,
                              memory_order_relaxed);
}

static uint64_t mix64(uint64_t x)
{
    /* the splitmix64 finaliser: every input bit flips half the output */
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    return x;
}

static uint32_t copy_check(const slot_copy_t *c)
{
    uint64_t h = mix64(c->dev ^ UINT64_C(0x9e3779b97f4a7c15));
    int i;

    h = mix64(h ^ c->ino);
    h = mix64(h ^ c->size);
    h = mix64(h ^ c->mtime);
    h = mix64(h ^ c->ctime);
    h = mix64(h ^ c->meta);
    for (i = 0; i < SLOT_WORDS; i++) {
        h = mix64(h ^ c->word[i]);
    }
    return (uint32_t)(h ^ (h >> 32));
}

static uint32_t home_slot(const cc_table_t *t, const cc_file_key_t *key)
{
    uint64_t h = mix64(key->ino ^ mix64(key->dev));
    /* map 32 hash bits onto [0, entries) without a division */
    return (uint32_t)(((h >> 32) * (uint64_t)t->entries) >> 32);
}

static cc_slot_t *slot_at(cc_table_t *t, uint32_t home, unsigned i)
{
    uint32_t idx = home + i;
    if (idx >= t->entries) {
        idx -= t->entries;
    }
    return &t->slots[idx];
}

/* Copies a slot under the seqlock rules (I2).  0: busy or torn. */
static int slot_read(cc_slot_t *s, slot_copy_t *c)
{
    int tries, i;

    for (tries = 0; tries < CC_READ_RETRIES; tries++) {
        uint64_t s1 = atomic_load_explicit(&s->seq, memory_order_acquire);
        uint64_t s2;

        if (s1 & 1) {
            return 0;
        }
        c->dev = atomic_load_explicit(&s->dev, memory_order_relaxed);
        c->ino = atomic_load_explicit(&s->ino, memory_order_relaxed);
        c->size = atomic_load_explicit(&s->size, memory_order_relaxed);
        c->mtime = atomic_load_explicit(&s->mtime, memory_order_relaxed);
        c->ctime = atomic_load_explicit(&s->ctime, memory_order_relaxed);
        c->meta = atomic_load_explicit(&s->meta, memory_order_relaxed);
        c->check = atomic_load_explicit(&s->check, memory_order_relaxed);
        for (i = 0; i < SLOT_WORDS; i++) {
            c->word[i] = atomic_load_explicit(&s->word[i],
                                              memory_order_relaxed);
        }
        atomic_thread_fence(memory_order_acquire);
        s2 = atomic_load_explicit(&s->seq, memory_order_relaxed);
        if (s1 == s2) {
            c->used = atomic_load_explicit(&s->used, memory_order_relaxed);
            if (SLOT_STATE(c->meta) == SLOT_EMPTY) {
                return 1;
            }
            return c->check == copy_check(c);
        }
    }
    return 0;
}

/* Overwrites a slot.  The caller holds the writer lock (I1), so an odd seq
 * here was left by a writer that died inside the slot. */
static void slot_write(cc_slot_t *s, slot_copy_t *c)
{
    uint64_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);
    int i;

    if (!(seq & 1)) {
        seq++;
        atomic_store_explicit(&s->seq, seq, memory_order_relaxed);
    }
    atomic_thread_fence(memory_order_release);

    c->check = copy_check(c);
    atomic_store_explicit(&s->dev, c->dev, memory_order_relaxed);
    atomic_store_explicit(&s->ino, c->ino, memory_order_relaxed);
    atomic_store_explicit(&s->size, c->size, memory_order_relaxed);
    atomic_store_explicit(&s->mtime, c->mtime, memory_order_relaxed);
    atomic_store_explicit(&s->ctime, c->ctime, memory_order_relaxed);
    atomic_store_explicit(&s->meta, c->meta, memory_order_relaxed);
    atomic_store_explicit(&s->check, c->check, memory_order_relaxed);
    for (i = 0; i < SLOT_WORDS; i++) {
        atomic_store_explicit(&s->word[i], c->word[i], memory_order_relaxed);
    }
    atomic_store_explicit(&s->used, c->used, memory_order_relaxed);

    atomic_store_explicit(&s->seq, seq + 1, memory_order_release);
}

static int copy_has_key(const slot_copy_t *c, const cc_file_key_t *key,
                        cc_algo_e algo)
{
    return c->ino == key->ino && c->dev == key->dev
        && c->size == (uint64_t)key->size
        && c->mtime == (uint64_t)key->mtime
        && c->ctime == (uint64_t)key->ctime
        && SLOT_ALGO(c->meta) == (unsigned)algo;
}

static void copy_set_key(slot_copy_t *c, const cc_file_key_t *key)
{
    c->dev = key->dev;
    c->ino = key->ino;
    c->size = (uint64_t)key->size;
    c->mtime = (uint64_t)key->mtime;
    c->ctime = (uint64_t)key->ctime;
}

/* Time between processes is measured on CLOCK_MONOTONIC, which on Linux
 * is one clock for the whole system and never steps back, whatever NTP or
 * a resumed VM does to the wall clock.  In microseconds. */
static apr_time_t mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (apr_time_t)ts.tv_sec * APR_USEC_PER_SEC + ts.tv_nsec / 1000;
}

static uint32_t mono_sec(void)
{
    return (uint32_t)(mono_now() / APR_USEC_PER_SEC);
}

/* Seconds from `then` to `now`, both mono_sec() values, as a signed
 * number: negative only for a stamp of another boot (or a wrap after 136
 * years), which no live writer can hold. */
static int64_t mono_age(uint32_t now, uint32_t then)
{
    return (int64_t)now - (int64_t)then;
}

/* This process's pid, asked of the kernel once per process: every store
 * names its writer, and a syscall is a real part of a store's cost (the
 * warm-up stores thousands a second).  A fork clears it in the child,
 * before anything runs there; the handler goes with the module when it
 * is unloaded. */
static _Atomic pid_t self_pid_cache;
static pthread_once_t self_pid_once = PTHREAD_ONCE_INIT;

static void self_pid_forget(void)
{
    atomic_store_explicit(&self_pid_cache, 0, memory_order_relaxed);
}

static void self_pid_register(void)
{
    (void)pthread_atfork(NULL, NULL, self_pid_forget);
}

static pid_t self_pid(void)
{
    pid_t pid = atomic_load_explicit(&self_pid_cache, memory_order_relaxed);

    if (pid == 0) {
        /* the handler first: a fork from now on clears what is kept */
        pthread_once(&self_pid_once, self_pid_register);
        pid = getpid();
        atomic_store_explicit(&self_pid_cache, pid, memory_order_relaxed);
    }
    return pid;
}

static int process_is_dead(pid_t pid)
{
    return pid > 0 && pid != self_pid() && kill(pid, 0) != 0
           && errno == ESRCH;
}

/* The writer lock.  Held for a slot write or two: well under a
 * microsecond, so contention is short and a long hold means trouble (I4). */
static int writer_lock(cc_table_t *t, int patience_ms, uint64_t *token)
{
    uint64_t mine = ((uint64_t)(uint32_t)self_pid() << 32) | mono_sec();
    struct timespec nap = { 0, 50000 };
    int round;

    for (round = 0; ; round++) {
        uint64_t cur = atomic_load_explicit(&t->writer, memory_order_relaxed);
        int64_t age;

        if (cur == 0) {
            if (atomic_compare_exchange_weak_explicit(&t->writer, &cur, mine,
                    memory_order_acquire, memory_order_relaxed)) {
                *token = mine;
                return 1;
            }
            continue;
        }
        age = mono_age(mono_sec(), (uint32_t)cur);
        if (age > CC_LOCK_STALE_SEC || age < 0
            || process_is_dead((pid_t)(cur >> 32))) {
            if (atomic_compare_exchange_strong_explicit(&t->writer, &cur, mine,
                    memory_order_acquire, memory_order_relaxed)) {
                count(t, C_LOCK_RECOVERIES, 1);
                *token = mine;
                return 1;
            }
            continue;
        }
        if (round < 64) {
            sched_yield();
        }
        else if ((round - 64) * 50 / 1000 >= patience_ms) {
            return 0;
        }
        else {
            nanosleep(&nap, NULL);
        }
    }
}

static void writer_unlock(cc_table_t *t, uint64_t token)
{
    /* a compare-exchange, not a store: if the lock was taken over from us
     * (we were stopped for CC_LOCK_STALE_SEC), it is not ours to free */
    atomic_compare_exchange_strong_explicit(&t->writer, &token, 0,
            memory_order_release, memory_order_relaxed);
}

apr_size_t cc_table_slot_bytes(void)
{
    return sizeof(cc_slot_t);
}

apr_size_t cc_table_bytes(apr_uint32_t entries)
{
    apr_size_t bytes = sizeof(cc_table_t) + (apr_size_t)entries * sizeof(cc_slot_t);
    return (bytes + CC_CACHE_LINE - 1) & ~(apr_size_t)(CC_CACHE_LINE - 1);
}

apr_size_t cc_table_segment_bytes(apr_uint32_t entries)
{
    return cc_table_bytes(entries) + CC_TABLE_ALIGN;
}

void *cc_table_place(void *segment)
{
    uintptr_t at = (uintptr_t)segment;

    return (void *)((at + CC_TABLE_ALIGN - 1) & ~(uintptr_t)(CC_TABLE_ALIGN - 1));
}

static int table_args_ok(void *mem, apr_size_t bytes, apr_uint32_t entries)
{
    return mem && ((uintptr_t)mem % CC_CACHE_LINE) == 0
        && entries >= 1 && entries <= CC_TABLE_MAX_ENTRIES
        && bytes >= cc_table_bytes(entries);
}

/* What the algorithm numbers in slots mean, as one word: a table made by
 * a build whose algorithms are numbered or sized otherwise is not read. */
static uint32_t digest_set(void)
{
    uint64_t h = mix64(CC_DIGEST_MAX);
    int a;

    for (a = 1; cc_algo_name((cc_algo_e)a); a++) {
        const char *name = cc_algo_name((cc_algo_e)a);
        uint64_t w = 0;

        memcpy(&w, name, strlen(name) < 8 ? strlen(name) : 8);
        h = mix64(h ^ (uint64_t)a ^ ((uint64_t)cc_algo_size((cc_algo_e)a) << 8)
                  ^ mix64(w));
    }
    return (uint32_t)(h ^ (h >> 32));
}

cc_table_t *cc_table_create(void *mem, apr_size_t bytes, apr_uint32_t entries)
{
    cc_table_t *t = mem;
    int i;

    if (!table_args_ok(mem, bytes, entries)) {
        return NULL;
    }
    t->digest_set = digest_set();
    t->magic = CC_TABLE_MAGIC;
    t->version = CC_TABLE_VERSION;
    t->entries = entries;
    t->bytes = bytes;
    t->slot_bytes = sizeof(cc_slot_t);
    t->window = entries < CC_WINDOW ? entries : CC_WINDOW;
    atomic_store_explicit(&t->writer, 0, memory_order_relaxed);
    for (i = 0; i < C_COUNT; i++) {
        atomic_store_explicit(&t->counters[i].value, 0, memory_order_relaxed);
    }
    return t;
}

cc_table_t *cc_table_reuse(void *mem, apr_size_t bytes, apr_uint32_t entries)
{
    cc_table_t *t = mem;

    if (!table_args_ok(mem, bytes, entries)
        || t->magic != CC_TABLE_MAGIC || t->version != CC_TABLE_VERSION
        || t->entries != entries || t->bytes != bytes
        || t->slot_bytes != sizeof(cc_slot_t)
        || t->window != (entries < CC_WINDOW ? entries : CC_WINDOW)
        || t->digest_set != digest_set()) {
        return NULL;
    }
    return t;
}

cc_table_t *cc_table_attach(void *mem, apr_size_t bytes, apr_uint32_t entries,
                            cc_table_attach_t *report)
{
    cc_table_t *t = cc_table_reuse(mem, bytes, entries);
    uint64_t kept = 0;
    uint32_t i;
    int c;

    memset(report, 0, sizeof(*report));
    if (!t) {
        return NULL;
    }
    /* Nobody else uses the table now: plain repairs, no protocol. */
    atomic_store_explicit(&t->writer, 0, memory_order_relaxed);
    for (c = 0; c < C_COUNT; c++) {
        atomic_store_explicit(&t->counters[c].value, 0, memory_order_relaxed);
    }
    for (i = 0; i < t->entries; i++) {
        cc_slot_t *s = &t->slots[i];
        slot_copy_t copy, zero;

        if (slot_read(s, &copy)) {
            unsigned state = SLOT_STATE(copy.meta);

            if (state == SLOT_READY
                && cc_algo_size((cc_algo_e)SLOT_ALGO(copy.meta)) > 0) {
                kept++;
                continue;
            }
            if (state == SLOT_EMPTY && copy.meta == 0 && copy.ino == 0
                && copy.dev == 0) {
                continue;
            }
        }
        /* a pending hash of a dead process, a slot left odd or torn by a
         * writer that died (or a file damaged on disk): empty it */
        memset(&zero, 0, sizeof(zero));
        slot_write(s, &zero);
        atomic_store_explicit(&s->seq, 0, memory_order_relaxed);
        report->dropped++;
    }
    atomic_store_explicit(&t->counters[C_IN_USE].value, kept,
                          memory_order_relaxed);
    report->kept = kept;
    return t;
}

static void copy_set_digest(slot_copy_t *c, const cc_digest_t *d)
{
    int w;
    for (w = 0; w < SLOT_WORDS; w++) {
        memcpy(&c->word[w], d->bytes + 8 * w, 8);
    }
}

static void copy_get_digest(const slot_copy_t *c, cc_algo_e algo,
                            cc_digest_t *d)
{
    int w;
    d->algo = algo;
    for (w = 0; w < SLOT_WORDS; w++) {
        memcpy(d->bytes + 8 * w, &c->word[w], 8);
    }
}

/* The ready entry of a digest. */
static void copy_make_ready(slot_copy_t *c, const cc_file_key_t *key,
                            const cc_digest_t *digest, apr_time_t now)
{
    memset(c, 0, sizeof(*c));
    copy_set_key(c, key);
    c->meta = SLOT_META(SLOT_READY, digest->algo, 0);
    c->used = (uint32_t)apr_time_sec(now);
    copy_set_digest(c, digest);
}

/* The lock-free lookup, counting nothing; the last-use hint is set to
 * `now` unless it is 0. */
static int table_find(cc_table_t *t, const cc_file_key_t *key, cc_algo_e algo,
                      apr_time_t now, cc_digest_t *out)
{
    uint32_t home = home_slot(t, key);
    unsigned i;

    for (i = 0; i < t->window; i++) {
        cc_slot_t *s = slot_at(t, home, i);
        slot_copy_t c;

        /* cheap filter before taking a full copy */
        if (atomic_load_explicit(&s->ino, memory_order_relaxed) != key->ino) {
            continue;
        }
        if (slot_read(s, &c) && SLOT_STATE(c.meta) == SLOT_READY
            && copy_has_key(&c, key, algo)) {
            uint32_t sec = (uint32_t)apr_time_sec(now);

            copy_get_digest(&c, algo, out);
            /* write the hint at most once a second per entry, so a hot
             * entry's cache line is not bounced between cores */
            if (now && c.used != sec) {
                atomic_store_explicit(&s->used, sec, memory_order_relaxed);
            }
            return 1;
        }
    }
    return 0;
}

int cc_table_contains(cc_table_t *t, const cc_file_key_t *key,
                      cc_algo_e algo)
{
    cc_digest_t ignored;

    return table_find(t, key, algo, 0, &ignored);
}

int cc_table_lookup(cc_table_t *t, const cc_file_key_t *key, cc_algo_e algo,
                    apr_time_t now, cc_digest_t *out)
{
    int hit = table_find(t, key, algo, now, out);

    count(t, hit ? C_HITS : C_MISSES, 1);
    return hit;
}

int cc_table_peek(cc_table_t *t, const cc_file_key_t *key, cc_algo_e algo,
                  apr_time_t now, cc_digest_t *out)
{
    return table_find(t, key, algo, now, out);
}

void cc_table_count_variant(cc_table_t *t, cc_variant_count_e what,
                            apr_uint64_t n)
{
    static const int counter[] = {
        [CC_VARIANT_SERVED] = C_VARIANTS_SERVED,
        [CC_VARIANT_CHECKED] = C_VARIANTS_CHECKED,
        [CC_VARIANT_REJECTED] = C_VARIANTS_REJECTED,
        [CC_VARIANT_BYTES_DECODED] = C_BYTES_DECODED,
    };

    if ((unsigned)what < sizeof(counter) / sizeof(counter[0])) {
        count(t, counter[what], n);
    }
}

static apr_time_t abandon_budget(apr_int64_t size)
{
    /* generous: a live owner hashes at hundreds of MB/s */
    return apr_time_from_sec(10) + size / 10;   /* 10 MB/s, in us */
}

static apr_time_t wait_budget(apr_int64_t size)
{
    apr_time_t b = apr_time_from_sec(2) + size / 100;   /* 100 MB/s */
    return b < apr_time_from_sec(30) ? b : apr_time_from_sec(30);
}

/* A pending entry's word[0] is the mono_now() its owner started at. */
static int pending_abandoned(const slot_copy_t *c, apr_time_t mono)
{
    apr_time_t age = mono - (apr_time_t)c->word[0];

    return process_is_dead(SLOT_PID(c->meta)) || age < 0
        || age > abandon_budget((apr_int64_t)c->size);
}

/* What is in a window, for a writer holding the lock. */
typedef struct {
    int found;          /* index in window of the entry for the key, or -1 */
    int found_state;
    int victim;         /* index in window of the slot to replace, or -1 */
    int victim_state;   /* SLOT_*, or -1 for a slot left odd by a dead writer */
    slot_copy_t found_copy;
} window_scan_t;

static void scan_window(cc_table_t *t, uint32_t home, const cc_file_key_t *key,
                        cc_algo_e algo, window_scan_t *w)
{
    unsigned i;
    int best_rank = -1;
    uint32_t best_used = 0;
    apr_time_t mono = 0;

    w->found = -1;
    w->victim = -1;
    w->victim_state = SLOT_EMPTY;
    for (i = 0; i < t->window; i++) {
        slot_copy_t c;
        int rank, state;

        if (!slot_read(slot_at(t, home, i), &c)) {
            /* We hold the lock, so this is a dead writer's leftover (or a
             * torn slot): the best victim there is. */
            rank = 4;
            state = -1;
        }
        else {
            state = (int)SLOT_STATE(c.meta);
            if (state != SLOT_EMPTY && copy_has_key(&c, key, algo)) {
                if (w->found < 0) {
                    w->found = (int)i;
                    w->found_state = state;
                    w->found_copy = c;
                }
                continue;
            }
            if (state == SLOT_EMPTY) {
                rank = 4;
            }
            else if (state == SLOT_PENDING) {
                if (!mono) {
                    mono = mono_now();
                }
                rank = pending_abandoned(&c, mono) ? 3 : 0;
            }
            else if (c.ino == key->ino && c.dev == key->dev
                     && SLOT_ALGO(c.meta) == (unsigned)algo) {
                rank = 2;       /* an older version of the same file */
            }
            else {
                rank = 1;       /* least recently used of the rest */
            }
        }
        if (rank == 0) {
            continue;
        }
        if (rank > best_rank || (rank == 1 && c.used < best_used)) {
            best_rank = rank;
            best_used = rank == 1 ? c.used : 0;
            w->victim = (int)i;
            w->victim_state = state;
        }
    }
}

/* Writes `c` into window slot `idx`, keeping the counters right.  Entries
 * in use are counted up before a slot is filled and down after it is
 * emptied, so a slot left odd by a dead writer is always counted. */
static void window_put(cc_table_t *t, uint32_t home, int idx, int old_state,
                       slot_copy_t *c)
{
    int new_empty = SLOT_STATE(c->meta) == SLOT_EMPTY;

    if (old_state == SLOT_EMPTY && !new_empty) {
        count(t, C_IN_USE, 1);
    }
    if (old_state == SLOT_READY && SLOT_STATE(c->meta) == SLOT_READY) {
        count(t, C_EVICTIONS, 1);
    }
    slot_write(slot_at(t, home, (unsigned)idx), c);
    if (old_state != SLOT_EMPTY && new_empty) {
        atomic_fetch_sub_explicit(&t->counters[C_IN_USE].value, 1,
                                  memory_order_relaxed);
    }
}

/* Stores a digest; the caller holds the lock.  An entry of the same key
 * and algorithm stays as it is, unless `replace`. */
static int store_locked_how(cc_table_t *t, const cc_file_key_t *key,
                            const cc_digest_t *digest, apr_time_t now,
                            int replace)
{
    uint32_t home = home_slot(t, key);
    window_scan_t w;
    slot_copy_t c;
    int idx, old;

    scan_window(t, home, key, digest->algo, &w);
    if (w.found >= 0 && w.found_state == SLOT_READY) {
        if (!replace) {
            return 1;               /* someone stored it meanwhile */
        }
        copy_make_ready(&c, key, digest, now);
        window_put(t, home, w.found, SLOT_READY, &c);
        return 1;
    }
    /* a pending entry for this key: publish into it, its waiters gain */
    idx = w.found >= 0 ? w.found : w.victim;
    old = w.found >= 0 ? SLOT_PENDING : w.victim_state;
    if (idx < 0) {
        return 0;                   /* every slot is being hashed for */
    }
    copy_make_ready(&c, key, digest, now);
    window_put(t, home, idx, old, &c);
    count(t, C_INSERTS, 1);
    return 1;
}

static int store_locked(cc_table_t *t, const cc_file_key_t *key,
                        const cc_digest_t *digest, apr_time_t now)
{
    return store_locked_how(t, key, digest, now, 0);
}

/* Stores under the writer lock: 0 when the lock did not come soon. */
static int store(cc_table_t *t, const cc_file_key_t *key,
                 const cc_digest_t *digest, apr_time_t now, int replace)
{
    uint64_t token;
    int stored;

    if (cc_algo_size(digest->algo) == 0
        || !writer_lock(t, CC_LOCK_PATIENCE_MS, &token)) {
        return 0;
    }
    stored = store_locked_how(t, key, digest, now, replace);
    writer_unlock(t, token);
    return stored;
}

int cc_table_store(cc_table_t *t, const cc_file_key_t *key,
                   const cc_digest_t *digest, apr_time_t now)
{
    return store(t, key, digest, now, 0);
}

int cc_table_replace(cc_table_t *t, const cc_file_key_t *key,
                     const cc_digest_t *digest, apr_time_t now)
{
    return store(t, key, digest, now, 1);
}

void cc_table_prefault(cc_table_t *t)
{
#ifdef MADV_POPULATE_READ
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t from, to;

    if (page <= 0) {
        return;
    }
    from = (uintptr_t)t & ~(uintptr_t)(page - 1);
    to = (uintptr_t)t + (uintptr_t)t->bytes;
    /* best effort: an older kernel says EINVAL, and faults come as before */
    (void)madvise((void *)from, to - from, MADV_POPULATE_READ);
#else
    (void)t;
#endif
}

void cc_table_clear(cc_table_t *t)
{
    uint64_t token;
    uint32_t i;

    if (!writer_lock(t, CC_LOCK_PATIENCE_FINISH_MS, &token)) {
        return;
    }
    for (i = 0; i < t->entries; i++) {
        slot_copy_t c;
        int readable = slot_read(&t->slots[i], &c);
        if (!readable || SLOT_STATE(c.meta) != SLOT_EMPTY) {
            memset(&c, 0, sizeof(c));
            window_put(t, i, 0, readable ? SLOT_READY : -1, &c);
        }
    }
    writer_unlock(t, token);
}

void cc_table_stats(cc_table_t *t, cc_table_stats_t *out)
{
#define LOAD(which) atomic_load_explicit(&t->counters[which].value, \
                                         memory_order_relaxed)
    out->capacity = t->entries;
    out->in_use = (apr_uint32_t)LOAD(C_IN_USE);
    out->hits = LOAD(C_HITS);
    out->misses = LOAD(C_MISSES);
    out->inserts = LOAD(C_INSERTS);
    out->evictions = LOAD(C_EVICTIONS);
    out->files_hashed = LOAD(C_FILES_HASHED);
    out->bytes_hashed = LOAD(C_BYTES_HASHED);
    out->waits = LOAD(C_WAITS);
    out->uncached = LOAD(C_UNCACHED);
    out->lock_recoveries = LOAD(C_LOCK_RECOVERIES);
    out->variants_served = LOAD(C_VARIANTS_SERVED);
    out->variants_checked = LOAD(C_VARIANTS_CHECKED);
    out->variants_rejected = LOAD(C_VARIANTS_REJECTED);
    out->bytes_decoded = LOAD(C_BYTES_DECODED);
    out->shm_bytes = (apr_size_t)t->bytes;
    out->slot_bytes = t->slot_bytes;
#undef LOAD
}

/* ------------------------------------------------------------------ */
/* Single flight                                                       */

typedef enum { BEGIN_HIT, BEGIN_OWNER, BEGIN_WAIT } begin_e;

typedef struct {
    int      tracked;   /* we published a pending entry */
    uint32_t home;
    int      idx;
    uint64_t token;
} claim_t;

/* Under the lock: the digest if someone has it, a wait if someone is
 * hashing it (the entry is then marked as waited for), or a pending entry
 * of our own (tracked, when the table can take one).  `now` is for the
 * last-use hint. */
static begin_e table_begin(cc_table_t *t, const cc_file_key_t *key,
                           cc_algo_e algo, apr_time_t now, cc_digest_t *out,
                           claim_t *claim)
{
    window_scan_t w;
    slot_copy_t c;
    uint64_t lock;
    int idx, old;

    claim->tracked = 0;
    if (!writer_lock(t, CC_LOCK_PATIENCE_MS, &lock)) {
        return BEGIN_OWNER;
    }
    claim->home = home_slot(t, key);
    scan_window(t, claim->home, key, algo, &w);
    if (w.found >= 0 && w.found_state == SLOT_READY) {
        writer_unlock(t, lock);
        copy_get_digest(&w.found_copy, algo, out);
        return BEGIN_HIT;
    }
    if (w.found >= 0 && !pending_abandoned(&w.found_copy, mono_now())) {
        if (!(w.found_copy.meta & SLOT_WAITED)) {
            c = w.found_copy;
            c.meta |= SLOT_WAITED;
            window_put(t, claim->home, w.found, SLOT_PENDING, &c);
        }
        writer_unlock(t, lock);
        return BEGIN_WAIT;
    }
    idx = w.found >= 0 ? w.found : w.victim;
    old = w.found >= 0 ? SLOT_PENDING : w.victim_state;
    if (idx >= 0) {
        memset(&c, 0, sizeof(c));
        copy_set_key(&c, key);
        c.meta = SLOT_META(SLOT_PENDING, algo, self_pid());
        c.word[0] = (uint64_t)mono_now();
        c.word[1] = atomic_fetch_add_explicit(&t->counters[C_TOKENS].value, 1,
                                              memory_order_relaxed) + 1;
        c.used = (uint32_t)apr_time_sec(now);
        if (old == SLOT_READY) {
            /* a pending entry is no digest: count the eviction now */
            count(t, C_EVICTIONS, 1);
        }
        window_put(t, claim->home, idx, old, &c);
        claim->tracked = 1;
        claim->idx = idx;
        claim->token = c.word[1];
    }
    writer_unlock(t, lock);
    return BEGIN_OWNER;
}

/* Is our pending entry still ours, and does somebody wait for it?  A
 * lock-free read: a torn or busy copy counts as "nobody waits". */
static int claim_waited(cc_table_t *t, const claim_t *claim)
{
    slot_copy_t c;

    return claim->tracked
        && slot_read(slot_at(t, claim->home, (unsigned)claim->idx), &c)
        && SLOT_STATE(c.meta) == SLOT_PENDING && c.word[1] == claim->token
        && (c.meta & SLOT_WAITED);
}

/* Replaces our pending entry with the digest, or removes it when there is
 * no digest to keep. */
static void table_finish(cc_table_t *t, const claim_t *claim,
                         const cc_file_key_t *key, cc_algo_e algo,
                         const cc_digest_t *digest, apr_time_t now)
{
    uint64_t lock;
    slot_copy_t c;

    if (!claim->tracked) {
        if (digest) {
            cc_table_store(t, key, digest, now);
        }
        return;
    }
    /* Patient: waiters depend on this entry going away. */
    if (!writer_lock(t, CC_LOCK_PATIENCE_FINISH_MS, &lock)) {
        return;
    }
    if (slot_read(slot_at(t, claim->home, (unsigned)claim->idx), &c)
        && SLOT_STATE(c.meta) == SLOT_PENDING && copy_has_key(&c, key, algo)
        && c.word[1] == claim->token) {
        if (digest) {
            copy_make_ready(&c, key, digest, now);
            window_put(t, claim->home, claim->idx, SLOT_PENDING, &c);
            count(t, C_INSERTS, 1);
        }
        else {
            memset(&c, 0, sizeof(c));
            window_put(t, claim->home, claim->idx, SLOT_PENDING, &c);
        }
    }
    else if (digest) {
        /* our entry was taken over or replaced meanwhile */
        store_locked(t, key, digest, now);
    }
    writer_unlock(t, lock);
}

/* ------------------------------------------------------------------ */
/* Find or compute                                                     */

static const char *const outcome_names[] = {
    [CC_OUTCOME_HIT] = "hit",
    [CC_OUTCOME_MISS] = "miss",
    [CC_OUTCOME_SHARED] = "shared",
    [CC_OUTCOME_UNCACHED] = "uncached",
    [CC_OUTCOME_CHANGED] = "changed",
    [CC_OUTCOME_BUSY] = "busy",
    [CC_OUTCOME_TOO_LARGE] = "too-large",
    [CC_OUTCOME_ERROR] = "error",
    [CC_OUTCOME_CANCELLED] = "cancelled",
    [CC_OUTCOME_NEED_FILE] = "need-file",
    [CC_OUTCOME_DEFERRED] = "deferred",
};

const char *cc_outcome_name(cc_outcome_e o)
{
    if ((unsigned)o < sizeof(outcome_names) / sizeof(outcome_names[0])
        && outcome_names[o]) {
        return outcome_names[o];
    }
    return "unknown";
}

int cc_key_settled(const cc_file_key_t *key, apr_time_t now)
{
    apr_uint64_t age;

    if (key->ctime > now) {
        return 0;                 /* changed "in the future": clock skew */
    }
    /* unsigned: no overflow whatever the two times are */
    age = (apr_uint64_t)now - (apr_uint64_t)key->ctime;
    /* A ctime in whole seconds comes from a filesystem that keeps no
     * finer time (FAT: 2 s ticks; NFS, ext4 with 128-byte inodes: 1 s),
     * whose tick may also be stamped late by the kernel's coarse clock. */
    return age >= (apr_uint64_t)(key->ctime % APR_USEC_PER_SEC == 0
                                 ? CC_RACY_COARSE : CC_RACY);
}

#define CC_HASH_ATTEMPTS 2   /* a file that changes under us: hash again once */

/* Whether a hash goes on: while its requester is there, or, once it has
 * gone, while other processes wait for the result. */
typedef struct {
    cc_table_t        *t;
    const claim_t     *claim;
    const cc_cancel_t *requester;
} find_cancel_t;

static int find_keep_going(void *arg)
{
    const find_cancel_t *fc = arg;

    if (fc->requester->keep_going(fc->requester->arg)) {
        return 1;
    }
    return fc->t && claim_waited(fc->t, fc->claim);
}

/* The `also` digests of how that are not known yet: looked up in the
 * table (counting nothing); their indices into how->also go to idx[].
 * Returns how many are missing. */
static int also_missing(cc_table_t *t, const cc_file_key_t *key,
                        const cc_find_t *how, cc_also_t *also, int *idx)
{
    int i, n = 0;

    for (i = 0; i < how->n_also; i++) {
        also->have[i] = t && table_find(t, key, how->also[i], how->now,
                                        &also->digest[i]);
        if (!also->have[i]) {
            idx[n++] = i;
        }
    }
    return n;
}

/* Hashes, in one read, the `also` digests the table lacks, once the main
 * digest is known: stored when the file did not change and has settled
 * (the first through `claim`, our pending entry for it, when there is
 * one: after the others, so that whoever waits for it finds them all);
 * given to the caller when the file did not change. */
static void hash_also(cc_table_t *t, int fd, const cc_file_key_t *key,
                      const cc_find_t *how, cc_also_t *also,
                      const int *idx, int n, const claim_t *claim)
{
    cc_algo_e algos[CC_DIGEST_MULTI_MAX];
    cc_digest_t outs[CC_DIGEST_MULTI_MAX];
    cc_file_key_t after;
    apr_uint64_t bytes = 0;
    apr_status_t rv;
    int i, keep;

    for (i = 0; i < n; i++) {
        algos[i] = how->also[idx[i]];
    }
    rv = cc_digest_fd_multi(fd, key->size, algos, n, outs, &bytes,
                            how->cancel.keep_going ? &how->cancel : NULL);
    if (t) {
        count(t, C_FILES_HASHED, 1);
        count(t, C_BYTES_HASHED, bytes);
    }
    also->read_for_also += bytes;
    keep = rv == APR_SUCCESS
        && cc_file_key_from_fd(fd, &after) == APR_SUCCESS
        && cc_file_key_equal(key, &after);    /* else none, not wrong ones */
    for (i = keep ? 0 : n; i < n; i++) {
        also->digest[idx[i]] = outs[i];
        also->have[idx[i]] = 1;
    }
    keep = keep && t && cc_key_settled(&after, apr_time_now());
    for (i = n - 1; keep && i > 0; i--) {
        cc_table_store(t, key, &outs[i], how->now);
    }
    if (claim) {
        table_finish(t, claim, key, algos[0], keep ? &outs[0] : NULL,
                     how->now);
    }
    else if (keep) {
        cc_table_store(t, key, &outs[0], how->now);
    }
}

/* The `also` digests missing for a file whose main digest is known.  One
 * process hashes them (single flight on the first missing one: the others
 * wait for its pending entry, then find them all); a file above
 * how->defer_above is left to the background worker (also->deferred). */
static void find_also(cc_table_t *t, int fd, const cc_file_key_t *key,
                      const cc_find_t *how, cc_also_t *also, int *idx,
                      int missing)
{
    struct timespec nap = { 0, 1000000 };
    apr_time_t deadline = 0;
    int waited = 0;

    if (how->defer && key->size > how->defer_above) {
        also->deferred = 1;
        return;
    }
    for (;;) {
        claim_t claim = { 0, 0, 0, 0 };
        cc_digest_t first;
        begin_e b;

        if (!t || !cc_key_settled(key, apr_time_now())) {
            hash_also(t, fd, key, how, also, idx, missing, NULL);
            return;
        }
        b = table_begin(t, key, how->also[idx[0]], how->now, &first, &claim);
        if (b == BEGIN_OWNER) {
            hash_also(t, fd, key, how, also, idx, missing, &claim);
            return;
        }
        if (b == BEGIN_HIT) {
            missing = also_missing(t, key, how, also, idx);
            if (missing) {              /* stored alone, by another path */
                hash_also(t, fd, key, how, also, idx, missing, NULL);
            }
            return;
        }
        if (how->cancel.keep_going
            && !how->cancel.keep_going(how->cancel.arg)) {
            return;
        }
        if (!waited) {
            waited = 1;
            count(t, C_WAITS, 1);
            deadline = mono_now() + wait_budget(key->size);
        }
        if (mono_now() > deadline) {
            return;                     /* served without the fields */
        }
        nanosleep(&nap, NULL);
        if (nap.tv_nsec < 16000000) {
            nap.tv_nsec *= 2;
        }
    }
}

static cc_outcome_e find_digests(cc_table_t *t, int fd, cc_file_key_t *key,
                                 const cc_find_t *how, cc_digest_t *out,
                                 cc_also_t *also, apr_status_t *err)
{
    apr_time_t deadline = 0;
    struct timespec nap = { 0, 1000000 };
    int waited = 0, attempts = 0, idx[CC_DIGEST_MULTI_MAX], missing;
    cc_also_t none;

    *err = APR_SUCCESS;
    if (!also) {
        also = &none;
    }
    memset(also, 0, sizeof(*also));
    if (how->n_also < 0 || how->n_also > CC_DIGEST_MULTI_MAX - 1) {
        *err = APR_EINVAL;
        return CC_OUTCOME_ERROR;
    }
    if (key->size > how->max_size) {
        return CC_OUTCOME_TOO_LARGE;
    }
    if (t && table_find(t, key, how->algo, how->now, out)) {
        missing = also_missing(t, key, how, also, idx);
        if (missing && fd < 0
            && !(how->defer && key->size > how->defer_above)) {
            return CC_OUTCOME_NEED_FILE;    /* for the missing fields */
        }
        if (!how->background) {
            count(t, C_HITS, 1);
        }
        if (missing) {
            find_also(t, fd, key, how, also, idx, missing);
        }
        return CC_OUTCOME_HIT;
    }
    if (fd < 0) {
        return CC_OUTCOME_NEED_FILE;    /* the caller comes back with one */
    }
    if (t && !how->background) {
        count(t, C_MISSES, 1);
    }
    if (how->defer && key->size > how->defer_above) {
        return CC_OUTCOME_DEFERRED;     /* the background worker's */
    }
    for (;;) {
        claim_t claim = { 0, 0, 0, 0 };
        find_cancel_t fc = { t, &claim, &how->cancel };
        cc_cancel_t cancel = { find_keep_going, &fc };
        cc_algo_e algos[CC_DIGEST_MULTI_MAX];
        cc_digest_t outs[CC_DIGEST_MULTI_MAX];
        cc_file_key_t after;
        apr_uint64_t bytes = 0;
        apr_status_t rv;
        int i;

        if (key->size > how->max_size) {
            return CC_OUTCOME_TOO_LARGE;
        }
        /* A file changed too recently will not be stored: waiting for
         * another process's hash of it would gain nothing. */
        if (t && cc_key_settled(key, apr_time_now())) {
            begin_e b = table_begin(t, key, how->algo, how->now, out, &claim);
            if (b == BEGIN_HIT) {
                /* its owner stored the fields before the digest */
                missing = also_missing(t, key, how, also, idx);
                if (missing) {
                    find_also(t, fd, key, how, also, idx, missing);
                }
                return waited ? CC_OUTCOME_SHARED : CC_OUTCOME_HIT;
            }
            if (b == BEGIN_WAIT) {
                if (how->cancel.keep_going
                    && !how->cancel.keep_going(how->cancel.arg)) {
                    return CC_OUTCOME_CANCELLED;   /* nobody to wait for */
                }
                if (!waited) {
                    waited = 1;
                    count(t, C_WAITS, 1);
                    deadline = mono_now() + wait_budget(key->size);
                }
                if (mono_now() > deadline) {
                    return CC_OUTCOME_BUSY;
                }
                nanosleep(&nap, NULL);
                if (nap.tv_nsec < 16000000) {
                    nap.tv_nsec *= 2;
                }
                continue;
            }
        }

        /* the digest and the missing fields, from one read */
        missing = also_missing(t, key, how, also, idx);
        algos[0] = how->algo;
        for (i = 0; i < missing; i++) {
            algos[1 + i] = how->also[idx[i]];
        }
        rv = cc_digest_fd_multi(fd, key->size, algos, 1 + missing, outs,
                                &bytes,
                                how->cancel.keep_going ? &cancel : NULL);
        if (t) {
            count(t, C_FILES_HASHED, 1);
            count(t, C_BYTES_HASHED, bytes);
        }
        if (rv == APR_SUCCESS || rv == APR_INCOMPLETE) {
            apr_status_t srv = cc_file_key_from_fd(fd, &after);
            if (srv != APR_SUCCESS) {
                rv = srv;
            }
        }
        if (rv != APR_SUCCESS && rv != APR_INCOMPLETE) {
            if (t) {
                table_finish(t, &claim, key, how->algo, NULL, how->now);
            }
            if (rv == ECANCELED) {
                return CC_OUTCOME_CANCELLED;
            }
            *err = rv;
            return CC_OUTCOME_ERROR;
        }
        if (rv == APR_INCOMPLETE || !cc_file_key_equal(key, &after)) {
            /* The bytes we read may mix two versions, or are not the
             * `size` bytes a response would send.  Give up the old key's
             * entry and hash the file as it is now. */
            if (t) {
                table_finish(t, &claim, key, how->algo, NULL, how->now);
            }
            *key = after;
            if (++attempts < CC_HASH_ATTEMPTS) {
                continue;
            }
            memset(also, 0, sizeof(*also));
            return CC_OUTCOME_CHANGED;
        }
        *out = outs[0];
        for (i = 0; i < missing; i++) {
            also->digest[idx[i]] = outs[1 + i];
            also->have[idx[i]] = 1;
        }
        if (!cc_key_settled(&after, apr_time_now())) {
            if (t) {
                table_finish(t, &claim, key, how->algo, NULL, how->now);
                count(t, C_UNCACHED, 1);
            }
            return CC_OUTCOME_UNCACHED;
        }
        if (t) {
            /* the fields first: whoever waits for the digest finds them */
            for (i = 0; i < missing; i++) {
                cc_table_store(t, key, &outs[1 + i], how->now);
            }
            table_finish(t, &claim, key, how->algo, out, how->now);
        }
        return CC_OUTCOME_MISS;
    }
}

cc_outcome_e cc_find_digests(cc_table_t *t, int fd, cc_file_key_t *key,
                             const cc_find_t *how, cc_digest_t *out,
                             cc_also_t *also, apr_status_t *err)
{
    cc_outcome_e o = find_digests(t, fd, key, how, out, also, err);

    /* the extra digests go with the main one: none without it (a hash
     * that went round to a new key and then stopped may have found some
     * of the old key's) */
    if (also && o != CC_OUTCOME_HIT && o != CC_OUTCOME_MISS
        && o != CC_OUTCOME_SHARED && o != CC_OUTCOME_UNCACHED) {
        memset(also, 0, sizeof(*also));
    }
    return o;
}

cc_outcome_e cc_find_digest(cc_table_t *t, int fd, cc_file_key_t *key,
                            const cc_find_t *how, cc_digest_t *out,
                            apr_status_t *err)
{
    cc_find_t one = *how;

    one.n_also = 0;
    return cc_find_digests(t, fd, key, &one, out, NULL, err);
}
