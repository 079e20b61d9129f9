/* unit/unit_test.h: the small test framework of the C unit tests, shared
 * by one test program per core unit (see core.mk):
 *
 *   test_validators   validators.c              (APR only)
 *   test_digest       cc_digest.c               (+ libcrypto, libxxhash)
 *   test_table        cc_table.c + cc_digest.c  (+ libcrypto, libxxhash)
 *   test_queue        cc_queue.c                (APR only)
 *   test_table_file   cc_table_file.c + cc_table.c + cc_digest.c
 *                                               (+ libcrypto, libxxhash)
 *   test_fields       cc_fields.c               (APR only)
 *
 * Self-contained: a few assertion macros of our own, no framework.  Each
 * program lists its tests in a table of T(name) entries (test_name() is
 * the function) and hands it to unit_main() from its main():
 *
 *   PROGRAM [--quick] [--xfail-bugs] [--list] [-k SUBSTRING]...
 *
 *   --quick        fewer iterations, processes and smaller files (for
 *                  valgrind); also UNIT_QUICK=1 in the environment
 *   --xfail-bugs   tests named bug_* (B(name) entries) document known bugs
 *                  of the unit under test: by default their failure fails
 *                  the run; with this flag (or UNIT_XFAIL_BUGS=1) they are
 *                  reported as XFAIL, and XPASS once the bug is fixed (then
 *                  drop the bug_ prefix)
 *   --list         print the test names and exit
 *   -k SUBSTRING   run only the tests whose name contains SUBSTRING
 *                  (repeatable)
 *
 * Exit status 0 when every selected test passed.  Child processes report
 * their own failures on stderr and through their exit status.  Every run
 * gets a fresh directory (tmpdir) under $TMPDIR or /tmp, removed at the
 * end; a program's setup function makes its fixture files there before
 * the first test.
 *
 * The functions are in unit_test.c, which is linked into every program and
 * uses no core unit.  At the end of this header, helpers for the programs
 * that link cc_digest.c (test_digest, test_table, test_table_file): they
 * are compiled only when cc_digest.h (or a header that includes it) was
 * included before this header.
 */
#ifndef CONDCACHE_UNIT_TEST_H
#define CONDCACHE_UNIT_TEST_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

/* ------------------------------------------------------------------ */
/* Checks                                                              */

extern int  t_failures;         /* failed checks in the running test */
extern int  opt_quick;          /* --quick */
extern int  opt_xfail_bugs;     /* --xfail-bugs */
extern char tmpdir[256];        /* this run's directory for files */

/* A failed check: file:line and the message on stderr, counted. */
void failf(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Something worth knowing that is no failure, on stdout. */
void notef(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Printable copy of s, for messages; four rotating buffers. */
const char *esc(const char *s);

#define CHECK(c) do { \
        if (!(c)) failf(__FILE__, __LINE__, "%s", #c); \
    } while (0)

#define CHECK_MSG(c, ...) do { \
        if (!(c)) failf(__FILE__, __LINE__, __VA_ARGS__); \
    } while (0)

#define CHECK_INT(a, b) do { \
        long long a_ = (long long)(a), b_ = (long long)(b); \
        if (a_ != b_) failf(__FILE__, __LINE__, "%s == %s: got %lld, want %lld", \
                            #a, #b, a_, b_); \
    } while (0)

#define CHECK_U64(a, b) do { \
        unsigned long long a_ = (unsigned long long)(a); \
        unsigned long long b_ = (unsigned long long)(b); \
        if (a_ != b_) failf(__FILE__, __LINE__, "%s == %s: got %llu, want %llu", \
                            #a, #b, a_, b_); \
    } while (0)

#define CHECK_STR(a, b) do { \
        const char *a_ = (a), *b_ = (b); \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) \
            failf(__FILE__, __LINE__, "%s == %s: got \"%s\", want \"%s\"", \
                  #a, #b, esc(a_), esc(b_)); \
    } while (0)

/* Stops the test (not the run) when a precondition of the test fails. */
#define REQUIRE(c) do { \
        if (!(c)) { failf(__FILE__, __LINE__, "required: %s (errno %d %s)", \
                          #c, errno, strerror(errno)); return; } \
    } while (0)

/* ------------------------------------------------------------------ */
/* Time and pseudo-random numbers                                      */

static inline double mono_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline int64_t real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void sleep_ms(double ms)
{
    struct timespec ts;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)((ms - (double)ts.tv_sec * 1000) * 1e6);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* xorshift64*: deterministic, per-process */
static inline uint64_t rnd_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * UINT64_C(0x2545F4914F6CDD1D);
}

static inline uint64_t mix(uint64_t x)
{
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

/* ------------------------------------------------------------------ */
/* Processes and shared memory                                         */

/* Child processes: run fn, exit 1 if any of its checks failed.  A child
 * dies with its parent, so an interrupted run leaves nothing behind. */
pid_t fork_child(void (*fn)(void *), void *arg);

/* Reaps `pid`; a failure unless it exited with 0. */
void wait_child_ok(const char *file, int line, pid_t pid, const char *what);
#define WAIT_CHILD_OK(pid, what) wait_child_ok(__FILE__, __LINE__, pid, what)

/* Anonymous shared memory, zero-filled (munmap it); NULL on failure. */
void *shared_alloc(size_t bytes);

/* ------------------------------------------------------------------ */
/* Files, in tmpdir                                                    */

#define MIB ((int64_t)1 << 20)

void tmp_path(char *out, size_t n, const char *name);
/* Deterministic pseudo-random bytes from seed. */
void fill_pattern(unsigned char *buf, size_t len, uint64_t seed);
int write_all(int fd, const void *data, size_t len);
/* Creates (truncates) tmpdir/name with the given bytes; returns 0 or -1. */
int make_file(const char *name, const void *data, size_t len);
/* A big file of pseudo-random bytes, written one MiB at a time. */
int make_big_file(const char *name, size_t mib, uint64_t seed);
int open_tmp(const char *name, int flags);

/* ------------------------------------------------------------------ */
/* Driver                                                              */

struct unit_test {
    const char *name;
    void (*fn)(void);
};

#define T(name) { #name, test_##name }
#define B(name) { "bug_" #name, bug_##name }

struct unit_suite {
    const char *program;            /* for messages: "test_table" */
    const char *unit;               /* what bug_* tests blame: "cc_table.c" */
    const struct unit_test *tests;
    size_t count;
    int (*setup)(void);             /* makes the fixture files, or NULL;
                                       0 on success */
};

#define UNIT_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Parses the command line, runs the selected tests; main()'s result. */
int unit_main(int argc, char **argv, const struct unit_suite *suite);

/* ------------------------------------------------------------------ */
/* For the programs that link cc_digest.c                              */

#ifdef CONDCACHE_CC_DIGEST_H

/* The algorithms that make entity-tags (cc_algo_for_etag()): what the
 * table tests store and find.  N_ALGOS == CC_DIGEST_MULTI_MAX. */
static const cc_algo_e all_algos[] __attribute__((unused)) = {
    CC_ALGO_SHA1, CC_ALGO_SHA256, CC_ALGO_MD5, CC_ALGO_XXH128
};
#define N_ALGOS 4

/* Every algorithm there is: those and SHA-512 (integrity fields only). */
static const cc_algo_e every_algo[] __attribute__((unused)) = {
    CC_ALGO_SHA1, CC_ALGO_SHA256, CC_ALGO_MD5, CC_ALGO_XXH128, CC_ALGO_SHA512
};
#define N_EVERY_ALGO 5

static inline int digest_eq(const cc_digest_t *a, const cc_digest_t *b)
{
    return a->algo == b->algo
        && memcmp(a->bytes, b->bytes, CC_DIGEST_MAX) == 0;
}

/* Fixture files of both programs, made by their setup.  The table tests
 * need them "old" (ctime settled), so they are made at start-up: waiting
 * for that overlaps the quick tests. */
#define OLD_SMALL      "old-small.txt"
#define OLD_SMALL_LEN  5000
/* Big enough that a hash of it asks its cc_cancel_t (every
 * CC_CANCEL_CHECK_BYTES) at least once. */
#define CANCEL_BIG     "cancel-big.bin"

static inline size_t cancel_big_mib(void)
{
    /* quick: one check at 16 MiB, then 1 MiB more; full: checks at 16,
     * 32 and 48 MiB */
    return opt_quick ? 17 : 64;
}

static inline int fixture_digest_files(void)
{
    unsigned char buf[OLD_SMALL_LEN];

    fill_pattern(buf, sizeof(buf), 42);
    if (make_file(OLD_SMALL, buf, sizeof(buf)) != 0
        || make_big_file(CANCEL_BIG, cancel_big_mib(), 11) != 0) {
        return -1;
    }
    return 0;
}

/* A cc_cancel_t's keep_going that counts its calls and answers 0 ("the
 * requester is gone") from call stop_at on (0: never).  on_call, when
 * set, is called first with ctx (the table tests note what the table
 * holds at that moment). */
struct keep_going_probe {
    int    calls;
    int    stop_at;
    void (*on_call)(void *ctx);
    void  *ctx;
};

static inline int probe_keep_going(void *arg)
{
    struct keep_going_probe *p = arg;

    p->calls++;
    if (p->on_call) {
        p->on_call(p->ctx);
    }
    return p->stop_at == 0 || p->calls < p->stop_at;
}

#endif /* CONDCACHE_CC_DIGEST_H */

#endif /* CONDCACHE_UNIT_TEST_H */
