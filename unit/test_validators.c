/* unit/test_validators.c: unit and concurrency tests for validators.c.
 *
 * Self-contained: a few assertion macros of our own, no framework.  Every
 * test is a function in the tests[] table at the bottom.
 *
 *   test_validators [--quick] [--xfail-bugs] [--list] [-k SUBSTRING]...
 *
 *   --quick        fewer iterations, processes and smaller files (for
 *                  valgrind); also UNIT_QUICK=1 in the environment
 *   --xfail-bugs   tests named bug_* document known bugs of validators.c:
 *                  by default their failure fails the run; with this flag
 *                  (or UNIT_XFAIL_BUGS=1) they are reported as XFAIL, and
 *                  XPASS once the bug is fixed (then drop the bug_ prefix)
 *   -k SUBSTRING   run only the tests whose name contains SUBSTRING
 *                  (repeatable)
 *
 * Exit status 0 when every selected test passed.  Child processes report
 * their own failures on stderr and through their exit status.
 */
#define _GNU_SOURCE 1

#include "validators.h"

#include <apr_date.h>
#include <apr_general.h>
#include <apr_pools.h>
#include <apr_time.h>

#include <openssl/evp.h>
#include <xxhash.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* The framework                                                       */

static int t_failures;          /* failed checks in the running test */
static int opt_quick;
static int opt_xfail_bugs;
static char tmpdir[256];

static void failf(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void failf(const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "    FAIL %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    t_failures++;
}

static void notef(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void notef(const char *fmt, ...)
{
    va_list ap;

    fputs("    note: ", stdout);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
}

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

/* Printable copy of s, for messages; four rotating buffers. */
static const char *esc(const char *s)
{
    static char bufs[4][600];
    static int next;
    char *b = bufs[next++ & 3];
    size_t j = 0;

    if (!s) {
        return "(null)";
    }
    for (; *s && j < 500; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            b[j++] = (char)c;
        }
        else {
            j += (size_t)snprintf(b + j, sizeof(bufs[0]) - j, "\\x%02x", c);
        }
    }
    if (*s) {
        memcpy(b + j, "...", 4);
    }
    else {
        b[j] = '\0';
    }
    return b;
}

static double mono_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int64_t real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ms(double ms)
{
    struct timespec ts;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)((ms - (double)ts.tv_sec * 1000) * 1e6);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* xorshift64*: deterministic, per-process */
static uint64_t rnd_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * UINT64_C(0x2545F4914F6CDD1D);
}

static uint64_t mix(uint64_t x)
{
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

/* Child processes: run fn, exit 1 if any of its checks failed.  A child
 * dies with its parent, so an interrupted run leaves nothing behind. */
static pid_t fork_child(void (*fn)(void *), void *arg)
{
    pid_t pid, parent = getpid();

    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) {
            _exit(9);
        }
        t_failures = 0;
        fn(arg);
        _exit(t_failures ? 1 : 0);
    }
    return pid;
}

static void wait_child_ok(const char *file, int line, pid_t pid,
                          const char *what)
{
    int st = 0;

    if (pid < 0) {
        failf(file, line, "fork for %s: %s", what, strerror(errno));
        return;
    }
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            failf(file, line, "waitpid %s: %s", what, strerror(errno));
            return;
        }
    }
    if (WIFSIGNALED(st)) {
        failf(file, line, "%s (pid %d) killed by signal %d", what, (int)pid,
              WTERMSIG(st));
    }
    else if (WEXITSTATUS(st) != 0) {
        failf(file, line, "%s (pid %d) exited with %d", what, (int)pid,
              WEXITSTATUS(st));
    }
}
#define WAIT_CHILD_OK(pid, what) wait_child_ok(__FILE__, __LINE__, pid, what)

static void *shared_alloc(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* ------------------------------------------------------------------ */
/* Files                                                               */

static void tmp_path(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", tmpdir, name);
}

static void fill_pattern(unsigned char *buf, size_t len, uint64_t seed)
{
    size_t i;
    uint64_t s = seed | 1;

    for (i = 0; i + 8 <= len; i += 8) {
        uint64_t v = rnd_next(&s);
        memcpy(buf + i, &v, 8);
    }
    for (; i < len; i++) {
        buf[i] = (unsigned char)rnd_next(&s);
    }
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Creates (truncates) tmpdir/name with the given bytes; returns 0 or -1. */
static int make_file(const char *name, const void *data, size_t len)
{
    char path[512];
    int fd, rc;

    tmp_path(path, sizeof(path), name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        return -1;
    }
    rc = write_all(fd, data, len);
    if (close(fd) != 0) {
        rc = -1;
    }
    return rc;
}

/* A big file of pseudo-random bytes, written one MiB at a time. */
static int make_big_file(const char *name, size_t mib, uint64_t seed)
{
    char path[512];
    unsigned char *chunk = malloc(1 << 20);
    size_t i;
    int fd, rc = 0;

    if (!chunk) {
        return -1;
    }
    fill_pattern(chunk, 1 << 20, seed);
    tmp_path(path, sizeof(path), name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        free(chunk);
        return -1;
    }
    for (i = 0; i < mib && rc == 0; i++) {
        memcpy(chunk, &i, sizeof(i));     /* every MiB differs */
        rc = write_all(fd, chunk, 1 << 20);
    }
    if (close(fd) != 0) {
        rc = -1;
    }
    free(chunk);
    return rc;
}

static int open_tmp(const char *name, int flags)
{
    char path[512];
    tmp_path(path, sizeof(path), name);
    return open(path, flags);
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(path);
}

/* Files the find tests need "old" (ctime settled), made at start-up so
 * that waiting for them overlaps the quick tests. */
#define OLD_SMALL      "old-small.txt"
#define OLD_SMALL_LEN  5000
#define SF_BIG         "single-flight.bin"
/* Big enough that a hash of it asks its cc_cancel_t (every
 * CC_CANCEL_CHECK_BYTES) at least once. */
#define CANCEL_BIG     "cancel-big.bin"

static size_t sf_big_mib(void)
{
    return opt_quick ? 8 : 64;
}

static size_t cancel_big_mib(void)
{
    /* quick: one check at 16 MiB, then 1 MiB more; full: checks at 16,
     * 32 and 48 MiB */
    return opt_quick ? 17 : 64;
}

#define MIB ((apr_int64_t)1 << 20)
#define READ_BLOCK (256 * 1024)     /* validators.c's CC_READ_BLOCK */

static int fixture_create(void)
{
    unsigned char buf[OLD_SMALL_LEN];

    fill_pattern(buf, sizeof(buf), 42);
    if (make_file(OLD_SMALL, buf, sizeof(buf)) != 0
        || make_big_file(SF_BIG, sf_big_mib(), 7) != 0
        || make_big_file(CANCEL_BIG, cancel_big_mib(), 11) != 0) {
        return -1;
    }
    return 0;
}

/* How old a ctime must be before cc_find_digest() stores a digest: 1 s,
 * or 3 s when it has no sub-second part (a coarse filesystem).  Written
 * out here rather than asking cc_key_settled(), which is under test. */
static int64_t settle_usec(int64_t ctime_usec)
{
    return ctime_usec % 1000000 == 0 ? 3000000 : 1000000;
}

/* Waits until a file's ctime is settled with 0.1 s to spare, so that
 * cc_find_digest() will store its digest (the "racy" rule). */
static void wait_until_old(int fd)
{
    struct stat st;
    int64_t ct, need;

    if (fstat(fd, &st) != 0) {
        return;
    }
    /* in microseconds, as the key has it */
    ct = (int64_t)st.st_ctim.tv_sec * 1000000 + st.st_ctim.tv_nsec / 1000;
    need = settle_usec(ct) + 100000;
    for (;;) {
        int64_t age = real_ns() / 1000 - ct;
        if (age > need) {
            return;
        }
        sleep_ms((double)(need - age) / 1e3 + 5);
    }
}

/* ------------------------------------------------------------------ */
/* Digests                                                             */

static const cc_algo_e all_algos[] = {
    CC_ALGO_SHA1, CC_ALGO_SHA256, CC_ALGO_MD5, CC_ALGO_XXH128
};
#define N_ALGOS 4

static void to_hex(const unsigned char *b, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    size_t i;
    for (i = 0; i < n; i++) {
        out[2 * i] = d[b[i] >> 4];
        out[2 * i + 1] = d[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static int digest_eq(const cc_digest_t *a, const cc_digest_t *b)
{
    return a->algo == b->algo
        && memcmp(a->bytes, b->bytes, CC_DIGEST_MAX) == 0;
}

static void test_algo_names(void)
{
    CHECK_INT(cc_algo_from_name("sha1"), CC_ALGO_SHA1);
    CHECK_INT(cc_algo_from_name("SHA256"), CC_ALGO_SHA256);
    CHECK_INT(cc_algo_from_name("Md5"), CC_ALGO_MD5);
    CHECK_INT(cc_algo_from_name("xxh128"), CC_ALGO_XXH128);
    CHECK_INT(cc_algo_from_name("sha-1"), CC_ALGO_NONE);
    CHECK_INT(cc_algo_from_name(""), CC_ALGO_NONE);
    CHECK_INT(cc_algo_from_name(NULL), CC_ALGO_NONE);
    CHECK_STR(cc_algo_name(CC_ALGO_SHA1), "sha1");
    CHECK_STR(cc_algo_name(CC_ALGO_SHA256), "sha256");
    CHECK_STR(cc_algo_name(CC_ALGO_MD5), "md5");
    CHECK_STR(cc_algo_name(CC_ALGO_XXH128), "xxh128");
    CHECK(cc_algo_name(CC_ALGO_NONE) == NULL);
    CHECK(cc_algo_name((cc_algo_e)5) == NULL);
    CHECK_INT(cc_algo_size(CC_ALGO_SHA1), 20);
    CHECK_INT(cc_algo_size(CC_ALGO_SHA256), 32);
    CHECK_INT(cc_algo_size(CC_ALGO_MD5), 16);
    CHECK_INT(cc_algo_size(CC_ALGO_XXH128), 16);
    CHECK_INT(cc_algo_size(CC_ALGO_NONE), 0);
    CHECK_INT(cc_algo_size((cc_algo_e)99), 0);
    CHECK_STR(cc_outcome_name(CC_OUTCOME_HIT), "hit");
    CHECK_STR(cc_outcome_name(CC_OUTCOME_MISS), "miss");
    CHECK_STR(cc_outcome_name(CC_OUTCOME_SHARED), "shared");
    CHECK_STR(cc_outcome_name(CC_OUTCOME_UNCACHED), "uncached");
    CHECK_STR(cc_outcome_name(CC_OUTCOME_CHANGED), "changed");
    CHECK_STR(cc_outcome_name(CC_OUTCOME_BUSY), "busy");
    CHECK_STR(cc_outcome_name(CC_OUTCOME_TOO_LARGE), "too-large");
    CHECK_STR(cc_outcome_name(CC_OUTCOME_ERROR), "error");
    CHECK_STR(cc_outcome_name(CC_OUTCOME_CANCELLED), "cancelled");
    CHECK_STR(cc_outcome_name((cc_outcome_e)(CC_OUTCOME_CANCELLED + 1)),
              "unknown");
    CHECK_STR(cc_outcome_name((cc_outcome_e)42), "unknown");
    CHECK_STR(cc_outcome_name((cc_outcome_e)-1), "unknown");
}

/* BUG: algo_valid() is `algo > CC_ALGO_NONE && (int)algo < CC_ALGO_COUNT`.
 * cc_algo_e has only non-negative constants, so the compiler makes it
 * unsigned: a value >= 2^31 passes the first test, is negative as an int,
 * passes the second, and algos[algo] is read far out of bounds (SIGSEGV).
 * Reached by cc_algo_name(), cc_algo_size(), cc_etag_format() and
 * cc_table_store() given a digest with such an algo. */
static void child_algo_out_of_range(void *arg)
{
    static const unsigned bad[] = { 0xffffffffu, 0x80000000u, 0xfffffffbu };
    size_t i;
    (void)arg;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cc_algo_e a = (cc_algo_e)bad[i];
        cc_digest_t d;
        char tag[CC_ETAG_MAX];
        void *mem;
        cc_table_t *t;
        cc_file_key_t k;

        fprintf(stderr, "    (child) algo 0x%x...\n", bad[i]);
        CHECK(cc_algo_name(a) == NULL);
        CHECK_INT(cc_algo_size(a), 0);
        memset(&d, 0, sizeof(d));
        d.algo = a;
        cc_etag_format(&d, tag);                 /* must not crash */
        mem = shared_alloc(cc_table_bytes(8));
        t = mem ? cc_table_create(mem, cc_table_bytes(8), 8) : NULL;
        if (t) {
            memset(&k, 0, sizeof(k));
            CHECK_INT(cc_table_store(t, &k, &d, 0), 0);
            munmap(mem, cc_table_bytes(8));
        }
    }
}

static void test_algo_out_of_range(void)
{
    pid_t pid = fork_child(child_algo_out_of_range, NULL);
    WAIT_CHILD_OK(pid, "algo functions given (cc_algo_e)0xffffffff");
}

/* Known answers, computed with `openssl dgst -sha1|-sha256|-md5` and
 * `xxh128sum` (xxhash 0.8.1) when this test was written. */
#define KAT_MILLION_A   1000000     /* 1,000,000 x 'a' */
#define KAT_PATTERN_LEN 300007      /* byte i = (31 i + (i >> 8)) & 0xff */

static const struct {
    const char *input;              /* "", "abc", "million-a", "pattern" */
    cc_algo_e algo;
    const char *hex;
} kats[] = {
    { "", CC_ALGO_SHA1,   "da39a3ee5e6b4b0d3255bfef95601890afd80709" },
    { "", CC_ALGO_SHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
    { "", CC_ALGO_MD5,    "d41d8cd98f00b204e9800998ecf8427e" },
    { "", CC_ALGO_XXH128, "99aa06d3014798d86001c324468d497f" },
    { "abc", CC_ALGO_SHA1,   "a9993e364706816aba3e25717850c26c9cd0d89d" },
    { "abc", CC_ALGO_SHA256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
    { "abc", CC_ALGO_MD5,    "900150983cd24fb0d6963f7d28e17f72" },
    { "abc", CC_ALGO_XXH128, "06b05ab6733a618578af5f94892f3950" },
    { "million-a", CC_ALGO_SHA1,   "34aa973cd4c4daa4f61eeb2bdbad27316534016f" },
    { "million-a", CC_ALGO_SHA256, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0" },
    { "million-a", CC_ALGO_MD5,    "7707d6ae4e027c70eea2a935c2296f21" },
    { "million-a", CC_ALGO_XXH128, "a545df8e384a9579b1fd6fae5285c4eb" },
    { "pattern", CC_ALGO_SHA1,   "d9880a9cbd8dfcf7a9750f5cb60c2cd41d017033" },
    { "pattern", CC_ALGO_SHA256, "028c50fdaae72462431ac4f4fd6b16453c956aaa5680f681516d56c9975a9270" },
    { "pattern", CC_ALGO_MD5,    "da1b8cc29fb6dc8f0bdf332042dabf57" },
    { "pattern", CC_ALGO_XXH128, "613392ff7a93b3bfefb2cb772bac9e62" },
};

static unsigned char *kat_input(const char *name, size_t *len)
{
    unsigned char *b;
    size_t i;

    if (strcmp(name, "million-a") == 0) {
        *len = KAT_MILLION_A;
        b = malloc(*len);
        if (b) memset(b, 'a', *len);
        return b;
    }
    if (strcmp(name, "pattern") == 0) {
        *len = KAT_PATTERN_LEN;
        b = malloc(*len);
        for (i = 0; b && i < *len; i++) {
            b[i] = (unsigned char)((i * 31 + (i >> 8)) & 0xff);
        }
        return b;
    }
    *len = strlen(name);
    b = malloc(*len + 1);
    if (b) memcpy(b, name, *len + 1);
    return b;
}

static void test_digest_kat(void)
{
    size_t k;

    for (k = 0; k < sizeof(kats) / sizeof(kats[0]); k++) {
        size_t len;
        unsigned char *in = kat_input(kats[k].input, &len);
        cc_digest_t d, f;
        char hex[2 * CC_DIGEST_MAX + 1], name[64];
        apr_uint64_t got = 0;
        apr_size_t i, n = cc_algo_size(kats[k].algo);
        int fd;

        REQUIRE(in);
        memset(&d, 0x5a, sizeof(d));
        cc_digest_buffer(in, len, kats[k].algo, &d);
        CHECK_INT(d.algo, kats[k].algo);
        to_hex(d.bytes, n, hex);
        CHECK_MSG(strcmp(hex, kats[k].hex) == 0, "%s(%s): got %s, want %s",
                  cc_algo_name(kats[k].algo), kats[k].input, hex, kats[k].hex);
        for (i = n; i < CC_DIGEST_MAX; i++) {
            CHECK_MSG(d.bytes[i] == 0, "digest byte %u past the size not zeroed",
                      (unsigned)i);
        }
        /* the same through a file */
        snprintf(name, sizeof(name), "kat-%s", kats[k].input);
        REQUIRE(make_file(name, in, len) == 0);
        fd = open_tmp(name, O_RDONLY);
        REQUIRE(fd >= 0);
        memset(&f, 0x33, sizeof(f));
        CHECK_INT(cc_digest_fd(fd, (apr_int64_t)len, kats[k].algo, &f, &got,
                               NULL), APR_SUCCESS);
        CHECK_U64(got, len);
        CHECK(memcmp(&f, &d, sizeof(d)) == 0);
        close(fd);
        free(in);
    }
}

/* Against libcrypto and libxxhash called directly, many lengths. */
static void test_digest_buffer_vs_direct(void)
{
    unsigned char *buf = malloc(70000);
    uint64_t s = 12345;
    int round;

    REQUIRE(buf);
    fill_pattern(buf, 70000, 99);
    for (round = 0; round < 200; round++) {
        size_t len = round < 130 ? (size_t)round : (size_t)(rnd_next(&s) % 70000);
        int a;
        for (a = 0; a < N_ALGOS; a++) {
            cc_digest_t d;
            unsigned char want[CC_DIGEST_MAX];
            cc_algo_e algo = all_algos[a];

            cc_digest_buffer(buf, len, algo, &d);
            if (algo == CC_ALGO_XXH128) {
                XXH128_canonical_t c;
                XXH128_canonicalFromHash(&c, XXH3_128bits(buf, len));
                memcpy(want, c.digest, 16);
            }
            else {
                unsigned int n = 0;
                const EVP_MD *md = algo == CC_ALGO_SHA1 ? EVP_sha1()
                                 : algo == CC_ALGO_SHA256 ? EVP_sha256()
                                 : EVP_md5();
                EVP_Digest(buf, len, want, &n, md, NULL);
            }
            CHECK_MSG(memcmp(d.bytes, want, cc_algo_size(algo)) == 0,
                      "%s of %zu bytes differs from the library's",
                      cc_algo_name(algo), len);
        }
    }
    for (round = 0; round < N_ALGOS; round++) {   /* NULL, 0 is the empty input */
        cc_digest_t a, b;
        cc_digest_buffer(NULL, 0, all_algos[round], &a);
        cc_digest_buffer("", 0, all_algos[round], &b);
        CHECK(memcmp(&a, &b, sizeof(a)) == 0);
    }
    {   /* CC_ALGO_NONE and junk: a zeroed digest */
        cc_digest_t d;
        unsigned char zero[CC_DIGEST_MAX] = { 0 };
        memset(&d, 0x77, sizeof(d));
        cc_digest_buffer(buf, 10, CC_ALGO_NONE, &d);
        CHECK_INT(d.algo, CC_ALGO_NONE);
        CHECK(memcmp(d.bytes, zero, sizeof(zero)) == 0);
        memset(&d, 0x77, sizeof(d));
        cc_digest_buffer(buf, 10, (cc_algo_e)17, &d);
        CHECK(memcmp(d.bytes, zero, sizeof(zero)) == 0);
    }
    free(buf);
}

/* cc_digest_fd() == cc_digest_buffer() around the read-block boundary. */
static void test_digest_fd_sizes(void)
{
    static const size_t sizes[] = {
        0, 1, 256 * 1024 - 1, 256 * 1024, 256 * 1024 + 1, 3 * 1024 * 1024,
        512 * 1024 + 7
    };
    unsigned char *buf = malloc(3 * 1024 * 1024);
    size_t i;

    REQUIRE(buf);
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char name[64];
        int fd, a;

        fill_pattern(buf, sizes[i], 1000 + i);
        snprintf(name, sizeof(name), "size-%zu", sizes[i]);
        REQUIRE(make_file(name, buf, sizes[i]) == 0);
        fd = open_tmp(name, O_RDONLY);
        REQUIRE(fd >= 0);
        for (a = 0; a < N_ALGOS; a++) {
            cc_digest_t want, got;
            apr_uint64_t bytes = 1000;       /* it adds, it does not set */
            off_t at = (off_t)(sizes[i] / 3);
            apr_status_t rv;

            cc_digest_buffer(buf, sizes[i], all_algos[a], &want);
            REQUIRE(lseek(fd, at, SEEK_SET) == at);
            memset(&got, 0xee, sizeof(got));
            rv = cc_digest_fd(fd, (apr_int64_t)sizes[i], all_algos[a], &got,
                              &bytes, NULL);
            CHECK_INT(rv, APR_SUCCESS);
            CHECK_MSG(memcmp(&got, &want, sizeof(want)) == 0,
                      "%s of a %zu-byte file differs from the buffer's",
                      cc_algo_name(all_algos[a]), sizes[i]);
            CHECK_U64(bytes, 1000 + sizes[i]);
            CHECK_INT(lseek(fd, 0, SEEK_CUR), at);
            /* bytes_read may be NULL */
            CHECK_INT(cc_digest_fd(fd, (apr_int64_t)sizes[i], all_algos[a],
                                   &got, NULL, NULL), APR_SUCCESS);
            CHECK(memcmp(&got, &want, sizeof(want)) == 0);
        }
        close(fd);
    }
    free(buf);
}

static void test_digest_fd_errors(void)
{
    cc_digest_t d;
    apr_uint64_t bytes = 5;
    int fd, dfd;

    CHECK_INT(cc_digest_fd(-1, 5, CC_ALGO_SHA1, &d, &bytes, NULL), EBADF);
    CHECK_U64(bytes, 5);
    REQUIRE(make_file("wronly", "hello", 5) == 0);
    fd = open_tmp("wronly", O_WRONLY);
    REQUIRE(fd >= 0);
    CHECK_INT(cc_digest_fd(fd, 5, CC_ALGO_MD5, &d, &bytes, NULL), EBADF);
    CHECK_U64(bytes, 5);
    close(fd);
    fd = open_tmp("wronly", O_RDONLY);
    REQUIRE(fd >= 0);
    CHECK_INT(cc_digest_fd(fd, 5, CC_ALGO_NONE, &d, &bytes, NULL), APR_EINVAL);
    CHECK_INT(cc_digest_fd(fd, 5, (cc_algo_e)9, &d, &bytes, NULL), APR_EINVAL);
    /* a negative size is no size at all */
    CHECK_INT(cc_digest_fd(fd, -1, CC_ALGO_SHA1, &d, &bytes, NULL), APR_EINVAL);
    CHECK_INT(cc_digest_fd(fd, INT64_MIN, CC_ALGO_SHA1, &d, &bytes, NULL),
              APR_EINVAL);
    CHECK_U64(bytes, 5);
    close(fd);
    dfd = open(tmpdir, O_RDONLY | O_DIRECTORY);
    REQUIRE(dfd >= 0);
    CHECK_INT(cc_digest_fd(dfd, 4096, CC_ALGO_SHA1, &d, &bytes, NULL), EISDIR);
    /* size 0: the read that must find the end fails just the same */
    CHECK_INT(cc_digest_fd(dfd, 0, CC_ALGO_SHA1, &d, &bytes, NULL), EISDIR);
    CHECK_U64(bytes, 5);
    close(dfd);
}

/* cc_digest_fd() hashes exactly `size` bytes, the fstat size a response
 * will announce: a file that ends earlier or goes on is APR_INCOMPLETE. */
static void test_digest_fd_exact_size(void)
{
    /* inside a read block, and where the file ends with a block */
    static const size_t lens[] = { 1000, READ_BLOCK, READ_BLOCK + 7 };
    unsigned char *buf = malloc(READ_BLOCK + 7);
    cc_digest_t want, got, empty;
    apr_uint64_t bytes;
    size_t i;
    int fd, a;

    REQUIRE(buf);
    for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        apr_int64_t len = (apr_int64_t)lens[i];
        char name[64];

        fill_pattern(buf, lens[i], 2000 + i);
        snprintf(name, sizeof(name), "exact-%zu", lens[i]);
        REQUIRE(make_file(name, buf, lens[i]) == 0);
        fd = open_tmp(name, O_RDONLY);
        REQUIRE(fd >= 0);
        for (a = 0; a < N_ALGOS; a++) {
            cc_algo_e algo = all_algos[a];

            cc_digest_buffer(buf, lens[i], algo, &want);
            bytes = 0;
            memset(&got, 0xee, sizeof(got));
            CHECK_INT(cc_digest_fd(fd, len, algo, &got, &bytes, NULL),
                      APR_SUCCESS);
            CHECK_MSG(digest_eq(&got, &want), "%s of %lld exact bytes differs "
                      "from the buffer's", cc_algo_name(algo), (long long)len);
            CHECK_U64(bytes, len);
            /* the file holds more than `size`: read size, then one byte
             * that should not be there (not counted) */
            bytes = 0;
            CHECK_INT(cc_digest_fd(fd, len - 1, algo, &got, &bytes, NULL),
                      APR_INCOMPLETE);
            CHECK_U64(bytes, len - 1);
            /* the file ends before `size` */
            bytes = 0;
            CHECK_INT(cc_digest_fd(fd, len + 1, algo, &got, &bytes, NULL),
                      APR_INCOMPLETE);
            CHECK_U64(bytes, len);
            bytes = 0;
            CHECK_INT(cc_digest_fd(fd, len + 3 * READ_BLOCK, algo, &got, &bytes,
                                   NULL), APR_INCOMPLETE);
            CHECK_U64(bytes, len);
            /* size 0 of a file that is not empty */
            bytes = 0;
            CHECK_INT(cc_digest_fd(fd, 0, algo, &got, &bytes, NULL),
                      APR_INCOMPLETE);
            CHECK_U64(bytes, 0);
        }
        close(fd);
    }
    /* an empty file of size 0: the digest of empty input */
    REQUIRE(make_file("exact-empty", "", 0) == 0);
    fd = open_tmp("exact-empty", O_RDONLY);
    REQUIRE(fd >= 0);
    for (a = 0; a < N_ALGOS; a++) {
        cc_digest_buffer(NULL, 0, all_algos[a], &empty);
        bytes = 7;
        memset(&got, 0xee, sizeof(got));
        CHECK_INT(cc_digest_fd(fd, 0, all_algos[a], &got, &bytes, NULL),
                  APR_SUCCESS);
        CHECK(digest_eq(&got, &empty));
        CHECK_U64(bytes, 7);
        CHECK_INT(cc_digest_fd(fd, 1, all_algos[a], &got, &bytes, NULL),
                  APR_INCOMPLETE);
        CHECK_U64(bytes, 7);
    }
    {   /* and the known answer, so "empty" is not just "equal to itself" */
        char hex[2 * CC_DIGEST_MAX + 1];
        CHECK_INT(cc_digest_fd(fd, 0, CC_ALGO_SHA1, &got, NULL, NULL),
                  APR_SUCCESS);
        to_hex(got.bytes, 20, hex);
        CHECK_STR(hex, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    }
    close(fd);
    free(buf);
}

/* /proc files say size 0 and hold more: no digest of them is exact. */
static void test_digest_fd_proc_status(void)
{
    char buf[4096];
    struct stat st;
    cc_digest_t d;
    apr_uint64_t bytes = 0;
    int fd = open("/proc/self/status", O_RDONLY);

    REQUIRE(fd >= 0);
    REQUIRE(fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0);
    REQUIRE(pread(fd, buf, sizeof(buf), 0) > 0);     /* yet it has content */
    CHECK_INT(cc_digest_fd(fd, (apr_int64_t)st.st_size, CC_ALGO_SHA1, &d,
                           &bytes, NULL), APR_INCOMPLETE);
    CHECK_U64(bytes, 0);
    CHECK_INT(cc_digest_fd(fd, 1, CC_ALGO_XXH128, &d, &bytes, NULL),
              APR_INCOMPLETE);
    CHECK_U64(bytes, 1);
    close(fd);
}

/* A cc_cancel_t's keep_going that counts its calls and answers 0 ("the
 * requester is gone") from call stop_at on (0: never).  With a table, it
 * also notes the entries in use when asked (a pending entry is one). */
struct keep_going_probe {
    int           calls;
    int           stop_at;
    cc_table_t   *t;
    apr_uint32_t  in_use_seen;
};

static int probe_keep_going(void *arg)
{
    struct keep_going_probe *p = arg;

    p->calls++;
    if (p->t) {
        cc_table_stats_t st;
        cc_table_stats(p->t, &st);
        p->in_use_seen = st.in_use;
    }
    return p->stop_at == 0 || p->calls < p->stop_at;
}

/* keep_going is asked every CC_CANCEL_CHECK_BYTES, never after the last
 * block; a 0 stops the hash there with ECANCELED. */
static void test_digest_fd_cancel(void)
{
    struct keep_going_probe probe;
    cc_cancel_t cancel = { probe_keep_going, &probe };
    cc_cancel_t no_fn = { NULL, NULL };
    cc_digest_t want, got;
    apr_uint64_t bytes;
    unsigned char *content;
    struct stat st;
    int checks, fd = open_tmp(CANCEL_BIG, O_RDONLY), fd16;
    apr_int64_t size;
    ssize_t n;

    REQUIRE(fd >= 0 && fstat(fd, &st) == 0);
    size = (apr_int64_t)st.st_size;
    REQUIRE(size > CC_CANCEL_CHECK_BYTES);
    /* one check at each multiple of 16 MiB short of the end */
    checks = (int)((size - 1) / CC_CANCEL_CHECK_BYTES);
    content = malloc((size_t)size);
    REQUIRE(content);
    n = pread(fd, content, (size_t)size, 0);
    REQUIRE(n == (ssize_t)size);
    cc_digest_buffer(content, (size_t)size, CC_ALGO_XXH128, &want);
    free(content);

    /* gone at the first check: stopped after 16 MiB, within a block */
    memset(&probe, 0, sizeof(probe));
    probe.stop_at = 1;
    bytes = 0;
    CHECK_INT(cc_digest_fd(fd, size, CC_ALGO_XXH128, &got, &bytes, &cancel),
              ECANCELED);
    CHECK_INT(probe.calls, 1);
    CHECK_MSG(bytes >= CC_CANCEL_CHECK_BYTES
              && bytes <= CC_CANCEL_CHECK_BYTES + READ_BLOCK,
              "cancelled after %llu bytes, want 16 MiB to 16 MiB + one block",
              (unsigned long long)bytes);
    /* there all along: the whole file, the right digest */
    memset(&probe, 0, sizeof(probe));
    bytes = 0;
    memset(&got, 0, sizeof(got));
    CHECK_INT(cc_digest_fd(fd, size, CC_ALGO_XXH128, &got, &bytes, &cancel),
              APR_SUCCESS);
    CHECK(digest_eq(&got, &want));
    CHECK_INT(probe.calls, checks);
    CHECK_U64(bytes, size);
    if (checks >= 2) {
        /* gone at the second check: stopped after 32 MiB */
        const apr_uint64_t second = 2 * (apr_uint64_t)CC_CANCEL_CHECK_BYTES;

        memset(&probe, 0, sizeof(probe));
        probe.stop_at = 2;
        bytes = 0;
        CHECK_INT(cc_digest_fd(fd, size, CC_ALGO_XXH128, &got, &bytes,
                               &cancel), ECANCELED);
        CHECK_INT(probe.calls, 2);
        CHECK_MSG(bytes >= second && bytes <= second + READ_BLOCK,
                  "cancelled after %llu bytes, want 32 MiB to 32 MiB + one "
                  "block", (unsigned long long)bytes);
    }
    /* a cc_cancel_t without a function never stops */
    memset(&got, 0, sizeof(got));
    CHECK_INT(cc_digest_fd(fd, size, CC_ALGO_XXH128, &got, NULL, &no_fn),
              APR_SUCCESS);
    CHECK(digest_eq(&got, &want));
    close(fd);

    /* exactly 16 MiB: the check would come after the last block, so
     * keep_going is never asked and "gone" changes nothing */
    REQUIRE(make_big_file("cancel-16.bin", CC_CANCEL_CHECK_BYTES / MIB, 13)
            == 0);
    fd16 = open_tmp("cancel-16.bin", O_RDONLY);
    REQUIRE(fd16 >= 0);
    CHECK_INT(cc_digest_fd(fd16, CC_CANCEL_CHECK_BYTES, CC_ALGO_XXH128, &want,
                           NULL, NULL), APR_SUCCESS);
    memset(&probe, 0, sizeof(probe));
    probe.stop_at = 1;
    bytes = 0;
    memset(&got, 0, sizeof(got));
    CHECK_INT(cc_digest_fd(fd16, CC_CANCEL_CHECK_BYTES, CC_ALGO_XXH128, &got,
                           &bytes, &cancel), APR_SUCCESS);
    CHECK_INT(probe.calls, 0);
    CHECK(digest_eq(&got, &want));
    CHECK_U64(bytes, CC_CANCEL_CHECK_BYTES);
    close(fd16);
    /* nor for a small file */
    fd = open_tmp(OLD_SMALL, O_RDONLY);
    REQUIRE(fd >= 0);
    CHECK_INT(cc_digest_fd(fd, OLD_SMALL_LEN, CC_ALGO_SHA1, &got, NULL,
                           &cancel), APR_SUCCESS);
    CHECK_INT(probe.calls, 0);
    close(fd);
}

/* ------------------------------------------------------------------ */
/* Entity-tag formatting                                               */

static void test_etag_format(void)
{
    static const struct {
        const char *input;
        cc_algo_e algo;
        const char *tag;
    } cases[] = {
        /* sha1: exactly what core's FileETag Digest sends */
        { "",    CC_ALGO_SHA1,   "\"2jmj7l5rSw0yVb/vlWAYkK/YBwk=\"" },
        { "abc", CC_ALGO_SHA1,   "\"qZk+NkcGgWq6PiVxeFDCbJzQ2J0=\"" },
        { "",    CC_ALGO_SHA256, "\"sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\"" },
        { "abc", CC_ALGO_SHA256, "\"sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=\"" },
        { "",    CC_ALGO_MD5,    "\"d41d8cd98f00b204e9800998ecf8427e\"" },
        { "abc", CC_ALGO_MD5,    "\"900150983cd24fb0d6963f7d28e17f72\"" },
        { "",    CC_ALGO_XXH128, "\"99aa06d3014798d86001c324468d497f\"" },
        { "abc", CC_ALGO_XXH128, "\"06b05ab6733a618578af5f94892f3950\"" },
    };
    size_t i;
    int a;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cc_digest_t d;
        char buf[CC_ETAG_MAX + 32];
        apr_size_t len, j;

        cc_digest_buffer(cases[i].input, strlen(cases[i].input),
                         cases[i].algo, &d);
        memset(buf, 0xA5, sizeof(buf));
        len = cc_etag_format(&d, buf);
        CHECK_STR(buf, cases[i].tag);
        CHECK_INT(len, strlen(cases[i].tag));
        CHECK(len < CC_ETAG_MAX);
        CHECK(cc_etag_is_valid(buf, len));
        for (j = len + 1; j < sizeof(buf); j++) {
            CHECK_MSG((unsigned char)buf[j] == 0xA5,
                      "cc_etag_format wrote past its NUL at %u", (unsigned)j);
        }
    }
    /* shapes, over many digests: lengths and alphabets */
    for (a = 0; a < N_ALGOS; a++) {
        int k;
        for (k = 0; k < 64; k++) {
            cc_digest_t d;
            char buf[CC_ETAG_MAX];
            apr_size_t len, j, want_len;
            const char *body;

            d.algo = all_algos[a];
            fill_pattern(d.bytes, sizeof(d.bytes), (uint64_t)(k * 7 + a));
            if (k == 0) memset(d.bytes, 0, sizeof(d.bytes));
            if (k == 1) memset(d.bytes, 0xff, sizeof(d.bytes));
            len = cc_etag_format(&d, buf);
            want_len = d.algo == CC_ALGO_SHA1 ? 30
                     : d.algo == CC_ALGO_SHA256 ? 53 : 34;
            CHECK_INT(len, want_len);
            CHECK_INT(strlen(buf), len);
            CHECK(len < CC_ETAG_MAX);
            CHECK(buf[0] == '"' && buf[len - 1] == '"');
            CHECK(cc_etag_is_valid(buf, len));
            body = buf + 1;
            if (d.algo == CC_ALGO_SHA256) {
                CHECK(strncmp(body, "sha256-", 7) == 0);
                body += 7;
            }
            for (j = 0; body + j < buf + len - 1; j++) {
                char c = body[j];
                if (d.algo == CC_ALGO_MD5 || d.algo == CC_ALGO_XXH128) {
                    CHECK_MSG((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'),
                              "non-lower-hex char '%c' in %s", c, buf);
                }
                else {
                    CHECK_MSG((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
                              || (c >= 'A' && c <= 'Z') || c == '+' || c == '/'
                              || c == '=', "non-base64 char '%c' in %s", c, buf);
                }
            }
            if (d.algo == CC_ALGO_SHA1) {
                CHECK(buf[len - 2] == '=' && buf[len - 3] != '=');  /* 20 B: one pad */
            }
            if (d.algo == CC_ALGO_SHA256) {
                CHECK(buf[len - 2] == '=' && buf[len - 3] != '=');  /* 32 B: one pad */
            }
            if (d.algo == CC_ALGO_MD5 || d.algo == CC_ALGO_XXH128) {
                char hex[33];
                to_hex(d.bytes, 16, hex);
                CHECK(strncmp(buf + 1, hex, 32) == 0);
            }
        }
    }
}

/* ------------------------------------------------------------------ */
/* Entity-tag validity and list matching                               */

static void check_valid(const char *file, int line, const char *s, size_t len,
                        int want)
{
    /* exact-size heap copy, NUL-terminated, so ASan sees over-reads */
    char *copy = malloc(len + 1);
    int got;

    memcpy(copy, s, len);
    copy[len] = '\0';
    got = cc_etag_is_valid(copy, len) != 0;
    if (got != want) {
        failf(file, line, "cc_etag_is_valid(\"%s\", %zu) = %d, want %d",
              esc(copy), len, got, want);
    }
    free(copy);
}
#define VALID(s, want) check_valid(__FILE__, __LINE__, s, sizeof(s) - 1, want)

static void test_etag_is_valid(void)
{
    VALID("\"abc\"", 1);
    VALID("W/\"abc\"", 1);
    VALID("\"\"", 1);
    VALID("W/\"\"", 1);
    VALID("\"!#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~\"", 1);
    VALID("\"\x80\xff\xc3\xa9\"", 1);            /* obs-text */
    VALID("\"qZk+NkcGgWq6PiVxeFDCbJzQ2J0=\"", 1);
    VALID("\"", 0);
    VALID("", 0);
    VALID("abc", 0);
    VALID("*", 0);
    VALID("\"*\"", 1);
    VALID("\"abc", 0);
    VALID("abc\"", 0);
    VALID("\"a b\"", 0);
    VALID("\"a\tb\"", 0);
    VALID("\"a\"b\"", 0);
    VALID("\"a\"\"", 0);
    VALID("w/\"abc\"", 0);
    VALID("W\"abc\"", 0);
    VALID("W/abc", 0);
    VALID("W/", 0);
    VALID("W", 0);
    VALID("W/W/\"abc\"", 0);
    VALID(" \"abc\"", 0);
    VALID("\"abc\" ", 0);
    VALID("\"abc\",", 0);
    VALID("\"abc\", \"def\"", 0);
    VALID("\"\x7f\"", 0);
    VALID("\"\x01\"", 0);
    VALID("\"\x20\"", 0);
    VALID("\"\r\n\"", 0);
    /* embedded NUL */
    VALID("\"a\0b\"", 0);
    VALID("\"ab\"\0", 0);
    /* len shorter than the string: only the first len bytes count */
    {
        const char *s = "\"abc\"xyz";
        CHECK(cc_etag_is_valid(s, 5));
        CHECK(!cc_etag_is_valid(s, 4));
        CHECK(!cc_etag_is_valid(s, 6));
        CHECK(!cc_etag_is_valid(s, 8));
        CHECK(!cc_etag_is_valid("\"ab\"\"", 5));
        CHECK(cc_etag_is_valid("\"ab\"\"", 4));
    }
    CHECK(!cc_etag_is_valid(NULL, 0));
    CHECK(!cc_etag_is_valid(NULL, 5));
    CHECK(!cc_etag_is_valid("\"abc\"", 0));
}

/* Places s (len bytes, no NUL) right before an inaccessible page. */
static int guarded_call_is_valid(const char *s, size_t len)
{
    long pg = sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *p;
    int r;

    if (m == MAP_FAILED) {
        return -1;
    }
    mprotect(m + pg, (size_t)pg, PROT_NONE);
    p = m + pg - len;
    memcpy(p, s, len);
    r = cc_etag_is_valid(p, len);
    munmap(m, (size_t)pg * 2);
    return r;
}

static void child_is_valid_unterminated(void *arg)
{
    static const struct { const char *s; size_t len; int want; } cases[] = {
        { "\"abc\"", 5, 1 },          /* fine: the scan stops at the quote */
        { "\"abc", 4, 0 },            /* reads s[4] */
        { "W", 1, 0 },                /* reads s[1] */
        { "W/", 2, 0 },
        { "\"", 1, 0 },
    };
    size_t i;
    (void)arg;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fprintf(stderr, "    (child) cc_etag_is_valid(\"%s\", %zu) with the "
                "next byte unmapped...\n", esc(cases[i].s), cases[i].len);
        CHECK_INT(guarded_call_is_valid(cases[i].s, cases[i].len),
                  cases[i].want);
    }
}

/* BUG: cc_etag_is_valid(s, len) scans past s[len - 1] (to the first
 * non-etagc byte) when s is not a complete tag: an out-of-bounds read for
 * a buffer that is not NUL-terminated, e.g. a header value slice. */
static void test_etag_is_valid_reads_past_len(void)
{
    pid_t pid = fork_child(child_is_valid_unterminated, NULL);
    WAIT_CHILD_OK(pid, "cc_etag_is_valid on an unterminated buffer");
}

static void check_match(const char *file, int line, const char *field,
                        const char *etag, int want_weak, int want_strong)
{
    /* exact-size copies so that ASan sees any read past the NUL */
    char *f = field ? strdup(field) : NULL;
    char *e = etag ? strdup(etag) : NULL;
    int w = cc_etag_list_match(f, e, CC_COMPARE_WEAK) != 0;
    int s = cc_etag_list_match(f, e, CC_COMPARE_STRONG) != 0;

    if (w != want_weak || s != want_strong) {
        failf(file, line, "list_match(field \"%s\", etag \"%s\"): "
              "weak %d strong %d, want weak %d strong %d",
              esc(field), esc(etag), w, s, want_weak, want_strong);
    }
    free(f);
    free(e);
}
#define MATCH(field, etag, weak, strong) \
    check_match(__FILE__, __LINE__, field, etag, weak, strong)

#define TAG   "\"qZk+NkcGgWq6PiVxeFDCbJzQ2J0=\""
#define TAGO  "qZk+NkcGgWq6PiVxeFDCbJzQ2J0="     /* opaque, unquoted */

static void test_etag_match_basic(void)
{
    MATCH(TAG, TAG, 1, 1);
    MATCH("W/" TAG, TAG, 1, 0);                  /* weak: W/ ignored */
    MATCH(TAGO, TAG, 0, 0);                      /* unquoted */
    MATCH("w/" TAG, TAG, 0, 0);                  /* lower-case w/ is no tag */
    MATCH("W/ " TAG, TAG, 0, 0);
    MATCH("W/W/" TAG, TAG, 0, 0);
    MATCH("\"qZk+NkcGgWq6 PiVxeFDCbJzQ2J0=\"", TAG, 0, 0);   /* inner space */
    MATCH("\"QZK+NKCGGWQ6PIVXEFDCBJZQ2J0=\"", TAG, 0, 0);    /* case matters */
    MATCH("\"qZk+NkcGgWq6PiVxeFDCbJzQ2J0\"", TAG, 0, 0);     /* shorter */
    MATCH("\"qZk+NkcGgWq6PiVxeFDCbJzQ2J0==\"", TAG, 0, 0);   /* longer */
    MATCH("\"" TAGO, TAG, 0, 0);                 /* no closing quote */
    MATCH(TAGO "\"", TAG, 0, 0);                 /* no opening quote */
    MATCH("", TAG, 0, 0);
    MATCH(" ", TAG, 0, 0);
    MATCH(",", TAG, 0, 0);
    MATCH(NULL, TAG, 0, 0);
    MATCH(NULL, NULL, 0, 0);
    MATCH("", NULL, 0, 0);
    MATCH(TAG, NULL, 0, 0);
    MATCH("\"\"", "\"\"", 1, 1);                 /* the empty tag is a tag */
    MATCH("\"\"", TAG, 0, 0);
    MATCH("  " TAG "  ", TAG, 1, 1);             /* OWS around */
    MATCH("\t" TAG "\t", TAG, 1, 1);
    MATCH(TAG ",", TAG, 1, 1);
    MATCH("," TAG, TAG, 1, 1);
    /* a tag directly followed by junk is not that tag */
    MATCH(TAG "x", TAG, 0, 0);
    MATCH(TAG "\"", TAG, 0, 0);
    MATCH(TAG TAG, TAG, 0, 0);
    MATCH("x" TAG, TAG, 0, 0);
    /* ours is not a tag: nothing but "*" matches it */
    MATCH(TAGO, TAGO, 0, 0);
    MATCH(" " TAG, " " TAG, 0, 0);
    MATCH(TAG " ", TAG " ", 0, 0);
    MATCH(TAG, TAG ",", 0, 0);
    MATCH("*", TAGO, 1, 1);
    /* commas are etagc: a tag may hold one */
    MATCH("\"a,b\"", "\"a,b\"", 1, 1);
    MATCH("\"x\", \"a,b\"", "\"a,b\"", 1, 1);
    MATCH("\"a,b\"", "\"a\"", 0, 0);
    MATCH("\"a\",\"b\"", "\"b\"", 1, 1);
    MATCH("\"a\",\"b\"", "\"a\"", 1, 1);
}

static void test_etag_match_lists(void)
{
    /* lighttpd's cases */
    MATCH("\"1234\",, ,,  ,  " TAG, TAG, 1, 1);
    MATCH("\"1234\", " TAG ", \"brokentrailing", TAG, 1, 1);
    MATCH("\"1234\", \"brokentrailing", TAG, 0, 0);
    MATCH("\"1234\"", TAG, 0, 0);
    MATCH("\"1234\", " TAGO, TAG, 0, 0);
    /* Go's invalid members, each before a good one: skipped, list read on */
    MATCH("W/, " TAG, TAG, 1, 1);
    MATCH("W/\"truc, " TAG, TAG, 1, 1);
    MATCH("w/\"x\", " TAG, TAG, 1, 1);
    MATCH("\"spaced etag\", " TAG, TAG, 1, 1);
    MATCH("\"spaced etag\"," TAG, TAG, 1, 1);
    MATCH("junk, " TAG, TAG, 1, 1);
    MATCH("\"a\"b\", " TAG, TAG, 1, 1);          /* quote inside */
    MATCH("\"a\"junk, " TAG, TAG, 1, 1);
    MATCH("x" TAG ", " TAG, TAG, 1, 1);
    MATCH(TAG "x, " TAG, TAG, 1, 1);
    MATCH("\"1234\" , " TAG, TAG, 1, 1);         /* OWS before the comma */
    MATCH("\"1234\"\t,\t" TAG "\t,\t\"5678\"", TAG, 1, 1);
    MATCH(" , , " TAG " , , ", TAG, 1, 1);
    MATCH("\"1\", \"2\", \"3\", W/" TAG, TAG, 1, 0);
    MATCH("W/" TAG ", " TAG, TAG, 1, 1);         /* strong one later in list */
    MATCH(TAG ", W/" TAG, TAG, 1, 1);
    MATCH("W/\"1\", W/\"2\"", TAG, 0, 0);
}

static void test_etag_match_star(void)
{
    MATCH("*", TAG, 1, 1);
    MATCH("*", NULL, 1, 1);                      /* any current representation */
    MATCH("*", "W/\"weak\"", 1, 1);
    MATCH(" * ", TAG, 1, 1);
    MATCH("\t*\t", NULL, 1, 1);
    MATCH("*, " TAG, TAG, 1, 1);                 /* "*" in a list: skipped */
    MATCH("*, \"other\"", TAG, 0, 0);
    MATCH("\"other\", *", TAG, 0, 0);
    MATCH("*,", TAG, 0, 0);
    MATCH("*, *", TAG, 0, 0);
    MATCH("**", TAG, 0, 0);
    MATCH("*x", TAG, 0, 0);
    MATCH("*, " TAG, NULL, 0, 0);
    MATCH("\"*\"", TAG, 0, 0);                   /* quoted: just a tag */
    MATCH("\"*\"", NULL, 0, 0);
    MATCH("\"*\"", "\"*\"", 1, 1);
    MATCH("W/\"*\"", "\"*\"", 1, 0);
}

static void test_codings_refused(void)
{
    const unsigned ALL = CC_CODING_GZIP | CC_CODING_BR;

    CHECK_INT(cc_codings_refused(NULL), ALL);          /* no header: none */
    CHECK_INT(cc_codings_refused(""), ALL);
    CHECK_INT(cc_codings_refused("gzip"), CC_CODING_BR);
    CHECK_INT(cc_codings_refused("br"), CC_CODING_GZIP);
    CHECK_INT(cc_codings_refused("gzip, deflate, br"), 0);
    CHECK_INT(cc_codings_refused("GZIP,BR"), 0);
    CHECK_INT(cc_codings_refused("identity"), ALL);
    CHECK_INT(cc_codings_refused("*"), 0);
    CHECK_INT(cc_codings_refused("*;q=0"), ALL);
    CHECK_INT(cc_codings_refused("br;q=0, *"), CC_CODING_BR);
    CHECK_INT(cc_codings_refused("gzip;q=0"), ALL);
    CHECK_INT(cc_codings_refused("gzip; q=0.000, br;q=0.5"), CC_CODING_GZIP);
    CHECK_INT(cc_codings_refused("gzip;q=0.001"), CC_CODING_BR);
    CHECK_INT(cc_codings_refused("gzip;Q=0"), ALL);
    CHECK_INT(cc_codings_refused("x-gzip"), ALL);      /* as mod_deflate */
    CHECK_INT(cc_codings_refused("gzipx, bra"), ALL);
    CHECK_INT(cc_codings_refused(" ,, gzip ,"), CC_CODING_BR);
    CHECK_INT(cc_codings_refused(";q=0, br"), CC_CODING_GZIP);
}

static void test_etag_match_codings(void)
{
    const char *tag = "\"abc\"";

    /* a suffixed tag matches only if that coding is acceptable now */
    CHECK_INT(cc_etag_list_match_codings("\"abc-gzip\"", tag,
              CC_COMPARE_WEAK, CC_CODING_BR), 1);
    CHECK_INT(cc_etag_list_match_codings("\"abc-gzip\"", tag,
              CC_COMPARE_WEAK, CC_CODING_GZIP), 0);
    CHECK_INT(cc_etag_list_match_codings("\"abc-br\"", tag,
              CC_COMPARE_STRONG, CC_CODING_BR), 0);
    CHECK_INT(cc_etag_list_match_codings("\"abc-br\", \"abc-gzip\"", tag,
              CC_COMPARE_WEAK, CC_CODING_BR), 1);
    /* the plain tag does not depend on codings */
    CHECK_INT(cc_etag_list_match_codings(tag, tag, CC_COMPARE_STRONG,
              CC_CODING_GZIP | CC_CODING_BR), 1);
    CHECK_INT(cc_etag_list_match_codings("*", tag, CC_COMPARE_WEAK,
              CC_CODING_GZIP | CC_CODING_BR), 1);
}

static void test_etag_match_suffixes(void)
{
#define GZ "\"" TAGO "-gzip\""
#define BR "\"" TAGO "-br\""
    MATCH(GZ, TAG, 1, 1);
    MATCH(BR, TAG, 1, 1);
    MATCH("W/" GZ, TAG, 1, 0);
    MATCH("W/" BR, TAG, 1, 0);
    MATCH("\"1234\", " GZ, TAG, 1, 1);
    MATCH("\"" TAGO "-deflate\"", TAG, 0, 0);
    MATCH("\"" TAGO "-gzip-gzip\"", TAG, 0, 0);
    MATCH("\"" TAGO "-br-gzip\"", TAG, 0, 0);
    MATCH("\"" TAGO "-gzip-br\"", TAG, 0, 0);
    MATCH("\"" TAGO "-GZIP\"", TAG, 0, 0);
    MATCH("\"" TAGO "gzip\"", TAG, 0, 0);
    MATCH("\"" TAGO "-gzi\"", TAG, 0, 0);
    MATCH("\"" TAGO "-b\"", TAG, 0, 0);
    MATCH("\"" TAGO "-\"", TAG, 0, 0);
    MATCH("\"" TAGO "-gzip", TAG, 0, 0);         /* no closing quote */
    MATCH("\"qZk+NkcGgWq6PiVxeFDCbJzQ2J0-gzip\"", TAG, 0, 0);   /* one char short */
    MATCH("\"-gzip" TAGO "\"", TAG, 0, 0);       /* prefix, not suffix */
    /* the suffix belongs on their side only */
    MATCH(TAG, GZ, 0, 0);
    MATCH(GZ, GZ, 1, 1);
    /* ours weak (a core metadata tag), theirs with a suffix */
    MATCH(GZ, "W/" TAG, 1, 0);
    MATCH("W/" GZ, "W/" TAG, 1, 0);
    /* the empty tag with a suffix */
    MATCH("\"-gzip\"", "\"\"", 1, 1);
    MATCH("\"-br\"", "\"\"", 1, 1);
    /* sha256 and hex tags */
    MATCH("\"sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=-gzip\"",
          "\"sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=\"", 1, 1);
    MATCH("W/\"900150983cd24fb0d6963f7d28e17f72-br\"",
          "\"900150983cd24fb0d6963f7d28e17f72\"", 1, 0);
#undef GZ
#undef BR
}

static void test_etag_match_long_list(void)
{
    size_t cap = 1000 * 32 + 200, len;
    char *f = malloc(cap);
    int i;

    REQUIRE(f);
    len = 0;
    for (i = 0; i < 1000; i++) {
        len += (size_t)snprintf(f + len, cap - len, "%s\"m%d\"", i ? ", " : "", i);
    }
    MATCH(f, TAG, 0, 0);
    MATCH(f, "\"m999\"", 1, 1);
    MATCH(f, "\"m0\"", 1, 1);
    MATCH(f, "\"m500\"", 1, 1);
    MATCH(f, "\"m1000\"", 0, 0);
    snprintf(f + len, cap - len, ", " TAG);
    MATCH(f, TAG, 1, 1);
    /* 1000 junk members, then ours */
    len = 0;
    for (i = 0; i < 1000; i++) {
        len += (size_t)snprintf(f + len, cap - len, "%sjunk %d \"x", i ? "," : "", i);
    }
    snprintf(f + len, cap - len, "," TAG);
    MATCH(f, TAG, 1, 1);
    /* 1000 weak members, ours last */
    len = 0;
    for (i = 0; i < 999; i++) {
        len += (size_t)snprintf(f + len, cap - len, "W/\"w%d\",", i);
    }
    snprintf(f + len, cap - len, "W/" TAG);
    MATCH(f, TAG, 1, 0);
    /* a very long single tag */
    memset(f, 'a', cap - 1);
    f[0] = '"';
    f[cap - 2] = '"';
    f[cap - 1] = '\0';
    MATCH(f, f, 1, 1);
    MATCH(f, TAG, 0, 0);
    CHECK(cc_etag_is_valid(f, cap - 1));
    free(f);

    /* linear time on hostile fields: 1 MiB of repeating patterns */
    {
        static const char *const pats[] = {
            "\"a,", "W/\"a ", "\"", "W/", ",", " ", "\"a\"x,", "*,",
            "\"a,a,a,a,a,a,a,a ", "w/\"", "\"\x01,"
        };
        size_t big = 1 << 20, k, pl;
        char *h = malloc(big + 64 + sizeof(TAG));
        double t0 = mono_sec();
        int pi;

        REQUIRE(h);
        for (pi = 0; pi < (int)(sizeof(pats) / sizeof(pats[0])); pi++) {
            pl = strlen(pats[pi]);
            for (k = 0; k + pl <= big; k += pl) {
                memcpy(h + k, pats[pi], pl);
            }
            h[k] = '\0';
            CHECK(!cc_etag_list_match(h, TAG, CC_COMPARE_WEAK));
            /* and ours after a comma at the end: found */
            memcpy(h + k, ", " TAG, sizeof(", " TAG));
            CHECK_MSG(cc_etag_list_match(h, TAG, CC_COMPARE_WEAK),
                      "pattern \"%s\" x %zu hides a trailing tag",
                      esc(pats[pi]), big / pl);
        }
        /* linear: 0.05 s natively, 2 s under valgrind; quadratic: hours.
         * Generous, so that a loaded machine does not fail it. */
        CHECK_MSG(mono_sec() - t0 < (opt_quick ? 60 : 10),
                  "hostile 1 MiB fields took %.2f s", mono_sec() - t0);
        free(h);
    }
}

static void test_etag_match_bytes(void)
{
    /* control bytes are not etagc */
    MATCH("\"\x01\"", "\"\x01\"", 0, 0);
    MATCH("\"a\x7f\"", "\"a\x7f\"", 0, 0);
    MATCH("\x01\x02, " TAG, TAG, 1, 1);          /* junk member skipped */
    MATCH("\"\x01\", " TAG, TAG, 1, 1);
    MATCH("\"\x1b[0m\", " TAG, TAG, 1, 1);
    MATCH("\r\n" TAG, TAG, 0, 0);                /* CR LF is not OWS */
    MATCH("\r\n, " TAG, TAG, 1, 1);
    MATCH(TAG "\r\n", TAG, 0, 0);
    /* obs-text is etagc */
    MATCH("\"\xc3\xa9t\xc3\xa9\"", "\"\xc3\xa9t\xc3\xa9\"", 1, 1);
    MATCH("W/\"\xff\xfe\"", "\"\xff\xfe\"", 1, 0);
    MATCH("\"\x80\", \"\xff\"", "\"\xff\"", 1, 1);
    MATCH("\"\xc3\xa9t\xc3\xa9\"", "\"\xc3\xa9t\xc3\xa8\"", 0, 0);
    MATCH("\xff\xff, " TAG, TAG, 1, 1);
    MATCH("\"\xe9-gzip\"", "\"\xe9\"", 1, 1);
}

static void test_etag_match_our_weak(void)
{
    /* core metadata tags can be weak: weak comparison only */
    MATCH("\"abc\"", "W/\"abc\"", 1, 0);
    MATCH("W/\"abc\"", "W/\"abc\"", 1, 0);
    MATCH("\"x\", W/\"abc\"", "W/\"abc\"", 1, 0);
    MATCH("\"abd\"", "W/\"abc\"", 0, 0);
    MATCH("W/\"abc-gzip\"", "W/\"abc\"", 1, 0);
    MATCH("*", "W/\"abc\"", 1, 1);
    MATCH("\"W/abc\"", "W/\"abc\"", 0, 0);
    MATCH("w/\"abc\"", "w/\"abc\"", 0, 0);       /* not a tag of ours */
}

/* ------------------------------------------------------------------ */
/* Preconditions                                                       */

#define LM_SEC   INT64_C(784111777)            /* Sun, 06 Nov 1994 08:49:37 GMT */
#define NOW_SEC  INT64_C(1700000000)           /* Tue, 14 Nov 2023 22:13:20 GMT */
#define D_LM      "Sun, 06 Nov 1994 08:49:37 GMT"
#define D_LM_850  "Sunday, 06-Nov-94 08:49:37 GMT"
#define D_LM_ASC  "Sun Nov  6 08:49:37 1994"
#define D_OLDER   "Sun, 06 Nov 1994 08:49:36 GMT"
#define D_OLDER_850 "Sunday, 06-Nov-94 08:49:36 GMT"
#define D_OLDER_ASC "Sun Nov  6 08:49:36 1994"
#define D_NEWER   "Mon, 07 Nov 1994 08:49:37 GMT"
#define D_NEWER_850 "Monday, 07-Nov-94 08:49:37 GMT"
#define D_NEWER_ASC "Mon Nov  7 08:49:37 1994"
#define D_NOW     "Tue, 14 Nov 2023 22:13:20 GMT"
#define D_NOW_P1  "Tue, 14 Nov 2023 22:13:21 GMT"
#define D_FUTURE  "Fri, 01 Jan 2100 00:00:00 GMT"

static cc_precond_t pc_base(void)
{
    cc_precond_t p;
    memset(&p, 0, sizeof(p));
    p.get_or_head = 1;
    p.etag = TAG;
    p.last_modified = apr_time_from_sec(LM_SEC);
    p.now = apr_time_from_sec(NOW_SEC);
    return p;
}

static const char *pc_name(cc_precond_e e)
{
    switch (e) {
    case CC_PRECOND_PASS: return "PASS";
    case CC_PRECOND_NOT_MODIFIED: return "304";
    case CC_PRECOND_FAILED: return "412";
    }
    return "?";
}

static void check_precond(const char *file, int line, const cc_precond_t *p,
                          cc_precond_e want)
{
    cc_precond_e got = cc_evaluate_preconditions(p);
    if (got != want) {
        failf(file, line, "%s: got %s, want %s  [If-Match %s | If-Unmodified-"
              "Since %s | If-None-Match %s | If-Modified-Since %s | etag %s | "
              "lm %lld | now %lld]", p->get_or_head ? "GET" : "PUT",
              pc_name(got), pc_name(want), esc(p->if_match),
              esc(p->if_unmodified_since), esc(p->if_none_match),
              esc(p->if_modified_since), esc(p->etag),
              (long long)apr_time_sec(p->last_modified),
              (long long)apr_time_sec(p->now));
    }
}
#define PRECOND(p, want) check_precond(__FILE__, __LINE__, &(p), want)

static void test_precond_etags(void)
{
    cc_precond_t p;

    p = pc_base();
    PRECOND(p, CC_PRECOND_PASS);
    p.get_or_head = 0;
    PRECOND(p, CC_PRECOND_PASS);

    /* If-None-Match */
    p = pc_base(); p.if_none_match = TAG;
    PRECOND(p, CC_PRECOND_NOT_MODIFIED);
    p.if_none_match = "W/" TAG;                  /* weak comparison */
    PRECOND(p, CC_PRECOND_NOT_MODIFIED);
    p.if_none_match = "\"other\"";
    PRECOND(p, CC_PRECOND_PASS);
    p.if_none_match = "*";
    PRECOND(p, CC_PRECOND_NOT_MODIFIED);
    p.if_none_match = "";
    PRECOND(p, CC_PRECOND_PASS);
    p.if_none_match = "junk";
    PRECOND(p, CC_PRECOND_PASS);
    /* non-GET: a matching If-None-Match fails */
    p = pc_base(); p.get_or_head = 0; p.if_none_match = TAG;
    PRECOND(p, CC_PRECOND_FAILED);
    p.if_none_match = "*";
    PRECOND(p, CC_PRECOND_FAILED);
    p.if_none_match = "\"other\"";
    PRECOND(p, CC_PRECOND_PASS);

    /* If-Match: strong comparison */
    p = pc_base(); p.if_match = TAG;
    PRECOND(p, CC_PRECOND_PASS);
    p.if_match = "\"other\", " TAG;
    PRECOND(p, CC_PRECOND_PASS);
    p.if_match = "*";
    PRECOND(p, CC_PRECOND_PASS);
    p.if_match = "W/" TAG;
    PRECOND(p, CC_PRECOND_FAILED);
    p.if_match = "\"other\"";
    PRECOND(p, CC_PRECOND_FAILED);
    p.if_match = "";
    PRECOND(p, CC_PRECOND_FAILED);
    p.get_or_head = 0;
    PRECOND(p, CC_PRECOND_FAILED);
    p.if_match = TAG;
    PRECOND(p, CC_PRECOND_PASS);
    /* our tag weak: If-Match never matches it, but "*" does */
    p = pc_base(); p.etag = "W/\"abc\""; p.if_match = "W/\"abc\"";
    PRECOND(p, CC_PRECOND_FAILED);
    p.if_match = "\"abc\"";
    PRECOND(p, CC_PRECOND_FAILED);
    p.if_match = "*";
    PRECOND(p, CC_PRECOND_PASS);
    p.if_match = NULL; p.if_none_match = "\"abc\"";
    PRECOND(p, CC_PRECOND_NOT_MODIFIED);

    /* the order: If-Match before If-None-Match */
    p = pc_base(); p.if_match = "\"other\""; p.if_none_match = TAG;
    PRECOND(p, CC_PRECOND_FAILED);
    p.if_match = TAG;
    PRECOND(p, CC_PRECOND_NOT_MODIFIED);
    p.get_or_head = 0;
    PRECOND(p, CC_PRECOND_FAILED);
    p.if_none_match = "\"other\"";
    PRECOND(p, CC_PRECOND_PASS);
}

static void test_precond_dates(void)
{
    static const char *const equal[] = { D_LM, D_LM_850, D_LM_ASC };
    static const char *const older[] = { D_OLDER, D_OLDER_850, D_OLDER_ASC };
    static const char *const newer[] = { D_NEWER, D_NEWER_850, D_NEWER_ASC };
    static const char *const invalid[] = {
        "", "yesterday", "0", "-1", "Sun, 06 Nov 1994 08:49:37",
        "06 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:49:37 GMT",
        "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT",
        "sun, 06 nov 1994 08:49:37 gmt", "784111777",
    };
    cc_precond_t p;
    int i;

    for (i = 0; i < 3; i++) {
        /* If-Modified-Since: 304 when Last-Modified <= date */
        p = pc_base(); p.if_modified_since = equal[i];
        PRECOND(p, CC_PRECOND_NOT_MODIFIED);
        p.if_modified_since = older[i];
        PRECOND(p, CC_PRECOND_PASS);
        p.if_modified_since = newer[i];
        PRECOND(p, CC_PRECOND_NOT_MODIFIED);
        p.get_or_head = 0;                       /* only for GET and HEAD */
        p.if_modified_since = equal[i];
        PRECOND(p, CC_PRECOND_PASS);

        /* If-Unmodified-Since: 412 when Last-Modified > date */
        p = pc_base(); p.if_unmodified_since = equal[i];
        PRECOND(p, CC_PRECOND_PASS);
        p.if_unmodified_since = older[i];
        PRECOND(p, CC_PRECOND_FAILED);
        p.if_unmodified_since = newer[i];
        PRECOND(p, CC_PRECOND_PASS);
        p.get_or_head = 0;                       /* for every method */
        p.if_unmodified_since = older[i];
        PRECOND(p, CC_PRECOND_FAILED);
    }
    /* whole seconds: a Last-Modified with microseconds equals its second */
    p = pc_base();
    p.last_modified = apr_time_from_sec(LM_SEC) + 999999;
    p.if_modified_since = D_LM;
    PRECOND(p, CC_PRECOND_NOT_MODIFIED);
    p.if_modified_since = NULL; p.if_unmodified_since = D_LM;
    PRECOND(p, CC_PRECOND_PASS);

    /* If-None-Match present: If-Modified-Since ignored, either way */
    p = pc_base(); p.if_none_match = "\"other\""; p.if_modified_since = D_LM;
    PRECOND(p, CC_PRECOND_PASS);
    p.if_none_match = TAG; p.if_modified_since = D_OLDER;
    PRECOND(p, CC_PRECOND_NOT_MODIFIED);
    p.if_none_match = "junk"; p.if_modified_since = D_NEWER;
    PRECOND(p, CC_PRECOND_PASS);
    /* If-Match present: If-Unmodified-Since ignored, either way */
    p = pc_base(); p.if_match = TAG; p.if_unmodified_since = D_OLDER;
    PRECOND(p, CC_PRECOND_PASS);
    p.if_match = "\"other\""; p.if_unmodified_since = D_NEWER;
    PRECOND(p, CC_PRECOND_FAILED);
    p.if_match = "*"; p.if_unmodified_since = D_OLDER;
    PRECOND(p, CC_PRECOND_PASS);
    /* If-Unmodified-Since before If-None-Match / If-Modified-Since */
    p = pc_base(); p.if_unmodified_since = D_OLDER; p.if_none_match = TAG;
    PRECOND(p, CC_PRECOND_FAILED);
    p.if_none_match = NULL; p.if_modified_since = D_LM;
    PRECOND(p, CC_PRECOND_FAILED);
    p.if_unmodified_since = D_LM;
    PRECOND(p, CC_PRECOND_NOT_MODIFIED);

    /* later than now: ignored */
    p = pc_base(); p.if_modified_since = D_NOW;
    PRECOND(p, CC_PRECOND_NOT_MODIFIED);
    p.if_modified_since = D_NOW_P1;
    PRECOND(p, CC_PRECOND_PASS);
    p.if_modified_since = D_FUTURE;
    PRECOND(p, CC_PRECOND_PASS);
    /* a file modified "now": IMS = now is 304, IMS = now + 1 ignored */
    p = pc_base(); p.last_modified = p.now;
    p.if_modified_since = D_NOW;
    PRECOND(p, CC_PRECOND_NOT_MODIFIED);
    p.if_modified_since = D_NOW_P1;
    PRECOND(p, CC_PRECOND_PASS);
    /* Last-Modified in the future (clock skew), IUS in the future: ignored */
    p = pc_base(); p.last_modified = apr_time_from_sec(NOW_SEC + 100);
    p.if_unmodified_since = D_NOW_P1;
    PRECOND(p, CC_PRECOND_PASS);
    p.if_unmodified_since = D_NOW;
    PRECOND(p, CC_PRECOND_FAILED);

    /* invalid dates: ignored */
    for (i = 0; i < (int)(sizeof(invalid) / sizeof(invalid[0])); i++) {
        p = pc_base(); p.if_modified_since = invalid[i];
        PRECOND(p, CC_PRECOND_PASS);
        p = pc_base(); p.if_unmodified_since = invalid[i];
        PRECOND(p, CC_PRECOND_PASS);
    }
    /* no Last-Modified: both date conditions ignored */
    p = pc_base(); p.last_modified = 0; p.if_modified_since = D_NEWER;
    PRECOND(p, CC_PRECOND_PASS);
    p.if_modified_since = NULL; p.if_unmodified_since = D_OLDER;
    PRECOND(p, CC_PRECOND_PASS);
}

static void test_precond_no_etag(void)
{
    cc_precond_t p;

    p = pc_base(); p.etag = NULL; p.if_match = "*";
    PRECOND(p, CC_PRECOND_PASS);
    p.if_match = "\"x\"";
    PRECOND(p, CC_PRECOND_FAILED);
    p.get_or_head = 0;
    PRECOND(p, CC_PRECOND_FAILED);
    p = pc_base(); p.etag = NULL; p.if_none_match = "\"x\"";
    PRECOND(p, CC_PRECOND_PASS);
    p.if_none_match = "*";                       /* the resource exists */
    PRECOND(p, CC_PRECOND_NOT_MODIFIED);
    p.get_or_head = 0;
    PRECOND(p, CC_PRECOND_FAILED);
    /* with no tag, dates still work */
    p = pc_base(); p.etag = NULL; p.if_modified_since = D_LM;
    PRECOND(p, CC_PRECOND_NOT_MODIFIED);
    p.if_none_match = "\"x\"";
    PRECOND(p, CC_PRECOND_PASS);
}

/* BUG (minor, spec): RFC 9110 13.1.3 and 13.1.4: a recipient MUST ignore
 * If-Modified-Since / If-Unmodified-Since when the value is not a valid
 * HTTP-date or has more than one member.  apr_date_parse_http() accepts
 * any trailing bytes after a date, so these are used as the first date. */
static void test_precond_date_with_trailing_junk(void)
{
    static const char *const bad[] = {
        D_NEWER ", " D_NEWER,                    /* two members */
        D_NEWER "junk",
        D_NEWER " trailing",
    };
    cc_precond_t p;
    int i;

    for (i = 0; i < (int)(sizeof(bad) / sizeof(bad[0])); i++) {
        p = pc_base(); p.if_modified_since = bad[i];
        PRECOND(p, CC_PRECOND_PASS);             /* ignored: 200, not 304 */
    }
    p = pc_base(); p.if_unmodified_since = D_OLDER ", " D_OLDER;
    PRECOND(p, CC_PRECOND_PASS);                 /* ignored: 200, not 412 */
}

/* ------------------------------------------------------------------ */
/* File keys                                                           */

/* httpd's own stat of a file (r->finfo, from apr_stat) gives the same key
 * as fstat of a descriptor of it: the module looks hits up without a
 * syscall of its own. */
static void test_file_key_from_finfo(void)
{
    apr_pool_t *pool;
    apr_finfo_t fi;
    cc_file_key_t a, b;
    char path[512];
    int fd;

    REQUIRE(apr_pool_create(&pool, NULL) == APR_SUCCESS);
    REQUIRE(make_file("finfo.txt", "abcdef", 6) == 0);
    tmp_path(path, sizeof(path), "finfo.txt");
    fd = open(path, O_RDONLY);
    REQUIRE(fd >= 0);
    REQUIRE(apr_stat(&fi, path, APR_FINFO_MIN | APR_FINFO_IDENT, pool)
            == APR_SUCCESS);
    CHECK_INT(cc_file_key_from_finfo(&fi, &a), APR_SUCCESS);
    CHECK_INT(cc_file_key_from_fd(fd, &b), APR_SUCCESS);
    CHECK(cc_file_key_equal(&a, &b));
    close(fd);

    fi.valid &= ~APR_FINFO_CTIME;                  /* a field missing */
    CHECK_INT(cc_file_key_from_finfo(&fi, &a), APR_INCOMPLETE);
    REQUIRE(apr_stat(&fi, tmpdir, APR_FINFO_MIN | APR_FINFO_IDENT, pool)
            == APR_SUCCESS);
    CHECK_INT(cc_file_key_from_finfo(&fi, &a), APR_EINVAL);
    apr_pool_destroy(pool);
}

static void test_file_key(void)
{
    cc_file_key_t k, k2, k3;
    struct stat st;
    char path[512];
    struct timespec times[2];
    int fd, dfd;

    REQUIRE(make_file("key.txt", "0123456789", 10) == 0);
    tmp_path(path, sizeof(path), "key.txt");
    fd = open(path, O_RDWR);
    REQUIRE(fd >= 0);
    REQUIRE(fstat(fd, &st) == 0);
    memset(&k, 0xcc, sizeof(k));
    CHECK_INT(cc_file_key_from_fd(fd, &k), APR_SUCCESS);
    CHECK_U64(k.dev, st.st_dev);
    CHECK_U64(k.ino, st.st_ino);
    CHECK_INT(k.size, 10);
    CHECK_INT(k.mtime, (int64_t)st.st_mtim.tv_sec * 1000000 + st.st_mtim.tv_nsec / 1000);
    CHECK_INT(k.ctime, (int64_t)st.st_ctim.tv_sec * 1000000 + st.st_ctim.tv_nsec / 1000);
    CHECK(cc_file_key_equal(&k, &k));
    CHECK_INT(cc_file_key_from_fd(fd, &k2), APR_SUCCESS);
    CHECK(cc_file_key_equal(&k, &k2));
    k3 = k; k3.dev++;      CHECK(!cc_file_key_equal(&k, &k3));
    k3 = k; k3.ino++;      CHECK(!cc_file_key_equal(&k, &k3));
    k3 = k; k3.size++;     CHECK(!cc_file_key_equal(&k, &k3));
    k3 = k; k3.mtime++; CHECK(!cc_file_key_equal(&k, &k3));
    k3 = k; k3.ctime++; CHECK(!cc_file_key_equal(&k, &k3));

    /* rewrite the same number of bytes, then put the old mtime back (as
     * cp -p, tar, rsync -t --inplace do): ctime still tells */
    sleep_ms(30);          /* past the file system's timestamp granularity */
    REQUIRE(pwrite(fd, "9876543210", 10, 0) == 10);
    times[0].tv_sec = 0; times[0].tv_nsec = UTIME_OMIT;
    times[1] = st.st_mtim;
    REQUIRE(utimensat(AT_FDCWD, path, times, 0) == 0);
    CHECK_INT(cc_file_key_from_fd(fd, &k2), APR_SUCCESS);
    CHECK_INT(k2.mtime, k.mtime);
    CHECK_INT(k2.size, k.size);
    CHECK_U64(k2.ino, k.ino);
    CHECK(k2.ctime > k.ctime);
    CHECK(!cc_file_key_equal(&k, &k2));
    close(fd);

    /* a directory: APR_EINVAL, key filled in */
    dfd = open(tmpdir, O_RDONLY | O_DIRECTORY);
    REQUIRE(dfd >= 0);
    REQUIRE(fstat(dfd, &st) == 0);
    memset(&k, 0, sizeof(k));
    CHECK_INT(cc_file_key_from_fd(dfd, &k), APR_EINVAL);
    CHECK_U64(k.dev, st.st_dev);
    CHECK_U64(k.ino, st.st_ino);
    close(dfd);
    /* a pipe: not a regular file either */
    {
        int pfd[2];
        REQUIRE(pipe(pfd) == 0);
        CHECK_INT(cc_file_key_from_fd(pfd[0], &k), APR_EINVAL);
        close(pfd[0]);
        close(pfd[1]);
    }
    CHECK_INT(cc_file_key_from_fd(-1, &k), EBADF);
}

/* Settled: ctime at least 1 s before now, or 3 s when the ctime is in
 * whole seconds (a coarse filesystem, whose stamps may also lag). */
static void test_key_settled(void)
{
    const apr_time_t whole = apr_time_from_sec(1700000000);  /* .000000 */
    const apr_time_t fine = whole + 123456;                  /* .123456 */
    static const struct {
        apr_time_t ctime_part;   /* added to `whole` */
        apr_time_t age;          /* now - ctime, microseconds */
        int settled;
    } cases[] = {
        /* whole-second ctime: 3 s */
        { 0, 0, 0 },
        { 0, 1100000, 0 },       /* the 1 s rule alone would keep it */
        { 0, 2000000, 0 },
        { 0, 2999999, 0 },
        { 0, 3000000, 1 },
        { 0, 3500000, 1 },
        { 0, 86400000000, 1 },
        /* a sub-second part: 1 s */
        { 123456, 0, 0 },
        { 123456, 500000, 0 },
        { 123456, 999999, 0 },
        { 123456, 1000000, 1 },
        { 123456, 1100000, 1 },
        { 1, 1000000, 1 },       /* one microsecond is a sub-second part */
        { 999999, 999999, 0 },
        { 999999, 1000000, 1 },
        /* ctime in the future (clock stepped back, another machine's
         * clock): not settled */
        { 0, -1, 0 },
        { 0, -3000000, 0 },
        { 123456, -1, 0 },
        { 123456, -1100000, 0 },
        { 123456, -86400000000, 0 },
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cc_file_key_t k;
        apr_time_t now;

        memset(&k, 0, sizeof(k));
        k.dev = 1;
        k.ino = 2;
        k.size = 3;
        k.ctime = whole + cases[i].ctime_part;
        k.mtime = k.ctime;
        now = k.ctime + cases[i].age;
        CHECK_MSG(cc_key_settled(&k, now) == cases[i].settled,
                  "ctime .%06lld, age %lld us: settled %d, want %d",
                  (long long)cases[i].ctime_part, (long long)cases[i].age,
                  cc_key_settled(&k, now), cases[i].settled);
    }
    {   /* only ctime counts, not mtime (which anyone can set) */
        cc_file_key_t k;
        memset(&k, 0, sizeof(k));
        k.ctime = fine;
        k.mtime = fine - apr_time_from_sec(3600);
        CHECK(!cc_key_settled(&k, fine + 500000));
        k.mtime = fine + apr_time_from_sec(3600);
        CHECK(cc_key_settled(&k, fine + 1000000));
    }
}

/* ------------------------------------------------------------------ */
/* The table                                                           */

typedef struct {
    void       *mem;
    apr_size_t  bytes;
    cc_table_t *t;
} tbl_t;

static cc_table_t *tbl_new(tbl_t *tb, apr_uint32_t entries)
{
    tb->bytes = cc_table_bytes(entries);
    tb->mem = shared_alloc(tb->bytes);
    tb->t = tb->mem ? cc_table_create(tb->mem, tb->bytes, entries) : NULL;
    return tb->t;
}

static void tbl_free(tbl_t *tb)
{
    if (tb->mem) {
        munmap(tb->mem, tb->bytes);
    }
    tb->mem = NULL;
    tb->t = NULL;
}

static cc_file_key_t mk_key(uint64_t dev, uint64_t ino, int64_t size,
                            int64_t mtime, int64_t ctime)
{
    cc_file_key_t k;
    memset(&k, 0, sizeof(k));
    k.dev = dev;
    k.ino = ino;
    k.size = size;
    k.mtime = mtime;
    k.ctime = ctime;
    return k;
}

/* The digest the tests store for a key: a function of every key field and
 * the algorithm, so that a hit pairing one key with another's digest (a
 * torn or misattributed read) is caught. */
static void derive(const cc_file_key_t *k, cc_algo_e algo, cc_digest_t *d)
{
    uint64_t h = mix(k->dev ^ UINT64_C(0x5555));
    int i;

    h = mix(h ^ k->ino);
    h = mix(h ^ (uint64_t)k->size);
    h = mix(h ^ (uint64_t)k->mtime);
    h = mix(h ^ (uint64_t)k->ctime);
    h = mix(h ^ (uint64_t)algo);
    d->algo = algo;
    for (i = 0; i < 4; i++) {
        h = mix(h + (uint64_t)i);
        memcpy(d->bytes + 8 * i, &h, 8);
    }
}

static int store_derived(cc_table_t *t, const cc_file_key_t *k,
                         cc_algo_e algo, apr_time_t now)
{
    cc_digest_t d;
    derive(k, algo, &d);
    return cc_table_store(t, k, &d, now);
}

/* 1 hit with the right digest, 0 miss, -1 hit with a wrong digest */
static int lookup_derived(cc_table_t *t, const cc_file_key_t *k,
                          cc_algo_e algo, apr_time_t now)
{
    cc_digest_t want, got;

    derive(k, algo, &want);
    memset(&got, 0, sizeof(got));
    if (!cc_table_lookup(t, k, algo, now, &got)) {
        return 0;
    }
    return digest_eq(&got, &want) ? 1 : -1;
}

#define SEC(s) apr_time_from_sec(s)

static void test_table_create_reuse(void)
{
    apr_size_t bytes = cc_table_bytes(16), slot = cc_table_slot_bytes();
    char *mem, *mem2;
    cc_table_t *t;
    cc_table_stats_t st;
    cc_file_key_t k = mk_key(1, 2, 3, 4, 5);
    uint64_t saved;
    apr_uint32_t n;

    /* sizes */
    CHECK(slot >= 64 && slot % 8 == 0);
    for (n = 1; n < 300; n += 7) {
        apr_size_t b = cc_table_bytes(n);
        CHECK(b % 64 == 0);
        CHECK(b >= (apr_size_t)n * slot + 64);
        /* one slot more, give or take the rounding to 64 bytes */
        CHECK(cc_table_bytes(n + 1) + 63 >= b + slot);
        CHECK(cc_table_bytes(n + 1) <= b + slot + 63);
    }
    CHECK(cc_table_bytes(CC_TABLE_MAX_ENTRIES) >= (apr_size_t)CC_TABLE_MAX_ENTRIES * slot);

    mem = shared_alloc(bytes + 4096);
    mem2 = shared_alloc(bytes + 4096);
    REQUIRE(mem && mem2);
    /* bad arguments */
    CHECK(cc_table_create(NULL, bytes, 16) == NULL);
    CHECK(cc_table_create(mem + 8, bytes, 16) == NULL);
    CHECK(cc_table_create(mem + 32, bytes, 16) == NULL);
    CHECK(cc_table_create(mem, bytes, 0) == NULL);
    CHECK(cc_table_create(mem, bytes - 1, 16) == NULL);
    CHECK(cc_table_create(mem, bytes - 64, 16) == NULL);
    CHECK(cc_table_create(mem, 0, 16) == NULL);
    CHECK(cc_table_create(mem, bytes, 17) == NULL);
    CHECK(cc_table_create(mem, (apr_size_t)-1, CC_TABLE_MAX_ENTRIES + 1) == NULL);
    CHECK(cc_table_reuse(mem, bytes, 16) == NULL);        /* zeroes: no table */
    CHECK(cc_table_reuse(NULL, bytes, 16) == NULL);

    t = cc_table_create(mem, bytes, 16);
    REQUIRE(t != NULL);
    CHECK((void *)t == (void *)mem);
    cc_table_stats(t, &st);
    CHECK_INT(st.capacity, 16);
    CHECK_INT(st.in_use, 0);
    CHECK_U64(st.hits + st.misses + st.inserts + st.evictions + st.files_hashed
              + st.bytes_hashed + st.waits + st.uncached + st.lock_recoveries, 0);
    CHECK_U64(st.shm_bytes, bytes);
    CHECK_U64(st.slot_bytes, slot);

    CHECK(store_derived(t, &k, CC_ALGO_SHA1, SEC(100)) == 1);
    /* reuse: same size and count */
    CHECK(cc_table_reuse(mem, bytes, 16) == t);
    CHECK_INT(lookup_derived(cc_table_reuse(mem, bytes, 16), &k, CC_ALGO_SHA1,
                             SEC(100)), 1);
    cc_table_stats(t, &st);
    CHECK_INT(st.in_use, 1);
    CHECK_U64(st.inserts, 1);
    /* reuse: mismatches */
    CHECK(cc_table_reuse(mem, bytes, 15) == NULL);
    CHECK(cc_table_reuse(mem, bytes, 17) == NULL);
    CHECK(cc_table_reuse(mem, bytes + 64, 16) == NULL);
    CHECK(cc_table_reuse(mem, bytes - 64, 16) == NULL);
    CHECK(cc_table_reuse(mem + 64, bytes, 16) == NULL);
    CHECK(cc_table_reuse(mem + 8, bytes, 16) == NULL);
    CHECK(cc_table_reuse(mem, bytes, 0) == NULL);
    memcpy(&saved, mem, 8);
    mem[0] ^= 1;                                          /* other magic */
    CHECK(cc_table_reuse(mem, bytes, 16) == NULL);
    memcpy(mem, &saved, 8);
    mem[8] ^= 1;                                          /* other version */
    CHECK(cc_table_reuse(mem, bytes, 16) == NULL);
    mem[8] ^= 1;
    CHECK(cc_table_reuse(mem, bytes, 16) == t);

    /* a segment bigger than needed: its size is part of the header */
    t = cc_table_create(mem2, bytes + 4096, 16);
    REQUIRE(t != NULL);
    CHECK(cc_table_reuse(mem2, bytes + 4096, 16) == t);
    CHECK(cc_table_reuse(mem2, bytes, 16) == NULL);
    cc_table_stats(t, &st);
    CHECK_U64(st.shm_bytes, bytes + 4096);
    CHECK_INT(lookup_derived(t, &k, CC_ALGO_SHA1, SEC(1)), 0);

    munmap(mem, bytes + 4096);
    munmap(mem2, bytes + 4096);
}

static void test_table_store_lookup(void)
{
    tbl_t tb;
    cc_table_t *t = tbl_new(&tb, 64);
    cc_file_key_t k = mk_key(0x801, 123456, 4096, INT64_C(1600000000000000000),
                             INT64_C(1600000000123456789));
    cc_file_key_t v;
    cc_digest_t d, got;
    cc_table_stats_t st;

    REQUIRE(t);
    CHECK_INT(lookup_derived(t, &k, CC_ALGO_SHA1, SEC(10)), 0);
    CHECK(store_derived(t, &k, CC_ALGO_SHA1, SEC(10)) == 1);
    CHECK_INT(lookup_derived(t, &k, CC_ALGO_SHA1, SEC(10)), 1);
    memset(&got, 0xee, sizeof(got));
    CHECK(cc_table_lookup(t, &k, CC_ALGO_SHA1, SEC(11), &got));
    derive(&k, CC_ALGO_SHA1, &d);
    CHECK(digest_eq(&got, &d));
    /* every field of the key matters, and the algorithm */
    v = k; v.dev ^= 1;      CHECK_INT(lookup_derived(t, &v, CC_ALGO_SHA1, SEC(11)), 0);
    v = k; v.ino ^= 1;      CHECK_INT(lookup_derived(t, &v, CC_ALGO_SHA1, SEC(11)), 0);
    v = k; v.size += 1;     CHECK_INT(lookup_derived(t, &v, CC_ALGO_SHA1, SEC(11)), 0);
    v = k; v.mtime += 1; CHECK_INT(lookup_derived(t, &v, CC_ALGO_SHA1, SEC(11)), 0);
    v = k; v.ctime += 1; CHECK_INT(lookup_derived(t, &v, CC_ALGO_SHA1, SEC(11)), 0);
    v = k; v.ctime -= 1000000; CHECK_INT(lookup_derived(t, &v, CC_ALGO_SHA1, SEC(11)), 0);
    CHECK_INT(lookup_derived(t, &k, CC_ALGO_SHA256, SEC(11)), 0);
    CHECK_INT(lookup_derived(t, &k, CC_ALGO_MD5, SEC(11)), 0);
    CHECK_INT(lookup_derived(t, &k, CC_ALGO_XXH128, SEC(11)), 0);
    CHECK_INT(lookup_derived(t, &k, CC_ALGO_NONE, SEC(11)), 0);
    /* the same file under every algorithm: four entries */
    CHECK(store_derived(t, &k, CC_ALGO_SHA256, SEC(12)) == 1);
    CHECK(store_derived(t, &k, CC_ALGO_MD5, SEC(12)) == 1);
    CHECK(store_derived(t, &k, CC_ALGO_XXH128, SEC(12)) == 1);
    CHECK_INT(lookup_derived(t, &k, CC_ALGO_SHA1, SEC(13)), 1);
    CHECK_INT(lookup_derived(t, &k, CC_ALGO_SHA256, SEC(13)), 1);
    CHECK_INT(lookup_derived(t, &k, CC_ALGO_MD5, SEC(13)), 1);
    CHECK_INT(lookup_derived(t, &k, CC_ALGO_XXH128, SEC(13)), 1);
    /* no digest without an algorithm */
    d.algo = CC_ALGO_NONE;
    CHECK(cc_table_store(t, &k, &d, SEC(14)) == 0);
    d.algo = (cc_algo_e)7;
    CHECK(cc_table_store(t, &k, &d, SEC(14)) == 0);
    cc_table_stats(t, &st);
    CHECK_INT(st.in_use, 4);
    CHECK_U64(st.inserts, 4);
    /* storing a key again is no new entry */
    CHECK(store_derived(t, &k, CC_ALGO_SHA1, SEC(15)) == 1);
    cc_table_stats(t, &st);
    CHECK_INT(st.in_use, 4);
    CHECK_U64(st.inserts, 4);
    CHECK_U64(st.evictions, 0);
    /* extreme key values */
    v = mk_key(UINT64_MAX, UINT64_MAX, INT64_MAX, INT64_MIN, -1);
    CHECK(store_derived(t, &v, CC_ALGO_MD5, SEC(16)) == 1);
    CHECK_INT(lookup_derived(t, &v, CC_ALGO_MD5, SEC(16)), 1);
    v = mk_key(0, 0, 0, 0, 0);
    CHECK(store_derived(t, &v, CC_ALGO_MD5, SEC(16)) == 1);
    CHECK_INT(lookup_derived(t, &v, CC_ALGO_MD5, SEC(16)), 1);
    CHECK_INT(lookup_derived(t, &k, CC_ALGO_SHA1, SEC(13)), 1);
    tbl_free(&tb);
}

static void test_table_counters(void)
{
    tbl_t tb;
    cc_table_t *t = tbl_new(&tb, 32);
    cc_table_stats_t st;
    cc_file_key_t a = mk_key(1, 10, 1, 1, 1), b = mk_key(1, 11, 1, 1, 1),
                  c = mk_key(1, 12, 1, 1, 1), x = mk_key(1, 13, 1, 1, 1);

    REQUIRE(t);
    CHECK(store_derived(t, &a, CC_ALGO_SHA1, SEC(1)) == 1);
    CHECK(store_derived(t, &b, CC_ALGO_SHA1, SEC(1)) == 1);
    CHECK(store_derived(t, &c, CC_ALGO_MD5, SEC(1)) == 1);
    CHECK_INT(lookup_derived(t, &a, CC_ALGO_SHA1, SEC(2)), 1);
    CHECK_INT(lookup_derived(t, &c, CC_ALGO_MD5, SEC(2)), 1);
    CHECK_INT(lookup_derived(t, &c, CC_ALGO_SHA1, SEC(2)), 0);
    CHECK_INT(lookup_derived(t, &x, CC_ALGO_SHA1, SEC(2)), 0);
    CHECK_INT(lookup_derived(t, &x, CC_ALGO_SHA1, SEC(2)), 0);
    cc_table_stats(t, &st);
    CHECK_INT(st.capacity, 32);
    CHECK_INT(st.in_use, 3);
    CHECK_U64(st.inserts, 3);
    CHECK_U64(st.hits, 2);
    CHECK_U64(st.misses, 3);
    CHECK_U64(st.evictions, 0);
    CHECK_U64(st.files_hashed, 0);
    CHECK_U64(st.waits, 0);
    CHECK_U64(st.uncached, 0);
    CHECK_U64(st.lock_recoveries, 0);
    cc_table_clear(t);
    cc_table_stats(t, &st);
    CHECK_INT(st.in_use, 0);
    CHECK_U64(st.inserts, 3);     /* counters are not reset by a clear */
    CHECK_U64(st.hits, 2);
    CHECK_U64(st.evictions, 0);
    CHECK_INT(lookup_derived(t, &a, CC_ALGO_SHA1, SEC(3)), 0);
    CHECK(store_derived(t, &a, CC_ALGO_SHA1, SEC(3)) == 1);
    cc_table_stats(t, &st);
    CHECK_INT(st.in_use, 1);
    CHECK_U64(st.inserts, 4);
    CHECK_U64(st.misses, 4);
    tbl_free(&tb);
}

/* Far more keys than entries: whatever hits is right. */
static void test_table_many_keys(void)
{
    tbl_t tb;
    cc_table_t *t = tbl_new(&tb, 64);
    cc_table_stats_t st;
    const int n = 5000;
    int i, hits = 0, wrong = 0;

    REQUIRE(t);
    for (i = 0; i < n; i++) {
        cc_file_key_t k = mk_key((uint64_t)(i % 3), (uint64_t)(i / 2),
                                 i, (int64_t)i * 1000, (int64_t)i * 1000 + 7);
        CHECK(store_derived(t, &k, all_algos[i % N_ALGOS], SEC(1000 + i)) == 1);
    }
    for (i = 0; i < n; i++) {
        cc_file_key_t k = mk_key((uint64_t)(i % 3), (uint64_t)(i / 2),
                                 i, (int64_t)i * 1000, (int64_t)i * 1000 + 7);
        int r = lookup_derived(t, &k, all_algos[i % N_ALGOS], SEC(9000));
        hits += r == 1;
        wrong += r < 0;
        /* a near-miss key must never hit */
        k.ctime++;
        wrong += lookup_derived(t, &k, all_algos[i % N_ALGOS], SEC(9000)) != 0;
    }
    cc_table_stats(t, &st);
    CHECK_INT(wrong, 0);
    CHECK_INT(st.in_use, 64);                    /* full */
    CHECK_INT(hits, st.in_use);                  /* one key per entry */
    CHECK_U64(st.inserts, n);
    CHECK_U64(st.evictions, (unsigned)n - st.in_use);
    CHECK_U64(st.hits, hits);
    CHECK_U64(st.misses, 2 * n - hits);
    /* the last stored keys are there (nothing evicts them afterwards) */
    {
        cc_file_key_t k = mk_key((uint64_t)((n - 1) % 3), (uint64_t)((n - 1) / 2),
                                 n - 1, (int64_t)(n - 1) * 1000,
                                 (int64_t)(n - 1) * 1000 + 7);
        CHECK_INT(lookup_derived(t, &k, all_algos[(n - 1) % N_ALGOS], SEC(9001)), 1);
    }
    tbl_free(&tb);
}

/* Replacement: an older version of the same file first, then the least
 * recently used entry. */
static void test_table_eviction(void)
{
    tbl_t tb;
    cc_table_t *t = tbl_new(&tb, 8);    /* one window covers the table */
    cc_table_stats_t st;
    cc_file_key_t others[7], x1, x2, y;
    int i;

    REQUIRE(t);
    for (i = 0; i < 7; i++) {
        others[i] = mk_key(5, (uint64_t)(100 + i), 10, 20, 30);
        CHECK(store_derived(t, &others[i], CC_ALGO_SHA1, SEC(1000)) == 1);
    }
    x1 = mk_key(5, 777, 10, 20, 30);
    CHECK(store_derived(t, &x1, CC_ALGO_SHA1, SEC(1010)) == 1);   /* newest */
    cc_table_stats(t, &st);
    CHECK_INT(st.in_use, 8);
    CHECK_U64(st.evictions, 0);
    /* a new version of x (same dev/ino): it replaces x1, the most
     * recently used entry, not one of the older others */
    x2 = mk_key(5, 777, 11, 21, 31);
    CHECK(store_derived(t, &x2, CC_ALGO_SHA1, SEC(1020)) == 1);
    CHECK_INT(lookup_derived(t, &x1, CC_ALGO_SHA1, SEC(1020)), 0);
    CHECK_INT(lookup_derived(t, &x2, CC_ALGO_SHA1, SEC(1020)), 1);
    for (i = 0; i < 7; i++) {
        CHECK_MSG(lookup_derived(t, &others[i], CC_ALGO_SHA1, SEC(2000 + i)) == 1,
                  "other entry %d was evicted instead of x's old version", i);
    }
    cc_table_stats(t, &st);
    CHECK_INT(st.in_use, 8);
    CHECK_U64(st.evictions, 1);
    /* LRU: others[i] last used at 2000 + i, x2 at 1020: x2 goes */
    y = mk_key(5, 888, 1, 2, 3);
    CHECK(store_derived(t, &y, CC_ALGO_SHA1, SEC(3000)) == 1);
    CHECK_INT(lookup_derived(t, &x2, CC_ALGO_SHA1, SEC(3001)), 0);
    CHECK_INT(lookup_derived(t, &y, CC_ALGO_SHA1, SEC(3001)), 1);
    /* now others[0] (2000) is the least recently used */
    x1 = mk_key(5, 999, 1, 2, 3);
    CHECK(store_derived(t, &x1, CC_ALGO_SHA1, SEC(3002)) == 1);
    CHECK_INT(lookup_derived(t, &others[0], CC_ALGO_SHA1, SEC(3003)), 0);
    for (i = 1; i < 7; i++) {
        CHECK_INT(lookup_derived(t, &others[i], CC_ALGO_SHA1, SEC(3003)), 1);
    }
    CHECK_INT(lookup_derived(t, &x1, CC_ALGO_SHA1, SEC(3003)), 1);
    CHECK_INT(lookup_derived(t, &y, CC_ALGO_SHA1, SEC(3003)), 1);
    cc_table_stats(t, &st);
    CHECK_INT(st.in_use, 8);
    CHECK_U64(st.evictions, 3);
    CHECK_U64(st.inserts, 11);
    /* another algorithm for y: stored (what it replaces is not asserted:
     * today the sha1 entry of the same dev/ino, see rank 2 in scan_window) */
    CHECK(store_derived(t, &y, CC_ALGO_MD5, SEC(3004)) == 1);
    CHECK_INT(lookup_derived(t, &y, CC_ALGO_MD5, SEC(3005)), 1);
    tbl_free(&tb);
}

/* Tables smaller than the window. */
static void test_table_small(void)
{
    apr_uint32_t entries;

    for (entries = 1; entries <= 9; entries++) {
        tbl_t tb;
        cc_table_t *t = tbl_new(&tb, entries);
        cc_table_stats_t st;
        int i, hits = 0, wrong = 0;

        REQUIRE(t);
        for (i = 0; i < 50; i++) {
            cc_file_key_t k = mk_key(1, (uint64_t)i, i, i, i);
            CHECK(store_derived(t, &k, CC_ALGO_XXH128, SEC(i)) == 1);
            /* just stored: there */
            CHECK_INT(lookup_derived(t, &k, CC_ALGO_XXH128, SEC(i)), 1);
        }
        for (i = 0; i < 50; i++) {
            cc_file_key_t k = mk_key(1, (uint64_t)i, i, i, i);
            int r = lookup_derived(t, &k, CC_ALGO_XXH128, SEC(100));
            hits += r == 1;
            wrong += r < 0;
        }
        cc_table_stats(t, &st);
        CHECK_INT(wrong, 0);
        CHECK_INT(st.in_use, entries);
        CHECK_INT(hits, entries);
        CHECK_U64(st.evictions, 50 - entries);
        tbl_free(&tb);
    }
}

static void test_table_clear(void)
{
    tbl_t tb;
    cc_table_t *t = tbl_new(&tb, 128);
    cc_table_stats_t st;
    int i, round;

    REQUIRE(t);
    for (round = 0; round < 3; round++) {
        for (i = 0; i < 300; i++) {
            cc_file_key_t k = mk_key(2, (uint64_t)i * 7919, i, round, i);
            CHECK(store_derived(t, &k, CC_ALGO_SHA256, SEC(50)) == 1);
        }
        cc_table_stats(t, &st);
        CHECK(st.in_use > 0 && st.in_use <= 128);
        cc_table_clear(t);
        cc_table_stats(t, &st);
        CHECK_INT(st.in_use, 0);
        for (i = 0; i < 300; i++) {
            cc_file_key_t k = mk_key(2, (uint64_t)i * 7919, i, round, i);
            CHECK_INT(lookup_derived(t, &k, CC_ALGO_SHA256, SEC(50)), 0);
        }
    }
    cc_table_clear(t);                          /* clearing empty is fine */
    cc_table_stats(t, &st);
    CHECK_INT(st.in_use, 0);
    tbl_free(&tb);
}

/* The writer lock word of a table: in struct cc_table_t of validators.c,
 * the 64-byte aligned `writer` right after the 64-byte header line, with
 * pid << 32 | the CLOCK_MONOTONIC second the lock was taken. */
static _Atomic uint64_t *table_lock_word(tbl_t *tb)
{
    return (_Atomic uint64_t *)((char *)tb->mem + 64);
}

/* CLOCK_MONOTONIC in whole seconds, as validators.c stamps the lock. */
static uint32_t mono_whole_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)ts.tv_sec;
}

static void child_sleep_forever(void *arg)
{
    (void)arg;
    for (;;) {
        pause();                                 /* until SIGKILL */
    }
}

static void child_exit_at_once(void *arg)
{
    (void)arg;
}

/* A lock word left behind is taken over when its pid is dead, when it is
 * older than CC_LOCK_STALE_SEC (10 s) on CLOCK_MONOTONIC, or when its
 * stamp is from the future (another boot, or a wall-clock stamp of the
 * code before the monotonic clock), whatever its pid says.  A live
 * writer's recent stamp is respected: the store gives up (best effort),
 * which also shows that the test found the right word. */
static void test_table_lock_monotonic(void)
{
    enum { FRESH, OLD_BUT_LIVE, STALE, FUTURE, WALL_CLOCK };
    static const struct {
        const char *what;
        int stamp;
        int dead_pid;
        int taken_over;
    } cases[] = {
        { "a live writer's lock of now",            FRESH,        0, 0 },
        { "a live writer's lock of 5 s ago",        OLD_BUT_LIVE, 0, 0 },
        { "a live writer's lock of 11 s ago",       STALE,        0, 1 },
        { "a live writer's lock 1000 s ahead",      FUTURE,       0, 1 },
        { "a live writer's wall-clock stamp",       WALL_CLOCK,   0, 1 },
        { "a dead writer's lock of now",            FRESH,        1, 1 },
    };
    pid_t live, dead;
    size_t i;

    REQUIRE(mono_whole_sec() > 20);              /* room for "11 s ago" */
    live = fork_child(child_sleep_forever, NULL);
    REQUIRE(live > 0);
    dead = fork_child(child_exit_at_once, NULL);
    WAIT_CHILD_OK(dead, "child that exits at once");   /* reaped: gone */
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tbl_t tb;
        cc_table_t *t = tbl_new(&tb, 16);
        cc_table_stats_t st;
        cc_file_key_t k = mk_key(9, 100 + i, 10, 20, 30);
        uint64_t planted, after;
        uint32_t stamp = 0;
        int stored;

        if (!t) {
            CHECK_MSG(0, "tbl_new: %s", strerror(errno));
            break;
        }
        switch (cases[i].stamp) {
        case FRESH:        stamp = mono_whole_sec(); break;
        case OLD_BUT_LIVE: stamp = mono_whole_sec() - 5; break;
        case STALE:        stamp = mono_whole_sec() - 11; break;
        case FUTURE:       stamp = mono_whole_sec() + 1000; break;
        case WALL_CLOCK:   stamp = (uint32_t)time(NULL); break;
        }
        planted = ((uint64_t)(uint32_t)(cases[i].dead_pid ? dead : live) << 32)
                | stamp;
        atomic_store(table_lock_word(&tb), planted);
        stored = store_derived(t, &k, CC_ALGO_SHA1, SEC(100));
        after = atomic_load(table_lock_word(&tb));
        cc_table_stats(t, &st);
        if (cases[i].taken_over) {
            CHECK_MSG(stored == 1, "%s: the store was refused", cases[i].what);
            CHECK_MSG(st.lock_recoveries == 1, "%s: %llu lock recoveries, "
                      "want 1", cases[i].what,
                      (unsigned long long)st.lock_recoveries);
            CHECK_MSG(after == 0, "%s: lock word 0x%llx after the store, want "
                      "0 (released)", cases[i].what, (unsigned long long)after);
            CHECK_INT(lookup_derived(t, &k, CC_ALGO_SHA1, SEC(101)), 1);
        }
        else {
            CHECK_MSG(stored == 0, "%s: the store took the lock",
                      cases[i].what);
            CHECK_MSG(st.lock_recoveries == 0, "%s: %llu lock recoveries, "
                      "want 0", cases[i].what,
                      (unsigned long long)st.lock_recoveries);
            CHECK_MSG(after == planted, "%s: lock word 0x%llx, want 0x%llx "
                      "(untouched)", cases[i].what, (unsigned long long)after,
                      (unsigned long long)planted);
            CHECK_INT(lookup_derived(t, &k, CC_ALGO_SHA1, SEC(101)), 0);
        }
        tbl_free(&tb);
    }
    kill(live, SIGKILL);
    while (waitpid(live, NULL, 0) < 0 && errno == EINTR)
        ;
}

/* ------------------------------------------------------------------ */
/* cc_find_digest                                                      */

static cc_find_t find_how(cc_algo_e algo)
{
    cc_find_t h;
    memset(&h, 0, sizeof(h));
    h.algo = algo;
    h.max_size = INT64_MAX;
    h.now = apr_time_now();          /* only the last-use hint */
    h.cancel.keep_going = NULL;      /* the requester never goes away */
    h.cancel.arg = NULL;
    return h;
}

/* The digest of a file by the plain route (its fstat size), to compare
 * with. */
static void digest_of_fd(int fd, cc_algo_e algo, cc_digest_t *d)
{
    struct stat st;

    memset(d, 0, sizeof(*d));
    if (fstat(fd, &st) != 0
        || cc_digest_fd(fd, (apr_int64_t)st.st_size, algo, d, NULL, NULL)
           != APR_SUCCESS) {
        memset(d, 0xff, sizeof(*d));
    }
}

/* looked_up: the caller has already looked the key up and missed; the
 * find must not count (or do) that lookup again. */
static void test_find_looked_up(void)
{
    tbl_t tb;
    cc_table_t *t = tbl_new(&tb, 64);
    cc_table_stats_t st;
    cc_file_key_t k;
    cc_digest_t d;
    cc_find_t how = find_how(CC_ALGO_SHA1);
    apr_status_t err;
    int fd = open_tmp(OLD_SMALL, O_RDONLY);

    REQUIRE(t && fd >= 0);
    wait_until_old(fd);
    REQUIRE(cc_file_key_from_fd(fd, &k) == APR_SUCCESS);
    CHECK_INT(cc_table_lookup(t, &k, CC_ALGO_SHA1, how.now, &d), 0);
    how.looked_up = 1;
    CHECK_INT(cc_find_digest(t, fd, &k, &how, &d, &err), CC_OUTCOME_MISS);
    cc_table_stats(t, &st);
    CHECK_U64(st.misses, 1);
    CHECK_U64(st.hits, 0);
    how.looked_up = 0;
    CHECK_INT(cc_find_digest(t, fd, &k, &how, &d, &err), CC_OUTCOME_HIT);
    cc_table_stats(t, &st);
    CHECK_U64(st.misses, 1);
    CHECK_U64(st.hits, 1);
    close(fd);
    tbl_free(&tb);
}

static void test_find_no_table(void)
{
    cc_file_key_t k;
    cc_digest_t d, want;
    cc_find_t how = find_how(CC_ALGO_SHA1);
    apr_status_t err = -1;
    int fd = open_tmp(OLD_SMALL, O_RDONLY);

    REQUIRE(fd >= 0);
    wait_until_old(fd);
    REQUIRE(cc_file_key_from_fd(fd, &k) == APR_SUCCESS);
    digest_of_fd(fd, CC_ALGO_SHA1, &want);
    CHECK_INT(cc_find_digest(NULL, fd, &k, &how, &d, &err), CC_OUTCOME_MISS);
    CHECK_INT(err, APR_SUCCESS);
    CHECK(digest_eq(&d, &want));
    CHECK_INT(cc_find_digest(NULL, fd, &k, &how, &d, &err), CC_OUTCOME_MISS);
    how.max_size = OLD_SMALL_LEN - 1;
    CHECK_INT(cc_find_digest(NULL, fd, &k, &how, &d, &err), CC_OUTCOME_TOO_LARGE);
    close(fd);
    /* fresh file: hashed, not "stored" */
    REQUIRE(make_file("fresh-nt.txt", "fresh", 5) == 0);
    fd = open_tmp("fresh-nt.txt", O_RDONLY);
    REQUIRE(fd >= 0);
    REQUIRE(cc_file_key_from_fd(fd, &k) == APR_SUCCESS);
    how = find_how(CC_ALGO_MD5);
    CHECK_INT(cc_find_digest(NULL, fd, &k, &how, &d, &err), CC_OUTCOME_UNCACHED);
    digest_of_fd(fd, CC_ALGO_MD5, &want);
    CHECK(digest_eq(&d, &want));
    close(fd);
}

static void test_find_miss_hit(void)
{
    tbl_t tb;
    cc_table_t *t = tbl_new(&tb, 64);
    cc_table_stats_t st;
    cc_file_key_t k, k0;
    cc_digest_t d, want;
    cc_find_t how = find_how(CC_ALGO_SHA1);
    apr_status_t err;
    int fd = open_tmp(OLD_SMALL, O_RDONLY), a;

    REQUIRE(t && fd >= 0);
    wait_until_old(fd);
    REQUIRE(cc_file_key_from_fd(fd, &k) == APR_SUCCESS);
    k0 = k;
    digest_of_fd(fd, CC_ALGO_SHA1, &want);
    CHECK_INT(cc_find_digest(t, fd, &k, &how, &d, &err), CC_OUTCOME_MISS);
    CHECK(digest_eq(&d, &want));
    CHECK(cc_file_key_equal(&k, &k0));
    cc_table_stats(t, &st);
    CHECK_U64(st.misses, 1);
    CHECK_U64(st.hits, 0);
    CHECK_U64(st.files_hashed, 1);
    CHECK_U64(st.bytes_hashed, OLD_SMALL_LEN);
    CHECK_U64(st.inserts, 1);
    CHECK_INT(st.in_use, 1);
    CHECK_U64(st.uncached, 0);
    CHECK_U64(st.waits, 0);
    memset(&d, 0, sizeof(d));
    CHECK_INT(cc_find_digest(t, fd, &k, &how, &d, &err), CC_OUTCOME_HIT);
    CHECK(digest_eq(&d, &want));
    cc_table_stats(t, &st);
    CHECK_U64(st.hits, 1);
    CHECK_U64(st.files_hashed, 1);
    CHECK_INT(st.in_use, 1);
    /* plain lookup sees the entry too */
    memset(&d, 0, sizeof(d));
    CHECK(cc_table_lookup(t, &k, CC_ALGO_SHA1, how.now, &d));
    CHECK(digest_eq(&d, &want));
    /* the other algorithms: one miss each, then hits */
    for (a = 1; a < N_ALGOS; a++) {
        how = find_how(all_algos[a]);
        digest_of_fd(fd, all_algos[a], &want);
        CHECK_INT(cc_find_digest(t, fd, &k, &how, &d, &err), CC_OUTCOME_MISS);
        CHECK(digest_eq(&d, &want));
        CHECK_INT(cc_find_digest(t, fd, &k, &how, &d, &err), CC_OUTCOME_HIT);
        CHECK(digest_eq(&d, &want));
    }
    cc_table_stats(t, &st);
    CHECK_INT(st.in_use, 4);
    CHECK_U64(st.files_hashed, 4);
    CHECK_U64(st.inserts, 4);
    close(fd);
    tbl_free(&tb);
}

static void test_find_uncached(void)
{
    tbl_t tb;
    cc_table_t *t = tbl_new(&tb, 64);
    cc_table_stats_t st;
    cc_file_key_t k;
    cc_digest_t d, want;
    cc_find_t how = find_how(CC_ALGO_SHA256);
    apr_status_t err;
    int fd;

    REQUIRE(t);
    REQUIRE(make_file("fresh.txt", "just written", 12) == 0);
    fd = open_tmp("fresh.txt", O_RDONLY);
    REQUIRE(fd >= 0);
    REQUIRE(cc_file_key_from_fd(fd, &k) == APR_SUCCESS);
    digest_of_fd(fd, CC_ALGO_SHA256, &want);
    CHECK_INT(cc_find_digest(t, fd, &k, &how, &d, &err), CC_OUTCOME_UNCACHED);
    CHECK(digest_eq(&d, &want));
    CHECK_INT(cc_find_digest(t, fd, &k, &how, &d, &err), CC_OUTCOME_UNCACHED);
    CHECK(digest_eq(&d, &want));
    cc_table_stats(t, &st);
    CHECK_U64(st.uncached, 2);
    CHECK_U64(st.files_hashed, 2);
    CHECK_U64(st.bytes_hashed, 24);
    CHECK_U64(st.inserts, 0);
    CHECK_INT(st.in_use, 0);                     /* the pending entry is gone */
    CHECK_U64(st.misses, 2);
    CHECK(!cc_table_lookup(t, &k, CC_ALGO_SHA256, how.now, &d));
    close(fd);
    tbl_free(&tb);
}

static void test_find_too_large(void)
{
    tbl_t tb;
    cc_table_t *t = tbl_new(&tb, 64);
    cc_table_stats_t st;
    cc_file_key_t k;
    cc_digest_t d, want;
    cc_find_t how = find_how(CC_ALGO_MD5);
    apr_status_t err;
    int fd = open_tmp(OLD_SMALL, O_RDONLY);

    REQUIRE(t && fd >= 0);
    wait_until_old(fd);
    REQUIRE(cc_file_key_from_fd(fd, &k) == APR_SUCCESS);
    how.max_size = OLD_SMALL_LEN - 1;
    CHECK_INT(cc_find_digest(t, fd, &k, &how, &d, &err), CC_OUTCOME_TOO_LARGE);
    how.max_size = 0;
    CHECK_INT(cc_find_digest(t, fd, &k, &how, &d, &err), CC_OUTCOME_TOO_LARGE);
    cc_table_stats(t, &st);
    CHECK_U64(st.files_hashed, 0);
    CHECK_INT(st.in_use, 0);
    how.max_size = OLD_SMALL_LEN;                /* the limit is inclusive */
    digest_of_fd(fd, CC_ALGO_MD5, &want);
    CHECK_INT(cc_find_digest(t, fd, &k, &how, &d, &err), CC_OUTCOME_MISS);
    CHECK(digest_eq(&d, &want));
    close(fd);
    tbl_free(&tb);
}

static void test_find_error(void)
{
    tbl_t tb;
    cc_table_t *t = tbl_new(&tb, 64);
    cc_table_stats_t st;
    cc_file_key_t k;
    cc_digest_t d;
    cc_find_t how = find_how(CC_ALGO_SHA1);
    apr_status_t err = APR_SUCCESS;
    int dfd = open(tmpdir, O_RDONLY | O_DIRECTORY);

    REQUIRE(t && dfd >= 0);
    CHECK_INT(cc_file_key_from_fd(dfd, &k), APR_EINVAL);
    CHECK_INT(cc_find_digest(t, dfd, &k, &how, &d, &err), CC_OUTCOME_ERROR);
    CHECK_INT(err, EISDIR);
    cc_table_stats(t, &st);
    CHECK_INT(st.in_use, 0);                     /* no pending entry left */
    CHECK_U64(st.inserts, 0);
    err = APR_SUCCESS;
    CHECK_INT(cc_find_digest(NULL, dfd, &k, &how, &d, &err), CC_OUTCOME_ERROR);
    CHECK_INT(err, EISDIR);
    close(dfd);
    tbl_free(&tb);
}

struct changer {
    int fd;
    off_t size;
    atomic_int stop;
    atomic_int writes;
};

static void *changer_main(void *arg)
{
    struct changer *c = arg;

    while (!atomic_load(&c->stop)) {
        if (pwrite(c->fd, "z", 1, c->size) == 1) {
            c->size++;
            atomic_fetch_add(&c->writes, 1);
        }
        sleep_ms(0.05);
    }
    return NULL;
}

/* The file keeps growing while it is hashed: CHANGED (or UNCACHED), key
 * updated, nothing stored. */
static void test_find_changed(void)
{
    tbl_t tb;
    cc_table_t *t = tbl_new(&tb, 64);
    cc_table_stats_t st;
    size_t mib = opt_quick ? 4 : 16;
    int pass;

    REQUIRE(t);
    REQUIRE(make_big_file("changing.bin", mib, 3) == 0);
    for (pass = 0; pass < 2; pass++) {
        struct changer c;
        pthread_t th;
        cc_file_key_t k, k0;
        cc_digest_t d;
        cc_find_t how = find_how(CC_ALGO_MD5);   /* the slowest: ~25 ms */
        apr_status_t err;
        cc_outcome_e o;
        int rfd = open_tmp("changing.bin", O_RDONLY);

        REQUIRE(rfd >= 0);
        c.fd = open_tmp("changing.bin", O_WRONLY);
        REQUIRE(c.fd >= 0);
        c.size = lseek(c.fd, 0, SEEK_END);
        atomic_init(&c.stop, 0);
        atomic_init(&c.writes, 0);
        REQUIRE(cc_file_key_from_fd(rfd, &k) == APR_SUCCESS);
        k0 = k;
        REQUIRE(pthread_create(&th, NULL, changer_main, &c) == 0);
        while (atomic_load(&c.writes) == 0) {
            sleep_ms(0.1);
        }
        o = cc_find_digest(pass ? NULL : t, rfd, &k, &how, &d, &err);
        atomic_store(&c.stop, 1);
        pthread_join(th, NULL);
        /* changed under both attempts, or (when the writer thread was
         * not scheduled during the second, as under valgrind) hashed
         * again but too freshly changed to keep: never stored */
        CHECK_MSG(o == CC_OUTCOME_CHANGED || o == CC_OUTCOME_UNCACHED,
                  "outcome %s, want changed or uncached", cc_outcome_name(o));
        CHECK_INT(err, APR_SUCCESS);
        CHECK(!cc_file_key_equal(&k, &k0));
        CHECK(k.size > k0.size);                 /* what fstat said since */
        CHECK_U64(k.ino, k0.ino);
        close(rfd);
        close(c.fd);
    }
    cc_table_stats(t, &st);
    CHECK_U64(st.files_hashed, 2);               /* hashed twice, gave up */
    CHECK_U64(st.inserts, 0);
    CHECK_INT(st.in_use, 0);
    tbl_free(&tb);
}

/* A hash that never ends: its keep_going, asked at 16 MiB, blocks until
 * the process is killed.  (With exact-size reads, /dev/zero under a small
 * file's key no longer runs for ever; a huge key size would, but would
 * also stretch the waiters' budget to its 30 s cap.) */
struct stuck_shared {
    cc_table_t *t;
    atomic_int  stuck;          /* the owner is inside keep_going */
};

static int stuck_keep_going(void *arg)
{
    struct stuck_shared *sh = arg;

    atomic_store(&sh->stuck, 1);
    for (;;) {
        pause();                                 /* until SIGKILL */
    }
    return 1;
}

static void child_hash_stuck(void *arg)
{
    struct stuck_shared *sh = arg;
    int fd = open_tmp(CANCEL_BIG, O_RDONLY);
    cc_file_key_t k;
    cc_digest_t d;
    cc_find_t how = find_how(CC_ALGO_XXH128);
    apr_status_t err;

    if (fd < 0 || cc_file_key_from_fd(fd, &k) != APR_SUCCESS) {
        _exit(3);
    }
    alarm(120);                                  /* never outlive the test */
    how.cancel.keep_going = stuck_keep_going;
    how.cancel.arg = sh;
    cc_find_digest(sh->t, fd, &k, &how, &d, &err);
    _exit(4);
}

/* Waits (60 s at most) until the stuck owner is inside its keep_going,
 * its pending entry published.  0 if it never got there. */
static int wait_stuck(struct stuck_shared *sh, pid_t pid, int *exit_status)
{
    double t0 = mono_sec();

    *exit_status = -1;
    while (!atomic_load(&sh->stuck) && mono_sec() - t0 < 60) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            *exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            return 0;
        }
        sleep_ms(1);
    }
    return atomic_load(&sh->stuck);
}

/* A pending entry whose owner never finishes: we wait, then BUSY.  Once
 * the owner is dead, the next comer takes the entry over at once. */
static void test_find_busy_and_takeover(void)
{
    tbl_t tb;
    cc_table_t *t = tbl_new(&tb, 64);
    struct stuck_shared *sh = shared_alloc(sizeof(*sh));
    cc_table_stats_t st;
    cc_file_key_t k;
    cc_digest_t d, want;
    cc_find_t how = find_how(CC_ALGO_XXH128);
    apr_status_t err;
    double t0, el;
    pid_t pid;
    int fd = open_tmp(CANCEL_BIG, O_RDONLY), st_, ended;
    cc_outcome_e o;

    REQUIRE(t && sh && fd >= 0);
    wait_until_old(fd);
    REQUIRE(cc_file_key_from_fd(fd, &k) == APR_SUCCESS);
    digest_of_fd(fd, CC_ALGO_XXH128, &want);
    sh->t = t;
    pid = fork_child(child_hash_stuck, sh);
    REQUIRE(pid > 0);
    if (!wait_stuck(sh, pid, &ended)) {
        CHECK_MSG(0, "the owner never reached its keep_going (exit %d)",
                  ended);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(fd);
        munmap(sh, sizeof(*sh));
        tbl_free(&tb);
        return;
    }
    cc_table_stats(t, &st);
    CHECK_INT(st.in_use, 1);                     /* its pending entry */

    how.now = apr_time_now();
    t0 = mono_sec();
    o = cc_find_digest(t, fd, &k, &how, &d, &err);
    el = mono_sec() - t0;
    CHECK_MSG(o == CC_OUTCOME_BUSY, "outcome %s, want busy", cc_outcome_name(o));
    /* the budget: 2 s + size / (100 MB/s) */
    CHECK_MSG(el >= 1.9 && el < 10, "waited %.2f s, want about 2 s", el);
    cc_table_stats(t, &st);
    CHECK_U64(st.waits, 1);
    CHECK_U64(st.files_hashed, 0);

    kill(pid, SIGKILL);
    REQUIRE(waitpid(pid, &st_, 0) == pid);
    CHECK(WIFSIGNALED(st_) && WTERMSIG(st_) == SIGKILL);

    how.now = apr_time_now();
    o = cc_find_digest(t, fd, &k, &how, &d, &err);
    CHECK_MSG(o == CC_OUTCOME_MISS, "outcome %s, want miss", cc_outcome_name(o));
    CHECK(digest_eq(&d, &want));
    cc_table_stats(t, &st);
    CHECK_U64(st.waits, 1);                      /* taken over, no new wait */
    CHECK_U64(st.files_hashed, 1);
    CHECK_U64(st.inserts, 1);
    CHECK_INT(st.in_use, 1);                     /* in the dead one's slot */
    CHECK_INT(cc_find_digest(t, fd, &k, &how, &d, &err), CC_OUTCOME_HIT);
    CHECK(digest_eq(&d, &want));
    close(fd);
    munmap(sh, sizeof(*sh));
    tbl_free(&tb);
}

/* The owner of a pending entry runs in a time namespace whose
 * CLOCK_MONOTONIC is offset_sec away from ours, as if its stamp came from
 * another boot.  A start from the future, or one far older than the
 * abandon budget, is abandoned although the owner lives: the next comer
 * takes the entry over instead of waiting for it (which, the owner being
 * stuck, would end in BUSY). */
struct timens_arg {
    struct stuck_shared *sh;
    long offset_sec;
};

#define EXIT_NO_TIMENS 77

static void child_stuck_in_timens(void *arg)
{
    const struct timens_arg *a = arg;
    char line[64];
    pid_t pid;
    int fd, len;

    /* our children, not we, enter the new namespace */
    if (unshare(CLONE_NEWTIME) != 0) {
        _exit(EXIT_NO_TIMENS);
    }
    fd = open("/proc/self/timens_offsets", O_WRONLY);
    len = snprintf(line, sizeof(line), "monotonic %ld 0\n", a->offset_sec);
    if (fd < 0 || write(fd, line, (size_t)len) != len) {
        _exit(EXIT_NO_TIMENS);
    }
    close(fd);
    pid = fork_child(child_hash_stuck, a->sh);   /* dies with us */
    if (pid < 0) {
        _exit(5);
    }
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    _exit(6);
}

static void test_find_pending_other_clock(void)
{
    static const long offsets[] = {
        100000,          /* started 100000 s from now */
        -100,            /* started 100 s ago: past the abandon budget
                            (10 s + size / (10 MB/s): 17 s for 64 MiB) */
    };
    size_t i;

    for (i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
        tbl_t tb;
        cc_table_t *t = tbl_new(&tb, 64);
        struct stuck_shared *sh = shared_alloc(sizeof(*sh));
        struct timens_arg a;
        cc_table_stats_t st;
        cc_file_key_t k;
        cc_digest_t d, want;
        cc_find_t how = find_how(CC_ALGO_XXH128);
        apr_status_t err;
        cc_outcome_e o;
        pid_t helper;
        int fd = open_tmp(CANCEL_BIG, O_RDONLY), ended;

        REQUIRE(t && sh && fd >= 0);
        if (offsets[i] < 0 && mono_sec() < 10 - offsets[i]) {
            /* the kernel keeps a namespace's clock positive */
            notef("monotonic clock at %.0f s: offset %ld skipped", mono_sec(),
                  offsets[i]);
            close(fd);
            munmap(sh, sizeof(*sh));
            tbl_free(&tb);
            continue;
        }
        wait_until_old(fd);
        REQUIRE(cc_file_key_from_fd(fd, &k) == APR_SUCCESS);
        digest_of_fd(fd, CC_ALGO_XXH128, &want);
        sh->t = t;
        a.sh = sh;
        a.offset_sec = offsets[i];
        helper = fork_child(child_stuck_in_timens, &a);
        REQUIRE(helper > 0);
        if (!wait_stuck(sh, helper, &ended)) {
            if (ended == EXIT_NO_TIMENS) {
                notef("no time namespaces here (needs CAP_SYS_ADMIN and "
                      "Linux 5.6): skipped");
            }
            else {
                CHECK_MSG(0, "offset %ld: the owner never reached its "
                          "keep_going (helper exit %d)", offsets[i], ended);
                kill(helper, SIGKILL);
                waitpid(helper, NULL, 0);
            }
            close(fd);
            munmap(sh, sizeof(*sh));
            tbl_free(&tb);
            return;
        }
        cc_table_stats(t, &st);
        CHECK_INT(st.in_use, 1);                 /* its pending entry */
        o = cc_find_digest(t, fd, &k, &how, &d, &err);
        CHECK_MSG(o == CC_OUTCOME_MISS, "offset %ld s: outcome %s, want miss "
                  "(the entry taken over)", offsets[i], cc_outcome_name(o));
        CHECK(digest_eq(&d, &want));
        cc_table_stats(t, &st);
        CHECK_U64(st.waits, 0);
        CHECK_U64(st.files_hashed, 1);
        CHECK_U64(st.inserts, 1);
        CHECK_INT(st.in_use, 1);                 /* in the owner's slot */
        kill(helper, SIGKILL);                   /* the owner follows */
        waitpid(helper, NULL, 0);
        close(fd);
        munmap(sh, sizeof(*sh));
        tbl_free(&tb);
    }
}

/* A requester gone (keep_going says 0) while nobody waits: the hash stops
 * at the next check, nothing is kept, and its pending entry goes away, so
 * the next requester hashes at once instead of waiting. */
static void test_find_cancelled(void)
{
    tbl_t tb;
    cc_table_t *t = tbl_new(&tb, 64);
    cc_table_stats_t st;
    cc_file_key_t k, k0, ks;
    cc_digest_t d, want;
    cc_find_t how = find_how(CC_ALGO_XXH128);
    struct keep_going_probe gone;
    apr_status_t err;
    int fd = open_tmp(CANCEL_BIG, O_RDONLY);
    int small = open_tmp(OLD_SMALL, O_RDONLY);

    REQUIRE(t && fd >= 0 && small >= 0);
    wait_until_old(fd);
    REQUIRE(cc_file_key_from_fd(fd, &k) == APR_SUCCESS);
    REQUIRE(k.size > CC_CANCEL_CHECK_BYTES);
    k0 = k;
    memset(&gone, 0, sizeof(gone));
    gone.stop_at = 1;
    gone.t = t;
    how.cancel.keep_going = probe_keep_going;
    how.cancel.arg = &gone;
    CHECK_INT(cc_find_digest(t, fd, &k, &how, &d, &err), CC_OUTCOME_CANCELLED);
    CHECK_INT(gone.calls, 1);
    CHECK_INT(gone.in_use_seen, 1);              /* our pending entry */
    CHECK(cc_file_key_equal(&k, &k0));
    cc_table_stats(t, &st);
    CHECK_INT(st.in_use, 0);                     /* ... removed */
    CHECK_U64(st.inserts, 0);
    CHECK_U64(st.files_hashed, 1);
    CHECK_MSG(st.bytes_hashed >= CC_CANCEL_CHECK_BYTES
              && st.bytes_hashed <= CC_CANCEL_CHECK_BYTES + READ_BLOCK,
              "BytesHashed %llu, want 16 MiB to 16 MiB + one block",
              (unsigned long long)st.bytes_hashed);
    CHECK_U64(st.uncached, 0);
    CHECK_U64(st.waits, 0);
    CHECK(!cc_table_lookup(t, &k, CC_ALGO_XXH128, how.now, &d));

    /* the next requester, who stays: nothing to wait for, hashed, kept */
    how.cancel.keep_going = NULL;
    how.cancel.arg = NULL;
    digest_of_fd(fd, CC_ALGO_XXH128, &want);
    CHECK_INT(cc_find_digest(t, fd, &k, &how, &d, &err), CC_OUTCOME_MISS);
    CHECK(digest_eq(&d, &want));
    cc_table_stats(t, &st);
    CHECK_U64(st.waits, 0);
    CHECK_U64(st.files_hashed, 2);
    CHECK_U64(st.inserts, 1);
    CHECK_INT(st.in_use, 1);

    /* no table: nobody can wait, so gone is gone */
    memset(&gone, 0, sizeof(gone));
    gone.stop_at = 1;
    how.cancel.keep_going = probe_keep_going;
    how.cancel.arg = &gone;
    CHECK_INT(cc_find_digest(NULL, fd, &k, &how, &d, &err),
              CC_OUTCOME_CANCELLED);
    CHECK_INT(gone.calls, 1);

    /* a file of at most CC_CANCEL_CHECK_BYTES is hashed whole: the
     * requester is never asked */
    wait_until_old(small);
    REQUIRE(cc_file_key_from_fd(small, &ks) == APR_SUCCESS);
    memset(&gone, 0, sizeof(gone));
    gone.stop_at = 1;
    digest_of_fd(small, CC_ALGO_XXH128, &want);
    CHECK_INT(cc_find_digest(t, small, &ks, &how, &d, &err), CC_OUTCOME_MISS);
    CHECK(digest_eq(&d, &want));
    CHECK_INT(gone.calls, 0);
    close(small);
    close(fd);
    tbl_free(&tb);
}

/* Process A hashes a big file for a requester that is gone by its first
 * check, but only once process B waits for A's pending entry: A goes on
 * because B waits (MISS), and B shares its digest.  A's keep_going holds
 * its first answer until the parent has seen B's wait counted, which
 * happens after B marked the entry as waited for. */
struct cw_shared {
    cc_table_t *t;
    atomic_int  asked;           /* A's keep_going has been called */
    atomic_int  release;         /* B waits: A's keep_going may answer */
    atomic_int  calls;           /* A's keep_going calls, all "gone" */
    int         outcome[2];      /* A, B */
    int         err[2];
    cc_digest_t digest[2];
};

static int cw_gone_once_waited(void *arg)
{
    struct cw_shared *sh = arg;
    double t0 = mono_sec();

    atomic_fetch_add(&sh->calls, 1);
    atomic_store(&sh->asked, 1);
    while (!atomic_load(&sh->release) && mono_sec() - t0 < 120) {
        sleep_ms(1);
    }
    return 0;                                    /* the requester is gone */
}

static struct cw_shared *cw_child_sh;
static void cw_child(void *arg)
{
    struct cw_shared *sh = cw_child_sh;
    int who = (int)(intptr_t)arg;
    int fd = open_tmp(CANCEL_BIG, O_RDONLY);
    cc_file_key_t k;
    cc_find_t how = find_how(CC_ALGO_XXH128);
    apr_status_t err = APR_SUCCESS;

    sh->outcome[who] = -1;
    if (fd < 0 || cc_file_key_from_fd(fd, &k) != APR_SUCCESS) {
        _exit(3);
    }
    if (who == 0) {
        how.cancel.keep_going = cw_gone_once_waited;
        how.cancel.arg = sh;
    }
    sh->outcome[who] = (int)cc_find_digest(sh->t, fd, &k, &how,
                                           &sh->digest[who], &err);
    sh->err[who] = err;
    close(fd);
}

static void test_find_cancel_waited(void)
{
    tbl_t tb;
    cc_table_t *t = tbl_new(&tb, 64);
    struct cw_shared *sh = shared_alloc(sizeof(*sh));
    cc_table_stats_t st;
    cc_digest_t want;
    struct stat fst;
    pid_t pa, pb = -1;
    double t0;
    int fd = open_tmp(CANCEL_BIG, O_RDONLY), checks;

    REQUIRE(t && sh && fd >= 0);
    wait_until_old(fd);
    REQUIRE(fstat(fd, &fst) == 0 && fst.st_size > CC_CANCEL_CHECK_BYTES);
    checks = (int)((fst.st_size - 1) / CC_CANCEL_CHECK_BYTES);
    digest_of_fd(fd, CC_ALGO_XXH128, &want);
    close(fd);
    sh->t = t;
    cw_child_sh = sh;

    pa = fork_child(cw_child, (void *)(intptr_t)0);
    REQUIRE(pa > 0);
    t0 = mono_sec();
    while (!atomic_load(&sh->asked) && mono_sec() - t0 < 60) {
        sleep_ms(1);
    }
    CHECK_MSG(atomic_load(&sh->asked), "A never asked its keep_going");
    cc_table_stats(t, &st);
    CHECK_INT(st.in_use, 1);                     /* A's pending entry */
    CHECK_U64(st.waits, 0);
    if (atomic_load(&sh->asked)) {
        pb = fork_child(cw_child, (void *)(intptr_t)1);
        t0 = mono_sec();
        do {
            sleep_ms(1);
            cc_table_stats(t, &st);
        } while (st.waits == 0 && mono_sec() - t0 < 60);
        CHECK_U64(st.waits, 1);
    }
    atomic_store(&sh->release, 1);               /* A: "gone" from now on */
    WAIT_CHILD_OK(pa, "A, whose requester left");
    if (pb > 0) {
        WAIT_CHILD_OK(pb, "B, waiting for A");
    }
    CHECK_MSG(sh->outcome[0] == CC_OUTCOME_MISS, "A: outcome %s (err %d), "
              "want miss", cc_outcome_name((cc_outcome_e)sh->outcome[0]),
              sh->err[0]);
    CHECK_MSG(sh->outcome[1] == CC_OUTCOME_SHARED, "B: outcome %s (err %d), "
              "want shared", cc_outcome_name((cc_outcome_e)sh->outcome[1]),
              sh->err[1]);
    CHECK(digest_eq(&sh->digest[0], &want));
    CHECK(digest_eq(&sh->digest[1], &want));
    /* every check said "gone", and the hash went on to the end */
    CHECK_INT(atomic_load(&sh->calls), checks);
    cc_table_stats(t, &st);
    CHECK_U64(st.files_hashed, 1);
    CHECK_U64(st.bytes_hashed, fst.st_size);
    CHECK_U64(st.waits, 1);
    CHECK_U64(st.inserts, 1);
    CHECK_INT(st.in_use, 1);
    munmap(sh, sizeof(*sh));
    tbl_free(&tb);
}

/* /proc/self/status: fstat size 0, about 1.4 KB to read.  Its bytes are
 * never the `size` bytes a response would send: CHANGED after hashing it
 * again once, no digest kept, its pending entries removed. */
static void test_find_proc_status(void)
{
    tbl_t tb;
    cc_table_t *t = tbl_new(&tb, 64);
    cc_table_stats_t st;
    cc_file_key_t k, k0;
    cc_digest_t d;
    cc_find_t how = find_how(CC_ALGO_SHA1);
    apr_status_t err = -1;
    int fd = open("/proc/self/status", O_RDONLY);

    REQUIRE(t && fd >= 0);
    REQUIRE(cc_file_key_from_fd(fd, &k) == APR_SUCCESS);   /* "regular" */
    REQUIRE(k.size == 0);
    /* settled, so that the table is used (a pending entry per attempt) */
    wait_until_old(fd);
    k0 = k;
    CHECK_INT(cc_find_digest(t, fd, &k, &how, &d, &err), CC_OUTCOME_CHANGED);
    CHECK_INT(err, APR_SUCCESS);
    CHECK(cc_file_key_equal(&k, &k0));           /* fstat says the same */
    cc_table_stats(t, &st);
    CHECK_U64(st.files_hashed, 2);               /* hashed again once */
    CHECK_U64(st.inserts, 0);
    CHECK_INT(st.in_use, 0);
    CHECK_U64(st.uncached, 0);
    CHECK_U64(st.waits, 0);
    CHECK(!cc_table_lookup(t, &k, CC_ALGO_SHA1, how.now, &d));
    /* no table: the same */
    CHECK_INT(cc_find_digest(NULL, fd, &k, &how, &d, &err), CC_OUTCOME_CHANGED);
    CHECK_INT(err, APR_SUCCESS);
    close(fd);
    tbl_free(&tb);
}

/* The settle rule on a real file: hashed a little under 1 s after its
 * ctime (which has a sub-second part here), the digest is not kept
 * (UNCACHED); after 1 s it is (MISS, then HIT).  On a coarse filesystem
 * (whole-second ctime) the same with 3 s. */
static void test_find_settle_rule(void)
{
    tbl_t tb;
    cc_table_t *t = tbl_new(&tb, 64);
    cc_table_stats_t st;
    cc_file_key_t k;
    cc_digest_t d, want;
    cc_find_t how = find_how(CC_ALGO_SHA256);
    apr_status_t err;
    int64_t need, age, before, after;
    cc_outcome_e o;
    int fd, uncached = 0;

    REQUIRE(t);
    REQUIRE(make_file("settling.txt", "settling down", 13) == 0);
    fd = open_tmp("settling.txt", O_RDONLY);
    REQUIRE(fd >= 0);
    REQUIRE(cc_file_key_from_fd(fd, &k) == APR_SUCCESS);
    digest_of_fd(fd, CC_ALGO_SHA256, &want);
    need = settle_usec(k.ctime);
    if (need != 1000000) {
        notef("whole-second ctime in %s: the 3 s rule applies", tmpdir);
    }
    /* 0.35 s short of settled */
    age = real_ns() / 1000 - k.ctime;
    if (age < need - 350000) {
        sleep_ms((double)(need - 350000 - age) / 1e3);
    }
    before = real_ns() / 1000 - k.ctime;
    o = cc_find_digest(t, fd, &k, &how, &d, &err);
    after = real_ns() / 1000 - k.ctime;
    CHECK(digest_eq(&d, &want));
    if (after < need) {
        CHECK_MSG(o == CC_OUTCOME_UNCACHED, "%.3f s to %.3f s after ctime: "
                  "outcome %s, want uncached", before / 1e6, after / 1e6,
                  cc_outcome_name(o));
        uncached = 1;
    }
    else {
        /* this machine stalled across the threshold: either is right */
        notef("the find took from %.3f s to %.3f s after ctime",
              before / 1e6, after / 1e6);
        CHECK_MSG(o == CC_OUTCOME_UNCACHED || o == CC_OUTCOME_MISS,
                  "outcome %s", cc_outcome_name(o));
        uncached = o == CC_OUTCOME_UNCACHED;
    }
    cc_table_stats(t, &st);
    CHECK_U64(st.uncached, uncached);
    CHECK_U64(st.inserts, !uncached);
    CHECK_INT(st.in_use, !uncached);             /* no pending entry left */
    wait_until_old(fd);
    if (uncached) {
        CHECK_INT(cc_find_digest(t, fd, &k, &how, &d, &err), CC_OUTCOME_MISS);
        CHECK(digest_eq(&d, &want));
    }
    CHECK_INT(cc_find_digest(t, fd, &k, &how, &d, &err), CC_OUTCOME_HIT);
    CHECK(digest_eq(&d, &want));
    cc_table_stats(t, &st);
    CHECK_U64(st.uncached, uncached);
    CHECK_U64(st.inserts, 1);
    CHECK_U64(st.files_hashed, 1 + uncached);
    close(fd);
    tbl_free(&tb);
}

/* ------------------------------------------------------------------ */
/* Single flight                                                       */

#define SF_MAX 16

struct sf_shared {
    cc_table_t *t;
    int         go_fd;           /* read end of the start barrier */
    int         go_wr;           /* its write end, which children close */
    int         idx_next;
    int         outcome[SF_MAX];
    int         err[SF_MAX];
    cc_digest_t digest[SF_MAX];
};

static void sf_one(struct sf_shared *sh, int idx)
{
    int fd = open_tmp(SF_BIG, O_RDONLY);
    cc_file_key_t k;
    cc_find_t how;
    apr_status_t err = APR_SUCCESS;
    char c;

    sh->outcome[idx] = -1;
    if (fd < 0 || cc_file_key_from_fd(fd, &k) != APR_SUCCESS) {
        return;
    }
    if (sh->go_fd >= 0) {
        while (read(sh->go_fd, &c, 1) < 0 && errno == EINTR)
            ;
    }
    how = find_how(CC_ALGO_MD5);
    sh->outcome[idx] = (int)cc_find_digest(sh->t, fd, &k, &how,
                                           &sh->digest[idx], &err);
    sh->err[idx] = err;
    close(fd);
}

static struct sf_shared *sf_child_sh;
static void sf_child(void *arg)
{
    close(sf_child_sh->go_wr);   /* else the barrier never opens */
    sf_one(sf_child_sh, (int)(intptr_t)arg);
}

static void sf_check(struct sf_shared *sh, int k, const cc_digest_t *want)
{
    cc_table_stats_t st;
    int i, miss = 0, shared = 0, hit = 0;

    cc_table_stats(sh->t, &st);
    for (i = 0; i < k; i++) {
        if (sh->outcome[i] == CC_OUTCOME_MISS) miss++;
        else if (sh->outcome[i] == CC_OUTCOME_SHARED) shared++;
        else if (sh->outcome[i] == CC_OUTCOME_HIT) hit++;
        else CHECK_MSG(0, "caller %d: outcome %s (err %d)", i,
                       cc_outcome_name((cc_outcome_e)sh->outcome[i]), sh->err[i]);
        CHECK_MSG(digest_eq(&sh->digest[i], want), "caller %d: wrong digest", i);
    }
    CHECK_U64(st.files_hashed, 1);
    CHECK_INT(miss, 1);
    CHECK_INT(shared + hit, k - 1);
    CHECK_MSG(shared >= 1, "no caller waited for the hash (%d hits)", hit);
    if (hit) {
        notef("%d of %d callers came after the hash was done (hit)", hit, k);
    }
    CHECK_U64(st.waits, shared);
    CHECK_U64(st.inserts, 1);
    CHECK_INT(st.in_use, 1);
}

static void test_single_flight_processes(void)
{
    tbl_t tb;
    cc_table_t *t = tbl_new(&tb, 256);
    struct sf_shared *sh = shared_alloc(sizeof(*sh));
    int k = opt_quick ? 3 : 4, i, pfd[2], fd;
    pid_t pids[SF_MAX];
    cc_digest_t want;

    REQUIRE(t && sh);
    fd = open_tmp(SF_BIG, O_RDONLY);
    REQUIRE(fd >= 0);
    wait_until_old(fd);
    digest_of_fd(fd, CC_ALGO_MD5, &want);
    close(fd);
    REQUIRE(pipe(pfd) == 0);
    sh->t = t;
    sh->go_fd = pfd[0];
    sh->go_wr = pfd[1];
    sf_child_sh = sh;
    for (i = 0; i < k; i++) {
        pids[i] = fork_child(sf_child, (void *)(intptr_t)i);
    }
    close(pfd[0]);
    sleep_ms(opt_quick ? 500 : 100);             /* all at the barrier */
    close(pfd[1]);                               /* go */
    for (i = 0; i < k; i++) {
        WAIT_CHILD_OK(pids[i], "single-flight child");
    }
    sf_check(sh, k, &want);
    munmap(sh, sizeof(*sh));
    tbl_free(&tb);
}

struct sf_thread_arg {
    struct sf_shared *sh;
    int idx;
    pthread_barrier_t *bar;
};

static void *sf_thread(void *arg)
{
    struct sf_thread_arg *a = arg;
    pthread_barrier_wait(a->bar);
    sf_one(a->sh, a->idx);
    return NULL;
}

static void test_single_flight_threads(void)
{
    tbl_t tb;
    cc_table_t *t = tbl_new(&tb, 256);
    struct sf_shared *sh = calloc(1, sizeof(*sh));
    int k = opt_quick ? 3 : 4, i, fd;
    pthread_t th[SF_MAX];
    struct sf_thread_arg args[SF_MAX];
    pthread_barrier_t bar;
    cc_digest_t want;

    REQUIRE(t && sh);
    fd = open_tmp(SF_BIG, O_RDONLY);
    REQUIRE(fd >= 0);
    wait_until_old(fd);
    digest_of_fd(fd, CC_ALGO_MD5, &want);
    close(fd);
    sh->t = t;
    sh->go_fd = -1;
    pthread_barrier_init(&bar, NULL, (unsigned)k);
    for (i = 0; i < k; i++) {
        args[i].sh = sh;
        args[i].idx = i;
        args[i].bar = &bar;
        REQUIRE(pthread_create(&th[i], NULL, sf_thread, &args[i]) == 0);
    }
    for (i = 0; i < k; i++) {
        pthread_join(th[i], NULL);
    }
    pthread_barrier_destroy(&bar);
    sf_check(sh, k, &want);
    free(sh);
    tbl_free(&tb);
}

/* ------------------------------------------------------------------ */
/* Stress: writers store derived digests, readers check every hit      */

#define STRESS_KEYS 600

struct stress {
    cc_table_t *t;
    atomic_int  stop;
    atomic_int  started;
    _Atomic uint64_t lookups, hits, wrong, phantom, stores, refused;
    _Atomic uint64_t finds, find_bad;
    int         with_clear;      /* writers clear the table now and then */
    int         with_find;       /* writers also run cc_find_digest */
};

/* Key i: 61 inodes, many versions of each, so windows are crowded and
 * "older version of the same file" replacement runs all the time. */
static void stress_key(int i, cc_file_key_t *k, cc_algo_e *algo)
{
    *k = mk_key(3 + (uint64_t)(i % 2), 1 + (uint64_t)(i % 61), i,
                INT64_C(1600000000000000000) + i, INT64_C(1600000000500000000) + i);
    *algo = all_algos[(i / 61) % N_ALGOS];
}

static void stress_reader(struct stress *s, uint64_t seed)
{
    uint64_t r = seed | 1, n = 0, hits = 0, wrong = 0, phantom = 0;

    atomic_fetch_add(&s->started, 1);
    while (!atomic_load_explicit(&s->stop, memory_order_relaxed)) {
        cc_file_key_t k;
        cc_algo_e algo;
        uint64_t x = rnd_next(&r);
        int res;

        stress_key((int)(x % STRESS_KEYS), &k, &algo);
        if ((x >> 32) % 5 == 0) {
            /* a key nobody stores: a hit would be a misattribution */
            k.ctime += 1 + (int64_t)((x >> 40) % 3);
            if (lookup_derived(s->t, &k, algo, SEC(2000)) != 0) {
                phantom++;
            }
            n++;
            continue;
        }
        res = lookup_derived(s->t, &k, algo, SEC(1000 + (int64_t)(n % 100)));
        n++;
        hits += res != 0;
        wrong += res < 0;
    }
    atomic_fetch_add(&s->lookups, n);
    atomic_fetch_add(&s->hits, hits);
    atomic_fetch_add(&s->wrong, wrong);
    atomic_fetch_add(&s->phantom, phantom);
}

static void stress_writer(struct stress *s, uint64_t seed, int forever)
{
    uint64_t r = seed | 1, n = 0, refused = 0;
    int fd = -1;

    if (s->with_find) {
        fd = open_tmp(OLD_SMALL, O_RDONLY);
    }
    atomic_fetch_add(&s->started, 1);
    while (forever || !atomic_load_explicit(&s->stop, memory_order_relaxed)) {
        cc_file_key_t k;
        cc_algo_e algo;
        uint64_t x = rnd_next(&r);

        if (s->with_clear && x % 20000 == 0) {
            cc_table_clear(s->t);
            continue;
        }
        if (fd >= 0 && x % 64 == 1) {
            cc_find_t how = find_how(all_algos[(x >> 8) % N_ALGOS]);
            cc_digest_t d, want;
            apr_status_t err;
            cc_outcome_e o;

            if (cc_file_key_from_fd(fd, &k) == APR_SUCCESS) {
                o = cc_find_digest(s->t, fd, &k, &how, &d, &err);
                digest_of_fd(fd, how.algo, &want);
                if ((o != CC_OUTCOME_HIT && o != CC_OUTCOME_MISS
                     && o != CC_OUTCOME_SHARED) || !digest_eq(&d, &want)) {
                    atomic_fetch_add(&s->find_bad, 1);
                }
                atomic_fetch_add(&s->finds, 1);
            }
            continue;
        }
        stress_key((int)(x % STRESS_KEYS), &k, &algo);
        if (!store_derived(s->t, &k, algo, SEC(1000 + (int64_t)(n % 100)))) {
            refused++;
        }
        n++;
        if (forever && (n & 255) == 0) {
            /* a killed writer cannot add up its counts: publish as we go */
            atomic_fetch_add(&s->stores, 256);
        }
    }
    if (fd >= 0) {
        close(fd);
    }
    atomic_fetch_add(&s->stores, n);
    atomic_fetch_add(&s->refused, refused);
}

static struct stress *stress_child_s;
static void stress_reader_child(void *arg)
{
    stress_reader(stress_child_s, (uint64_t)getpid() * 7919 + (uintptr_t)arg);
}
static void stress_writer_child(void *arg)
{
    stress_writer(stress_child_s, (uint64_t)getpid() * 104729 + (uintptr_t)arg, 0);
}

static void stress_report(struct stress *s, const char *what)
{
    cc_table_stats_t st;
    cc_table_stats(s->t, &st);
    notef("%s: %llu lookups, %llu hits, %llu stores (%llu refused), "
          "%llu finds; table: %u/%u in use, %llu evictions, %llu lock "
          "recoveries", what,
          (unsigned long long)s->lookups, (unsigned long long)s->hits,
          (unsigned long long)s->stores, (unsigned long long)s->refused,
          (unsigned long long)s->finds, st.in_use, st.capacity,
          (unsigned long long)st.evictions,
          (unsigned long long)st.lock_recoveries);
    CHECK_MSG(s->wrong == 0, "%llu hits returned another key's digest (torn read)",
              (unsigned long long)s->wrong);
    CHECK_MSG(s->phantom == 0, "%llu lookups of never-stored keys hit",
              (unsigned long long)s->phantom);
    CHECK_MSG(s->find_bad == 0, "%llu cc_find_digest calls went wrong",
              (unsigned long long)s->find_bad);
    CHECK(st.in_use <= st.capacity);
}

/* Every key i still in the table holds derive(i). */
static void stress_final_scan(struct stress *s)
{
    int i, wrong = 0;
    for (i = 0; i < STRESS_KEYS; i++) {
        cc_file_key_t k;
        cc_algo_e algo;
        stress_key(i, &k, &algo);
        wrong += lookup_derived(s->t, &k, algo, SEC(5000)) < 0;
    }
    CHECK_INT(wrong, 0);
}

static void test_stress_processes(void)
{
    tbl_t tb;
    cc_table_t *t = tbl_new(&tb, 48);
    struct stress *s = shared_alloc(sizeof(*s));
    int nw = 2, nr = 2, i;
    pid_t pids[8];
    double secs = opt_quick ? 1.5 : 2.0, t0;
    cc_table_stats_t st;

    REQUIRE(t && s);
    s->t = t;
    s->with_clear = 1;
    stress_child_s = s;
    for (i = 0; i < nr; i++) {
        pids[i] = fork_child(stress_reader_child, (void *)(intptr_t)i);
    }
    for (i = 0; i < nw; i++) {
        pids[nr + i] = fork_child(stress_writer_child, (void *)(intptr_t)i);
    }
    t0 = mono_sec();
    while (atomic_load(&s->started) < nr + nw && mono_sec() - t0 < 30) {
        sleep_ms(5);
    }
    sleep_ms(secs * 1000);
    atomic_store(&s->stop, 1);
    for (i = 0; i < nr + nw; i++) {
        WAIT_CHILD_OK(pids[i], "stress child");
    }
    stress_report(s, "processes");
    CHECK(s->hits > 0);
    /* No writer died and none held the lock for CC_LOCK_STALE_SEC: a lock
     * taken over here would mean that writers stamp it by another clock
     * than the one they judge its age by. */
    cc_table_stats(t, &st);
    CHECK_U64(st.lock_recoveries, 0);
    stress_final_scan(s);
    munmap(s, sizeof(*s));
    tbl_free(&tb);
}

struct stress_targ {
    struct stress *s;
    int writer;
    uint64_t seed;
};

static void *stress_thread(void *arg)
{
    struct stress_targ *a = arg;
    if (a->writer) {
        stress_writer(a->s, a->seed, 0);
    }
    else {
        stress_reader(a->s, a->seed);
    }
    return NULL;
}

static void test_stress_threads(void)
{
    tbl_t tb;
    cc_table_t *t = tbl_new(&tb, 48);
    struct stress *s = calloc(1, sizeof(*s));
    pthread_t th[4];
    struct stress_targ args[4];
    int i;
    cc_table_stats_t st;

    REQUIRE(t && s);
    s->t = t;
    s->with_clear = 1;
    for (i = 0; i < 4; i++) {
        args[i].s = s;
        args[i].writer = i >= 2;
        args[i].seed = 0x1234567ULL * (uint64_t)(i + 1);
        REQUIRE(pthread_create(&th[i], NULL, stress_thread, &args[i]) == 0);
    }
    sleep_ms(opt_quick ? 1500 : 2000);
    atomic_store(&s->stop, 1);
    for (i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
    }
    stress_report(s, "threads");
    CHECK(s->hits > 0);
    cc_table_stats(t, &st);                      /* as for processes */
    CHECK_U64(st.lock_recoveries, 0);
    stress_final_scan(s);
    free(s);
    tbl_free(&tb);
}

/* Writers killed with SIGKILL at random moments, over and over, while
 * readers check every hit.  Afterwards the table must still work: stores
 * succeed (the writer lock is recovered), lookups are right, and no
 * pending entry of a dead writer blocks cc_find_digest(). */
static void kill_writer_child(void *arg)
{
    stress_writer(stress_child_s, (uint64_t)getpid() * 31 + (uintptr_t)arg, 1);
}

static void test_stress_kill_writers(void)
{
    tbl_t tb;
    cc_table_t *t = tbl_new(&tb, 48);
    struct stress *s = shared_alloc(sizeof(*s));
    int nr = 2, rounds = opt_quick ? 40 : 150, i, fd, a;
    pid_t readers[4];
    uint64_t r = 99;
    cc_table_stats_t st;
    double t0;

    REQUIRE(t && s);
    fd = open_tmp(OLD_SMALL, O_RDONLY);
    REQUIRE(fd >= 0);
    wait_until_old(fd);
    s->t = t;
    s->with_clear = 1;
    s->with_find = 1;
    stress_child_s = s;
    for (i = 0; i < nr; i++) {
        readers[i] = fork_child(stress_reader_child, (void *)(intptr_t)i);
    }
    for (i = 0; i < rounds; i++) {
        int status;
        pid_t pid = fork_child(kill_writer_child, (void *)(intptr_t)i);
        if (pid < 0) {
            CHECK_MSG(0, "fork: %s", strerror(errno));
            break;
        }
        if (opt_quick) {
            sleep_ms(5 + (double)(rnd_next(&r) % 20000) / 1000);
        }
        else {
            sleep_ms(0.3 + (double)(rnd_next(&r) % 3000) / 1000);
        }
        kill(pid, SIGKILL);
        /* reaped at once: a zombie's pid still "exists" for kill(pid, 0) */
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                  "writer %d ended with status 0x%x before the kill", i, status);
    }
    atomic_store(&s->stop, 1);
    for (i = 0; i < nr; i++) {
        WAIT_CHILD_OK(readers[i], "reader");
    }
    stress_report(s, "killed writers");
    stress_final_scan(s);

    /* the table still takes writes: the lock is not stuck */
    t0 = mono_sec();
    for (i = 0; i < 200; i++) {
        cc_file_key_t k = mk_key(77, (uint64_t)(5000 + i), i, i, i);
        CHECK(store_derived(t, &k, CC_ALGO_SHA1, SEC(7000)) == 1);
        CHECK_INT(lookup_derived(t, &k, CC_ALGO_SHA1, SEC(7000)), 1);
    }
    CHECK_MSG(mono_sec() - t0 < 2, "200 stores took %.2f s", mono_sec() - t0);
    /* no dead writer's pending entry makes us wait */
    for (a = 0; a < N_ALGOS; a++) {
        cc_file_key_t k;
        cc_digest_t d, want;
        cc_find_t how = find_how(all_algos[a]);
        apr_status_t err;
        cc_outcome_e o;

        REQUIRE(cc_file_key_from_fd(fd, &k) == APR_SUCCESS);
        digest_of_fd(fd, all_algos[a], &want);
        t0 = mono_sec();
        o = cc_find_digest(t, fd, &k, &how, &d, &err);
        CHECK_MSG(o == CC_OUTCOME_HIT || o == CC_OUTCOME_MISS,
                  "%s: outcome %s", cc_algo_name(all_algos[a]), cc_outcome_name(o));
        CHECK(digest_eq(&d, &want));
        CHECK_MSG(mono_sec() - t0 < 1, "find took %.2f s", mono_sec() - t0);
    }
    cc_table_stats(t, &st);
    notef("lock recoveries after %d kills: %llu", rounds,
          (unsigned long long)st.lock_recoveries);
    /* a clear empties everything, odd slots of dead writers included */
    cc_table_clear(t);
    cc_table_stats(t, &st);
    if (st.in_use != 0) {
        /* window_put() counts a slot in use before it makes the slot odd
         * and out of use after it makes it even: a writer killed between
         * the two leaves the count one too high.  Reported, not failed. */
        notef("in_use is %u after a clear (count drift from killed writers)",
              st.in_use);
    }
    for (i = 0; i < STRESS_KEYS; i++) {
        cc_file_key_t k;
        cc_algo_e algo;
        stress_key(i, &k, &algo);
        CHECK_INT(lookup_derived(t, &k, algo, SEC(8000)), 0);
    }
    close(fd);
    munmap(s, sizeof(*s));
    tbl_free(&tb);
}

/* ------------------------------------------------------------------ */
/* Driver                                                              */

struct test {
    const char *name;
    void (*fn)(void);
};

#define T(name) { #name, test_##name }
#define B(name) { "bug_" #name, bug_##name }

static const struct test tests[] = {
    T(algo_names),
    T(algo_out_of_range),
    T(digest_kat),
    T(digest_buffer_vs_direct),
    T(digest_fd_sizes),
    T(digest_fd_errors),
    T(digest_fd_exact_size),
    T(digest_fd_proc_status),
    T(digest_fd_cancel),
    T(etag_format),
    T(etag_is_valid),
    T(etag_is_valid_reads_past_len),
    T(etag_match_basic),
    T(etag_match_lists),
    T(etag_match_star),
    T(codings_refused),
    T(etag_match_codings),
    T(etag_match_suffixes),
    T(etag_match_long_list),
    T(etag_match_bytes),
    T(etag_match_our_weak),
    T(precond_etags),
    T(precond_dates),
    T(precond_no_etag),
    T(precond_date_with_trailing_junk),
    T(file_key),
    T(file_key_from_finfo),
    T(key_settled),
    T(table_create_reuse),
    T(table_store_lookup),
    T(table_counters),
    T(table_many_keys),
    T(table_eviction),
    T(table_small),
    T(table_clear),
    T(table_lock_monotonic),
    T(find_no_table),
    T(find_looked_up),
    T(find_miss_hit),
    T(find_uncached),
    T(find_too_large),
    T(find_error),
    T(find_changed),
    T(find_settle_rule),
    T(find_proc_status),
    T(find_cancelled),
    T(find_cancel_waited),
    T(find_busy_and_takeover),
    T(find_pending_other_clock),
    T(single_flight_processes),
    T(single_flight_threads),
    T(stress_processes),
    T(stress_threads),
    T(stress_kill_writers),
};

static const char *current_test;

static void on_alarm(int sig)
{
    static const char msg[] = "\ntest_validators: TIMEOUT in test ";
    (void)sig;
    if (write(2, msg, sizeof(msg) - 1) < 0
        || write(2, current_test, strlen(current_test)) < 0
        || write(2, "\n", 1) < 0) {
        /* nothing more to do */
    }
    _exit(3);
}

static int env_flag(const char *name)
{
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

int main(int argc, char **argv)
{
    const char *filters[32];
    int nfilters = 0, i, list = 0;
    int passed = 0, failed = 0, xfailed = 0, xpassed = 0, bugs_failed = 0;
    const char *tmp = getenv("TMPDIR");
    double start = mono_sec();

    if (apr_initialize() != APR_SUCCESS) {
        fprintf(stderr, "test_validators: apr_initialize failed\n");
        return 2;
    }
    atexit(apr_terminate);
    opt_quick = env_flag("UNIT_QUICK");
    opt_xfail_bugs = env_flag("UNIT_XFAIL_BUGS");
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            opt_quick = 1;
        }
        else if (strcmp(argv[i], "--xfail-bugs") == 0) {
            opt_xfail_bugs = 1;
        }
        else if (strcmp(argv[i], "--list") == 0) {
            list = 1;
        }
        else if (strcmp(argv[i], "-k") == 0 && i + 1 < argc && nfilters < 32) {
            filters[nfilters++] = argv[++i];
        }
        else {
            fprintf(stderr, "usage: %s [--quick] [--xfail-bugs] [--list] "
                    "[-k SUBSTRING]...\n", argv[0]);
            return 2;
        }
    }
    if (list) {
        for (i = 0; i < (int)(sizeof(tests) / sizeof(tests[0])); i++) {
            printf("%s\n", tests[i].name);
        }
        return 0;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGALRM, on_alarm);

    snprintf(tmpdir, sizeof(tmpdir), "%s/cc-unit-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    if (fixture_create() != 0) {
        perror("creating test files");
        return 2;
    }
    printf("test_validators: %s mode, files in %s\n",
           opt_quick ? "quick" : "full", tmpdir);

    for (i = 0; i < (int)(sizeof(tests) / sizeof(tests[0])); i++) {
        const struct test *tc = &tests[i];
        int selected = nfilters == 0, f, is_bug;
        double t0;

        for (f = 0; f < nfilters; f++) {
            if (strstr(tc->name, filters[f])) {
                selected = 1;
            }
        }
        if (!selected) {
            continue;
        }
        is_bug = strncmp(tc->name, "bug_", 4) == 0;
        printf("[ RUN      ] %s\n", tc->name);
        t_failures = 0;
        t0 = mono_sec();
        current_test = tc->name;
        alarm(opt_quick ? 300 : 120);           /* a hung test ends the run */
        tc->fn();
        alarm(0);
        if (t_failures == 0) {
            if (is_bug) {
                printf("[   XPASS  ] %s: the bug looks fixed; rename the test "
                       "(drop bug_)\n", tc->name);
                xpassed++;
            }
            else {
                printf("[       OK ] %s (%.2f s)\n", tc->name, mono_sec() - t0);
                passed++;
            }
        }
        else if (is_bug) {
            bugs_failed++;
            if (opt_xfail_bugs) {
                printf("[   XFAIL  ] %s: known bug in validators.c\n", tc->name);
                xfailed++;
            }
            else {
                printf("[  FAILED  ] %s: known bug in validators.c "
                       "(--xfail-bugs to tolerate)\n", tc->name);
                failed++;
            }
        }
        else {
            printf("[  FAILED  ] %s (%d checks)\n", tc->name, t_failures);
            failed++;
        }
    }
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    printf("test_validators: %d passed, %d failed, %d xfail, %d xpass "
           "in %.1f s\n", passed, failed, xfailed, xpassed, mono_sec() - start);
    (void)bugs_failed;
    return failed ? 1 : 0;
}
