/* unit/fuzz_table.c: libFuzzer target for the shared table of
 * cc_table.c, single-threaded.
 *
 * Build: clang -fsanitize=fuzzer,address,undefined (see unit/unit.mk),
 * linked with cc_table.c and cc_digest.c (which cc_table.c hashes with;
 * nothing is hashed here: a find is made only without a descriptor).
 *
 * The input is a program: the first byte sizes the table (1..24 entries),
 * then each operation takes an opcode byte and a few argument bytes.  Keys
 * come from a small domain (so that slots, windows and versions of one
 * file collide a lot) and digests are derived from (key, algo, version).
 * The harness keeps a reference map: for each key, the set of digest
 * versions stored since the last clear.  Asserted:
 *   - every hit returns one of the digests stored for that exact key and
 *     algorithm since the last clear (never another key's, never one from
 *     before a clear);
 *   - a store always succeeds (one thread: no pending entries, no lock
 *     contention) and is visible to the next lookup;
 *   - cc_find_digest() without a descriptor (fd -1, what a request does
 *     before it opens the file) hits exactly when a lookup would, with
 *     the same digest, and counts a hit but never a miss; over the size
 *     limit it is TOO_LARGE and counts nothing;
 *   - after a clear every lookup misses;
 *   - the counters: hits and misses are exactly the harness's, in_use ==
 *     inserts - evictions since the last clear, in_use <= capacity, and at
 *     the end in_use == the number of keys stored since the last clear
 *     that still hit (one entry per key, no entry for any other key);
 *   - cc_table_reuse() finds the table again only with the same geometry;
 *   - cc_table_contains() answers as a lookup would and counts nothing;
 *   - cc_find_digests() without a descriptor, with 0 to 3 more digests
 *     (n_also out of range: ERROR, EINVAL, nothing counted): HIT, one hit
 *     counted, with every digest right and had, when the main one and all
 *     the others are in the table, else NEED_FILE, nothing counted;
 *   - cc_table_attach() of a copy of the table (as a table file is found
 *     at start) keeps every entry, drops nothing and zeroes the counters
 *     but in_use; with one byte of the copy changed (a damaged file) it
 *     refuses the copy or keeps what it keeps with the right digests,
 *     losing at most the entry of the changed slot;
 *   - the table, placed with cc_table_place() in a heap block of
 *     cc_table_segment_bytes() (aligned to less than CC_TABLE_ALIGN), fits.
 */
#include "cc_table.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_PROGRAM "fuzz_table"
#include "fuzz_assert.h"

#define MAX_ENTRIES 24
#define MAX_OPS     128

/* The key domain: 8 bits (dev 1 bit, ino 3 bits, size 1 bit, mtime 2
 * bits, ctime 1 bit) times the 5 algorithms, SHA-512 included (whose 64
 * bytes fill a slot's whole digest). */
#define NALGOS   5
#define NKEYS    (256u * NALGOS)

static const uint64_t dev_of[2]  = { 0x801, UINT64_MAX };
static const uint64_t ino_of[8]  = { 1, 2, 3, 0x100000001ull, 12345678, 0,
                                     UINT64_MAX, 0x8000000000000000ull };
static const int64_t  size_of[2] = { 0, INT64_MAX };
static const int64_t  mtime_of[4] = { 0, 1, -1, INT64_C(1700000000123456789) };
static const int64_t  ctime_of[2] = { INT64_C(1700000000123456789), INT64_MIN };
static const cc_algo_e algo_of[NALGOS] = {
    CC_ALGO_SHA1, CC_ALGO_SHA256, CC_ALGO_MD5, CC_ALGO_XXH128, CC_ALGO_SHA512
};

/* The index of algo in algo_of. */
static unsigned algo_index(cc_algo_e algo)
{
    unsigned i;
    for (i = 0; i < NALGOS && algo_of[i] != algo; i++)
        ;
    return i;
}

static void key_of(unsigned id, cc_file_key_t *k, cc_algo_e *algo)
{
    memset(k, 0, sizeof(*k));
    k->dev = dev_of[id & 1];
    k->ino = ino_of[(id >> 1) & 7];
    k->size = size_of[(id >> 4) & 1];
    k->mtime = mtime_of[(id >> 5) & 3];
    k->ctime = ctime_of[(id >> 7) & 1];
    *algo = algo_of[(id >> 8) % NALGOS];
}

static uint64_t mix(uint64_t x)
{
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

static void digest_of(unsigned id, unsigned version, cc_digest_t *d)
{
    cc_file_key_t k;
    cc_algo_e algo;
    uint64_t h = mix(((uint64_t)id << 8) | version);
    int i;

    key_of(id, &k, &algo);
    d->algo = algo;
    for (i = 0; i < CC_DIGEST_MAX / 8; i++) {     /* every byte a slot keeps */
        h = mix(h + (uint64_t)i);
        memcpy(d->bytes + 8 * i, &h, 8);
    }
}

/* Which version (0..7) a digest is for key id, or -1. */
static int version_of(unsigned id, const cc_digest_t *d)
{
    unsigned v;
    for (v = 0; v < 8; v++) {
        cc_digest_t want;
        digest_of(id, v, &want);
        if (d->algo == want.algo
            && memcmp(d->bytes, want.bytes, CC_DIGEST_MAX) == 0) {
            return (int)v;
        }
    }
    return -1;
}

/* Which key of the domain a digest belongs to, for messages. */
static int owner_of(const cc_digest_t *d)
{
    unsigned id;
    for (id = 0; id < NKEYS; id++) {
        if (version_of(id, d) >= 0) {
            return (int)id;
        }
    }
    return -1;
}

static unsigned char ref[NKEYS];   /* bit v: version v stored since the last clear */
static char *segment;              /* malloc: aligned to 16, not CC_TABLE_ALIGN */
static void *mem;                  /* where the table goes in it */
static char *segment2;             /* for a copy of the table to attach */
static void *mem2;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc; (void)argv;
    segment = malloc(cc_table_segment_bytes(MAX_ENTRIES));
    mem = segment ? cc_table_place(segment) : NULL;
    segment2 = malloc(cc_table_segment_bytes(MAX_ENTRIES));
    mem2 = segment2 ? cc_table_place(segment2) : NULL;
    return mem && mem2 ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t pos = 0;
    apr_uint32_t entries;
    apr_size_t bytes;
    cc_table_t *t;
    cc_table_stats_t st;
    uint64_t hits = 0, misses = 0, base_inserts = 0, base_evictions = 0;
    apr_time_t now = apr_time_from_sec(1000);
    int ops = 0;
    unsigned id;

#define NEXT() (pos < size ? data[pos++] : 0)

    if (size < 1) {
        return 0;
    }
    entries = 1 + NEXT() % MAX_ENTRIES;
    bytes = cc_table_bytes(entries);
    FUZZ_ASSERT((char *)mem + bytes
                <= segment + cc_table_segment_bytes(MAX_ENTRIES)
                && (uintptr_t)mem % CC_TABLE_ALIGN == 0,
                "placed table of %u entries does not fit", entries);
    memset(mem, 0, bytes);
    t = cc_table_create(mem, bytes, entries);
    FUZZ_ASSERT(t != NULL, "create %u", entries);
    memset(ref, 0, sizeof(ref));

    while (pos < size && ops++ < MAX_OPS) {
        /* 0..15 as the seeds in unit/corpus/table were written */
        unsigned op = NEXT() % 19;
        cc_digest_t d, got;
        cc_file_key_t k;
        cc_algo_e algo;
        int hit, v;

        id = NEXT();
        id = (id | (unsigned)NEXT() << 8) % NKEYS;
        key_of(id, &k, &algo);
        switch (op) {
        case 0: case 1: case 2: case 3: case 4:          /* store */
            v = NEXT() % 8;
            digest_of(id, (unsigned)v, &d);
            FUZZ_ASSERT(cc_table_store(t, &k, &d, now) == 1,
                        "store of key %u refused", id);
            ref[id] |= (unsigned char)(1u << v);
            /* visible at once */
            memset(&got, 0, sizeof(got));
            hit = cc_table_lookup(t, &k, algo, now, &got);
            FUZZ_ASSERT(hit, "key %u missing right after its store", id);
            hits++;
            v = version_of(id, &got);
            FUZZ_ASSERT(v >= 0 && (ref[id] >> v & 1),
                        "key %u: digest of key %d after store", id, owner_of(&got));
            break;
        case 5: case 6: case 7: case 8: case 9: case 10: /* lookup */
            memset(&got, 0, sizeof(got));
            /* now and then with another algorithm than the key's */
            if (op == 10) {
                algo = algo_of[NEXT() % NALGOS];
            }
            hit = cc_table_lookup(t, &k, algo, now, &got);
            if (hit) {
                hits++;
                FUZZ_ASSERT(got.algo == algo, "algo %d, want %d", got.algo, algo);
                if (op == 10 && algo != algo_of[(id >> 8) % NALGOS]) {
                    /* the key with this other algorithm is another id */
                    id = (id & 0xff) | algo_index(algo) << 8;
                }
                v = version_of(id, &got);
                FUZZ_ASSERT(v >= 0 && (ref[id] >> v & 1),
                            "key %u hit with a digest of key %d (version %d, "
                            "stored mask 0x%x)", id, owner_of(&got), v, ref[id]);
            }
            else {
                misses++;
            }
            break;
        case 11:                                          /* time passes */
            now += apr_time_from_sec(NEXT());
            break;
        case 12:                                          /* clear */
            cc_table_clear(t);
            memset(ref, 0, sizeof(ref));
            cc_table_stats(t, &st);
            FUZZ_ASSERT(st.in_use == 0, "in_use %u after clear", st.in_use);
            base_inserts = st.inserts;
            base_evictions = st.evictions;
            break;
        case 13:                                          /* reuse */
            FUZZ_ASSERT(cc_table_reuse(mem, bytes, entries) == t, "reuse");
            FUZZ_ASSERT(cc_table_reuse(mem, bytes, entries + 1) == NULL,
                        "reuse with more entries");
            if (entries > 1) {
                FUZZ_ASSERT(cc_table_reuse(mem, cc_table_bytes(entries - 1),
                                           entries - 1) == NULL,
                            "reuse with fewer entries");
            }
            break;
        case 14: {                                        /* a bad digest */
            memset(&d, 0, sizeof(d));
            d.algo = (cc_algo_e)(NEXT() % 2 ? CC_ALGO_NONE
                                 : CC_ALGO_SHA512 + 1 + NEXT() % 100);
            FUZZ_ASSERT(cc_table_store(t, &k, &d, now) == 0,
                        "store with algo %d accepted", d.algo);
            break;
        }
        case 15: {                            /* find without a descriptor */
            static const apr_int64_t limits[4] = {
                INT64_MAX, INT64_MAX, 0, -1
            };
            cc_find_t how;
            apr_status_t err = -1;
            cc_outcome_e o;

            memset(&how, 0, sizeof(how));
            how.algo = algo;
            how.max_size = limits[NEXT() & 3];
            how.now = now;
            memset(&got, 0, sizeof(got));
            o = cc_find_digest(t, -1, &k, &how, &got, &err);
            FUZZ_ASSERT(err == APR_SUCCESS, "find fd -1: err %d", err);
            if (k.size > how.max_size) {
                FUZZ_ASSERT(o == CC_OUTCOME_TOO_LARGE, "find fd -1 of key %u "
                            "over the limit: %s", id, cc_outcome_name(o));
                break;
            }
            FUZZ_ASSERT(o == CC_OUTCOME_HIT || o == CC_OUTCOME_NEED_FILE,
                        "find fd -1 of key %u: %s", id, cc_outcome_name(o));
            /* a hit counted, a need-file not (its request counts later) */
            hits += o == CC_OUTCOME_HIT;
            cc_table_stats(t, &st);
            FUZZ_ASSERT(st.hits == hits && st.misses == misses,
                        "find fd -1 (%s): hits %llu/%llu misses %llu/%llu",
                        cc_outcome_name(o), (unsigned long long)st.hits,
                        (unsigned long long)hits,
                        (unsigned long long)st.misses,
                        (unsigned long long)misses);
            hit = cc_table_lookup(t, &k, algo, now, &d);   /* the same? */
            FUZZ_ASSERT(hit == (o == CC_OUTCOME_HIT), "key %u: find fd -1 "
                        "says %s, lookup %d", id, cc_outcome_name(o), hit);
            if (hit) {
                hits++;
                v = version_of(id, &got);
                FUZZ_ASSERT(v >= 0 && (ref[id] >> v & 1) && got.algo == d.algo
                            && memcmp(got.bytes, d.bytes, CC_DIGEST_MAX) == 0,
                            "key %u: find fd -1 gave a digest of key %d",
                            id, owner_of(&got));
            }
            else {
                misses++;                        /* the lookup's, not the find's */
            }
            break;
        }
        case 16: {                            /* the worker's question */
            cc_table_stats_t before;
            int has;

            if (NEXT() & 1) {
                algo = algo_of[NEXT() % NALGOS];
                id = (id & 0xff) | algo_index(algo) << 8;
            }
            cc_table_stats(t, &before);
            has = cc_table_contains(t, &k, algo);
            cc_table_stats(t, &st);
            FUZZ_ASSERT(st.hits == before.hits && st.misses == before.misses
                        && st.in_use == before.in_use,
                        "contains counted: hits %llu -> %llu, misses %llu -> "
                        "%llu", (unsigned long long)before.hits,
                        (unsigned long long)st.hits,
                        (unsigned long long)before.misses,
                        (unsigned long long)st.misses);
            memset(&got, 0, sizeof(got));
            hit = cc_table_lookup(t, &k, algo, now, &got);
            FUZZ_ASSERT(hit == has, "key %u: contains %d, lookup %d", id, has,
                        hit);
            if (hit) {
                hits++;
                v = version_of(id, &got);
                FUZZ_ASSERT(v >= 0 && (ref[id] >> v & 1),
                            "key %u: digest of key %d", id, owner_of(&got));
            }
            else {
                misses++;
            }
            break;
        }
        case 17: {                            /* attach a copy */
            cc_table_attach_t rep;
            cc_table_t *t2;
            unsigned damage = NEXT(), present = 0, key;
            size_t at = 0;

            cc_table_stats(t, &st);
            memcpy(mem2, mem, bytes);
            if (damage & 1) {
                /* one byte changed anywhere: header, a slot, padding */
                at = NEXT();
                at = (at | (size_t)NEXT() << 8) % bytes;
                ((unsigned char *)mem2)[at] ^= (unsigned char)(1 + NEXT() % 255);
            }
            memset(&rep, 0xff, sizeof(rep));
            t2 = cc_table_attach(mem2, bytes, entries, &rep);
            if (!t2) {
                FUZZ_ASSERT(damage & 1, "an undamaged copy was refused");
                FUZZ_ASSERT(rep.kept == 0 && rep.dropped == 0,
                            "refused, yet kept %llu dropped %llu",
                            (unsigned long long)rep.kept,
                            (unsigned long long)rep.dropped);
                break;
            }
            {
                cc_table_stats_t s2;
                cc_table_stats(t2, &s2);
                FUZZ_ASSERT(s2.in_use == rep.kept && s2.hits == 0
                            && s2.misses == 0 && s2.inserts == 0
                            && s2.evictions == 0 && s2.lock_recoveries == 0,
                            "attached copy: in_use %u kept %llu hits %llu",
                            s2.in_use, (unsigned long long)rep.kept,
                            (unsigned long long)s2.hits);
            }
            if (!(damage & 1)) {
                FUZZ_ASSERT(rep.kept == st.in_use && rep.dropped == 0,
                            "undamaged copy: kept %llu dropped %llu, in_use %u",
                            (unsigned long long)rep.kept,
                            (unsigned long long)rep.dropped, st.in_use);
            }
            else {
                FUZZ_ASSERT(rep.kept <= st.in_use && rep.kept + 1 >= st.in_use
                            && rep.dropped <= 1,
                            "one byte changed at %zu: kept %llu dropped %llu, "
                            "in_use %u", at, (unsigned long long)rep.kept,
                            (unsigned long long)rep.dropped, st.in_use);
            }
            /* what the copy has is right; undamaged, it has everything */
            for (key = 0; key < NKEYS; key++) {
                cc_file_key_t kk;
                cc_algo_e aa;
                int in_orig, in_copy;

                if (!ref[key]) {
                    continue;
                }
                key_of(key, &kk, &aa);
                in_orig = cc_table_contains(t, &kk, aa);
                memset(&got, 0, sizeof(got));
                in_copy = cc_table_lookup(t2, &kk, aa, now, &got);
                if (in_copy) {
                    v = version_of(key, &got);
                    FUZZ_ASSERT(v >= 0 && (ref[key] >> v & 1),
                                "attached copy: key %u has a digest of key "
                                "%d (damage at %zu)", key, owner_of(&got),
                                (damage & 1) ? at : (size_t)-1);
                    present++;
                }
                FUZZ_ASSERT(in_copy == in_orig || ((damage & 1) && in_orig),
                            "key %u: %d in the table, %d in the attached "
                            "copy", key, in_orig, in_copy);
            }
            FUZZ_ASSERT(present == rep.kept, "%u keys found in the copy, "
                        "kept %llu", present, (unsigned long long)rep.kept);
            break;
        }
        case 18: {             /* cc_find_digests() without a descriptor */
            cc_find_t how;
            cc_also_t also;
            cc_table_stats_t before;
            cc_algo_e others[NALGOS - 1];
            apr_status_t err = -1;
            cc_outcome_e o;
            unsigned sel = NEXT(), rot = NEXT(), i, n = 0;
            int main_in, all_in = 1;

            for (i = 0; i < NALGOS; i++) {
                if (algo_of[i] != algo) {
                    others[n++] = algo_of[i];
                }
            }
            memset(&how, 0, sizeof(how));
            how.algo = algo;
            how.max_size = (sel & 0x80) ? 0 : INT64_MAX;
            how.now = now;
            how.n_also = (int)(sel & 7) - 1;    /* -1 .. 6: 0 .. 3 are valid */
            for (i = 0; i < CC_DIGEST_MULTI_MAX - 1; i++) {
                how.also[i] = others[(rot + i) % (NALGOS - 1)];   /* distinct */
            }
            memset(&also, 0x5a, sizeof(also));
            memset(&got, 0, sizeof(got));
            cc_table_stats(t, &before);
            o = cc_find_digests(t, -1, &k, &how, &got, &also, &err);
            cc_table_stats(t, &st);
            if (how.n_also < 0 || how.n_also > CC_DIGEST_MULTI_MAX - 1) {
                FUZZ_ASSERT(o == CC_OUTCOME_ERROR && err == APR_EINVAL,
                            "n_also %d: %s, err %d", how.n_also,
                            cc_outcome_name(o), err);
                FUZZ_ASSERT(st.hits == before.hits, "n_also %d counted a hit",
                            how.n_also);
                for (i = 0; i < CC_DIGEST_MULTI_MAX - 1; i++) {
                    FUZZ_ASSERT(!also.have[i], "n_also %d: have[%u]",
                                how.n_also, i);
                }
                break;
            }
            FUZZ_ASSERT(err == APR_SUCCESS, "find digests fd -1: err %d", err);
            if (k.size > how.max_size) {
                FUZZ_ASSERT(o == CC_OUTCOME_TOO_LARGE, "find digests fd -1 of "
                            "key %u over the limit: %s", id,
                            cc_outcome_name(o));
                FUZZ_ASSERT(st.hits == before.hits, "too large, yet a hit");
                break;
            }
            main_in = cc_table_contains(t, &k, algo);
            for (i = 0; i < (unsigned)how.n_also; i++) {
                all_in &= cc_table_contains(t, &k, how.also[i]);
            }
            if (!main_in || !all_in) {
                FUZZ_ASSERT(o == CC_OUTCOME_NEED_FILE, "key %u: main %d, all "
                            "also %d (n %d): %s, want need-file", id, main_in,
                            all_in, how.n_also, cc_outcome_name(o));
                FUZZ_ASSERT(st.hits == before.hits, "need-file counted a hit");
                break;
            }
            FUZZ_ASSERT(o == CC_OUTCOME_HIT, "key %u with all %d also "
                        "digests: %s, want hit", id, how.n_also,
                        cc_outcome_name(o));
            hits++;
            v = version_of(id, &got);
            FUZZ_ASSERT(v >= 0 && (ref[id] >> v & 1), "key %u: find digests "
                        "gave a digest of key %d", id, owner_of(&got));
            for (i = 0; i < (unsigned)how.n_also; i++) {
                unsigned aid = (id & 0xff) | algo_index(how.also[i]) << 8;

                FUZZ_ASSERT(also.have[i], "key %u: also %u (%s) not had", id,
                            i, cc_algo_name(how.also[i]));
                v = version_of(aid, &also.digest[i]);
                FUZZ_ASSERT(v >= 0 && (ref[aid] >> v & 1), "key %u: also %u "
                            "(%s) is a digest of key %d", id, i,
                            cc_algo_name(how.also[i]),
                            owner_of(&also.digest[i]));
            }
            break;
        }
        default:                              /* op is below 19 */
            break;
        }
        cc_table_stats(t, &st);
        FUZZ_ASSERT(st.hits == hits && st.misses == misses,
                    "hits %llu/%llu misses %llu/%llu",
                    (unsigned long long)st.hits, (unsigned long long)hits,
                    (unsigned long long)st.misses, (unsigned long long)misses);
        FUZZ_ASSERT(st.in_use <= st.capacity && st.capacity == entries,
                    "in_use %u capacity %u", st.in_use, st.capacity);
        FUZZ_ASSERT(st.in_use == (st.inserts - base_inserts)
                                 - (st.evictions - base_evictions),
                    "in_use %u, inserts %llu, evictions %llu since clear",
                    st.in_use,
                    (unsigned long long)(st.inserts - base_inserts),
                    (unsigned long long)(st.evictions - base_evictions));
    }

    /* every entry holds a distinct key stored since the last clear: the
     * keys of the reference that hit are exactly in_use (an entry for a
     * key never stored would leave one fewer) */
    {
        unsigned present = 0;
        cc_table_stats(t, &st);
        for (id = 0; id < NKEYS; id++) {
            cc_file_key_t k;
            cc_algo_e algo;
            cc_digest_t got;
            if (!ref[id]) {
                continue;
            }
            key_of(id, &k, &algo);
            if (cc_table_lookup(t, &k, algo, now, &got)) {
                int v = version_of(id, &got);
                FUZZ_ASSERT(v >= 0 && (ref[id] >> v & 1),
                            "final: key %u has a digest of key %d", id,
                            owner_of(&got));
                present++;
            }
        }
        FUZZ_ASSERT(present == st.in_use, "%u keys present, in_use %u",
                    present, st.in_use);
    }
    return 0;
#undef NEXT
}
