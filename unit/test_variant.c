/* unit/test_variant.c: unit tests of cc_variant.c, which decides whether
 * a precompressed sidecar is its original compressed, and remembers it in
 * the table.
 *
 * Owns: the variant key (the sidecar's key with its device marked, one
 * per coding, never a file's); SAME for a sidecar made by gzip, brotli
 * and zstd from the original, decided by decoding once (counted: checked,
 * bytes decoded) and then by a lookup alone, with no descriptor and no
 * decoding; OTHER for the same sidecar against another original (no
 * decoding: the remembered digest differs), for a corrupt, truncated or
 * foreign sidecar (decided once, counted rejected, remembered: the next
 * lookup says OTHER without the file) and for a decompression bomb
 * (stopped at the original's size); NEED_FILE for a sidecar never seen;
 * UNKNOWN for one bigger than max_decode (nothing read, nothing stored)
 * and for a size that is not the file's; a sidecar changed too recently
 * is decided but not remembered; no table at all works (nothing stored).
 *
 * Linked with cc_variant.c, cc_decode.c, cc_table.c and cc_digest.c, APR,
 * libcrypto, libxxhash, zlib, libbrotlidec and libzstd.  The sidecars come
 * from Debian's gzip, brotli and zstd commands.  The framework (CHECK,
 * T(), --quick, -k) is unit_test.h.
 */
#define _GNU_SOURCE 1

#include "cc_variant.h"
#include "unit_test.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define ORIG      "orig.css"
#define OTHER     "other.css"
#define GARBAGE   "garbage.css.gz"
#define TRUNC     "orig.css.trunc.br"
#define BOMB      "bomb.css.gz"
#define ORIG_LEN  (200 * 1024)

static const struct {
    cc_decode_e coding;
    const char *ext;
    const char *cmd;       /* %s: the file, writes %s.ext beside it */
} makers[] = {
    { CC_DECODE_GZIP, ".gz",  "gzip -n -k -f '%s'" },
    { CC_DECODE_BR,   ".br",  "brotli -k -f '%s'" },
    { CC_DECODE_ZSTD, ".zst", "zstd -q -k -f '%s'" },
};
#define N_MAKERS 3

static int run(const char *fmt, const char *name)
{
    char path[512], cmd[1024];

    tmp_path(path, sizeof(path), name);
    snprintf(cmd, sizeof(cmd), fmt, path);
    return system(cmd) == 0 ? 0 : -1;
}

/* A table in shared memory of its own. */
typedef struct {
    void       *mem;
    apr_size_t  bytes;
} tmem_t;

static cc_table_t *table_new(tmem_t *m)
{
    m->bytes = cc_table_bytes(256);
    m->mem = shared_alloc(m->bytes);
    return m->mem ? cc_table_create(m->mem, m->bytes, 256) : NULL;
}

static void table_free(tmem_t *m)
{
    munmap(m->mem, m->bytes);
}

static cc_table_stats_t stats(cc_table_t *t)
{
    cc_table_stats_t st;

    cc_table_stats(t, &st);
    return st;
}

/* The digest and size of a file, and its key from an open descriptor. */
static int file_digest(const char *name, cc_algo_e algo, cc_digest_t *d,
                       apr_int64_t *size)
{
    int fd = open_tmp(name, O_RDONLY);
    cc_file_key_t k;
    apr_uint64_t bytes = 0;
    int ok;

    if (fd < 0) {
        return -1;
    }
    ok = cc_file_key_from_fd(fd, &k) == APR_SUCCESS
        && cc_digest_fd(fd, k.size, algo, d, &bytes, NULL) == APR_SUCCESS;
    close(fd);
    *size = k.size;
    return ok ? 0 : -1;
}

static int open_key(const char *name, cc_file_key_t *k)
{
    int fd = open_tmp(name, O_RDONLY);

    if (fd >= 0 && cc_file_key_from_fd(fd, k) != APR_SUCCESS) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Files made once; then one wait so that every ctime is settled. */
static int setup(void)
{
    unsigned char *buf = malloc(ORIG_LEN);
    size_t i;
    int rc = 0;

    if (!buf) {
        return -1;
    }
    for (i = 0; i < ORIG_LEN; i++) {        /* compressible text */
        buf[i] = (unsigned char)("abcdefgh {};\n"[(i * 7 + i / 97) % 13]);
    }
    rc |= make_file(ORIG, buf, ORIG_LEN);
    buf[ORIG_LEN / 2] ^= 1;
    rc |= make_file(OTHER, buf, ORIG_LEN);
    for (i = 0; i < N_MAKERS; i++) {
        rc |= run(makers[i].cmd, ORIG);
    }
    fill_pattern(buf, 4096, 7);
    rc |= make_file(GARBAGE, buf, 4096);
    rc |= run("brotli -c '%1$s' > '%1$s.whole.br' && head -c \"$(( $(stat "
              "-c %%s '%1$s.whole.br') / 2 ))\" '%1$s.whole.br' "
              "> '%1$s.trunc.br'", ORIG);
    rc |= run("head -c 67108864 /dev/zero | gzip -n > '%s'", BOMB);
    free(buf);
    sleep_ms(1100);                         /* settled: kept in the table */
    return rc ? -1 : 0;
}

static void sidecar_name(char *out, size_t n, int i)
{
    snprintf(out, n, "%s%s", ORIG, makers[i].ext);
}

static void test_variant_key(void)
{
    cc_file_key_t k = { 0x801, 12345, 100, 7, 8 }, v1, v2, v3;

    cc_variant_key(&k, CC_DECODE_GZIP, &v1);
    cc_variant_key(&k, CC_DECODE_BR, &v2);
    cc_variant_key(&k, CC_DECODE_ZSTD, &v3);
    CHECK(!cc_file_key_equal(&k, &v1));
    CHECK(!cc_file_key_equal(&v1, &v2) && !cc_file_key_equal(&v2, &v3));
    CHECK(v1.ino == k.ino && v1.size == k.size && v1.mtime == k.mtime
          && v1.ctime == k.ctime);
    /* the mark is in the top byte, where device numbers never reach */
    CHECK((v1.dev >> 56) != 0 && (k.dev >> 56) == 0);
}

/* Each coding: decided by decoding once, then by the table alone. */
static void test_same_once_then_lookup(void)
{
    tmem_t m;
    cc_table_t *t = table_new(&m);
    cc_digest_t d;
    apr_int64_t size;
    int i;

    REQUIRE(t && file_digest(ORIG, CC_ALGO_SHA1, &d, &size) == 0);
    for (i = 0; i < N_MAKERS; i++) {
        char name[64];
        cc_file_key_t k;
        cc_table_stats_t before, mid, after;
        apr_status_t err;
        int decided, fd;

        sidecar_name(name, sizeof(name), i);
        fd = open_key(name, &k);
        REQUIRE(fd >= 0);
        before = stats(t);
        CHECK_INT(cc_variant_check(t, -1, &k, makers[i].coding, &d, size,
                                   INT64_MAX, 0, &decided, &err),
                  CC_VARIANT_NEED_FILE);
        CHECK_INT(cc_variant_check(t, fd, &k, makers[i].coding, &d, size,
                                   INT64_MAX, 0, &decided, &err),
                  CC_VARIANT_SAME);
        CHECK_INT(decided, 1);
        mid = stats(t);
        CHECK_U64(mid.variants_checked - before.variants_checked, 1);
        CHECK_U64(mid.bytes_decoded - before.bytes_decoded,
                  (apr_uint64_t)k.size);
        CHECK_U64(mid.variants_rejected - before.variants_rejected, 0);
        /* now known: no descriptor, nothing decoded */
        CHECK_INT(cc_variant_check(t, -1, &k, makers[i].coding, &d, size,
                                   INT64_MAX, 0, &decided, &err),
                  CC_VARIANT_SAME);
        CHECK_INT(decided, 0);
        CHECK_INT(cc_variant_check(t, fd, &k, makers[i].coding, &d, size,
                                   INT64_MAX, 0, &decided, &err),
                  CC_VARIANT_SAME);
        after = stats(t);
        CHECK_U64(after.bytes_decoded, mid.bytes_decoded);
        CHECK_U64(after.variants_checked, mid.variants_checked);
        close(fd);
    }
    table_free(&m);
}

/* A sidecar known to decode to the original is not another file's: the
 * remembered digest differs, and nothing is decoded. */
static void test_other_original(void)
{
    tmem_t m;
    cc_table_t *t = table_new(&m);
    cc_digest_t d, d_other;
    apr_int64_t size, size_other;
    cc_file_key_t k;
    apr_status_t err;
    int decided, fd;
    cc_table_stats_t before;

    REQUIRE(t && file_digest(ORIG, CC_ALGO_XXH128, &d, &size) == 0);
    REQUIRE(file_digest(OTHER, CC_ALGO_XXH128, &d_other, &size_other) == 0);
    fd = open_key(ORIG ".br", &k);
    REQUIRE(fd >= 0);
    CHECK_INT(cc_variant_check(t, fd, &k, CC_DECODE_BR, &d, size, INT64_MAX,
                               0, &decided, &err), CC_VARIANT_SAME);
    before = stats(t);
    CHECK_INT(cc_variant_check(t, -1, &k, CC_DECODE_BR, &d_other, size_other,
                               INT64_MAX, 0, &decided, &err),
              CC_VARIANT_OTHER);
    CHECK_INT(decided, 1);                      /* stale: said once */
    CHECK_U64(stats(t).variants_rejected - before.variants_rejected, 1);
    CHECK_INT(cc_variant_check(t, -1, &k, CC_DECODE_BR, &d_other, size_other,
                               INT64_MAX, 0, &decided, &err),
              CC_VARIANT_OTHER);
    CHECK_INT(decided, 0);
    CHECK_U64(stats(t).variants_rejected - before.variants_rejected, 1);
    CHECK_U64(stats(t).bytes_decoded, before.bytes_decoded);
    /* the wrong coding for the bytes: decided, rejected */
    CHECK_INT(cc_variant_check(t, fd, &k, CC_DECODE_GZIP, &d, size,
                               INT64_MAX, 0, &decided, &err),
              CC_VARIANT_OTHER);
    CHECK_INT(decided, 1);
    close(fd);
    table_free(&m);
}

/* Corrupt, truncated and bomb sidecars: OTHER once decoded, then OTHER by
 * lookup, without the file. */
static void test_bad_sidecars_remembered(void)
{
    static const struct {
        const char *name;
        cc_decode_e coding;
    } bad[] = {
        { GARBAGE, CC_DECODE_GZIP },
        { TRUNC, CC_DECODE_BR },
        { BOMB, CC_DECODE_GZIP },
    };
    tmem_t m;
    cc_table_t *t = table_new(&m);
    cc_digest_t d;
    apr_int64_t size;
    size_t i;

    REQUIRE(t && file_digest(ORIG, CC_ALGO_SHA256, &d, &size) == 0);
    for (i = 0; i < UNIT_COUNT(bad); i++) {
        cc_file_key_t k;
        cc_table_stats_t before = stats(t), after;
        apr_status_t err;
        int decided, fd = open_key(bad[i].name, &k);
        double t0 = mono_sec();

        REQUIRE(fd >= 0);
        CHECK_INT(cc_variant_check(t, fd, &k, bad[i].coding, &d, size,
                                   INT64_MAX, 0, &decided, &err),
                  CC_VARIANT_OTHER);
        CHECK_INT(decided, 1);
        after = stats(t);
        CHECK_U64(after.variants_rejected - before.variants_rejected, 1);
        /* a bomb stops at the original's size: what it read is bounded
         * by the sidecar, its work by the original */
        CHECK(after.bytes_decoded - before.bytes_decoded
              <= (apr_uint64_t)k.size);
        notef("%s: %.3f s", bad[i].name, mono_sec() - t0);
        CHECK_INT(cc_variant_check(t, -1, &k, bad[i].coding, &d, size,
                                   INT64_MAX, 0, &decided, &err),
                  CC_VARIANT_OTHER);
        CHECK_INT(decided, 0);
        close(fd);
    }
    table_free(&m);
}

/* Bigger than max_decode: not read, not stored.  A size that is not the
 * file's: not decided. */
static void test_unknown(void)
{
    tmem_t m;
    cc_table_t *t = table_new(&m);
    cc_digest_t d;
    apr_int64_t size;
    cc_file_key_t k, wrong;
    apr_status_t err;
    int decided, fd;

    REQUIRE(t && file_digest(ORIG, CC_ALGO_SHA1, &d, &size) == 0);
    fd = open_key(ORIG ".zst", &k);
    REQUIRE(fd >= 0);
    CHECK_INT(cc_variant_check(t, fd, &k, CC_DECODE_ZSTD, &d, size,
                               k.size - 1, 0, &decided, &err),
              CC_VARIANT_UNKNOWN);
    CHECK_U64(stats(t).bytes_decoded, 0);
    CHECK_INT(cc_variant_check(t, -1, &k, CC_DECODE_ZSTD, &d, size,
                               INT64_MAX, 0, &decided, &err),
              CC_VARIANT_NEED_FILE);
    wrong = k;
    wrong.size = k.size + 1;
    CHECK_INT(cc_variant_check(t, fd, &wrong, CC_DECODE_ZSTD, &d, size,
                               INT64_MAX, 0, &decided, &err),
              CC_VARIANT_UNKNOWN);
    CHECK_INT(decided, 0);
    CHECK_INT(cc_variant_check(t, -1, &k, CC_DECODE_ZSTD, &d, size,
                               INT64_MAX, 0, &decided, &err),
              CC_VARIANT_NEED_FILE);
    close(fd);
    table_free(&m);
}

/* A sidecar written just now is decided but not remembered; no table at
 * all decides every time. */
static void test_fresh_and_no_table(void)
{
    tmem_t m;
    cc_table_t *t = table_new(&m);
    cc_digest_t d;
    apr_int64_t size;
    cc_file_key_t k;
    apr_status_t err;
    int decided, fd;

    REQUIRE(t && file_digest(ORIG, CC_ALGO_SHA1, &d, &size) == 0);
    REQUIRE(run("gzip -n -c '%1$s' > '%1$s.fresh.gz'", ORIG) == 0);
    fd = open_key(ORIG ".fresh.gz", &k);
    REQUIRE(fd >= 0);
    CHECK_INT(cc_variant_check(t, fd, &k, CC_DECODE_GZIP, &d, size,
                               INT64_MAX, 0, &decided, &err),
              CC_VARIANT_SAME);
    CHECK_INT(decided, 1);
    CHECK_INT(cc_variant_check(t, -1, &k, CC_DECODE_GZIP, &d, size,
                               INT64_MAX, 0, &decided, &err),
              CC_VARIANT_NEED_FILE);
    CHECK_INT(cc_variant_check(NULL, fd, &k, CC_DECODE_GZIP, &d, size,
                               INT64_MAX, 0, &decided, &err),
              CC_VARIANT_SAME);
    CHECK_INT(cc_variant_check(NULL, -1, &k, CC_DECODE_GZIP, &d, size,
                               INT64_MAX, 0, &decided, &err),
              CC_VARIANT_NEED_FILE);
    close(fd);
    table_free(&m);
}

static const struct unit_test tests[] = {
    T(variant_key),
    T(same_once_then_lookup),
    T(other_original),
    T(bad_sidecars_remembered),
    T(unknown),
    T(fresh_and_no_table),
};

int main(int argc, char **argv)
{
    static const struct unit_suite suite = {
        "test_variant", "cc_variant.c", tests, UNIT_COUNT(tests), setup
    };
    return unit_main(argc, argv, &suite);
}
