/* unit/test_decode.c: unit tests of cc_decode.c, the core unit that
 * decodes a precompressed sidecar (F.gz, F.br, F.zst) and hashes what it
 * decodes to.
 *
 * Owns: cc_decode_digest() on real sidecars made at test time by Debian's
 * gzip, brotli and zstd commands (levels, windows, with and without a
 * stored name, from a file and from a pipe: no content size in the zstd
 * frame) against cc_digest_fd() of the original, for SHA-1, XXH3-128 and
 * SHA-256 (every algorithm once), at sizes around the unit's 256 KiB read
 * and output blocks; the empty original; a second gzip member or zstd
 * frame after the first (an empty member, a skippable frame, a member
 * boundary in the middle of a read block: CORRUPT, as some clients read
 * only the first), two brotli streams (not one stream: CORRUPT); truncated sidecars at many cut points (CORRUPT), a
 * cut exactly between two members (the first one's content); one changed
 * byte at many places (never DECODED unless the reference command decodes
 * the same bytes to the same output; with gzip's CRC-32 and zstd's
 * checksum, DECODED only to the original); trailing bytes after a valid
 * stream (CORRUPT); decompression bombs (1 GiB of zeros, quick: 64 MiB)
 * against a small max_out (TOO_LONG, bytes read bounded; the time is
 * noted, never asserted); max_out exactly at the output's length and one
 * below; a size that is not the file's (CHANGED); foreign files: random
 * bytes, an empty file, text, a sidecar of another coding (CORRUPT);
 * argument and read errors (a closed descriptor, a directory, a pipe, a
 * write-only descriptor: ERROR with *err); *bytes_read added to, *out_len
 * left alone unless DECODED, and the descriptor's offset untouched after
 * every call.
 *
 * Linked with cc_decode.c and cc_digest.c, APR, libcrypto, libxxhash,
 * zlib, libbrotlidec and libzstd; no encoder library: the sidecars come
 * from the commands (gzip -n, brotli, zstd), run with system(), which also
 * serve as the reference decoders.  The framework (CHECK, T(), --quick,
 * -k) is unit_test.h.
 */
#define _GNU_SOURCE 1

#include "cc_decode.h"
#include "unit_test.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The algorithms of the round trips: one of each family. */
static const cc_algo_e test_algos[] = {
    CC_ALGO_SHA1, CC_ALGO_XXH128, CC_ALGO_SHA256
};
#define N_TEST_ALGOS 3

static const cc_decode_e codings[] = {
    CC_DECODE_GZIP, CC_DECODE_BR, CC_DECODE_ZSTD
};
#define N_CODINGS 3

/* The unit's read block and output block (both 256 KiB). */
#define BLOCK ((size_t)CC_READ_BLOCK)

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

static const char *ext_of(cc_decode_e c)
{
    return c == CC_DECODE_GZIP ? "gz" : c == CC_DECODE_BR ? "br" : "zst";
}

/* The coding a sidecar's name ends in (ext_of()'s), or 0 for none. */
static cc_decode_e coding_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    int c;

    for (c = 0; dot && c < N_CODINGS; c++) {
        if (strcmp(dot + 1, ext_of(codings[c])) == 0) {
            return codings[c];
        }
    }
    return (cc_decode_e)0;
}

static const char *result_name(cc_decode_result_e r)
{
    switch (r) {
    case CC_DECODED:         return "DECODED";
    case CC_DECODE_CORRUPT:  return "CORRUPT";
    case CC_DECODE_TOO_LONG: return "TOO_LONG";
    case CC_DECODE_CHANGED:  return "CHANGED";
    case CC_DECODE_ERROR:    return "ERROR";
    }
    return "?";
}

/* The reference decoder's command line, reading stdin. */
static const char *ref_decoder(cc_decode_e c)
{
    return c == CC_DECODE_GZIP ? "gzip -dc" : c == CC_DECODE_BR ? "brotli -dc"
                                            : "zstd -dcq";
}

/* Runs `cd tmpdir && COMMAND` with sh; 0 when it exits with 0. */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[2048];
    int n, st;
    va_list ap;

    n = snprintf(cmd, sizeof(cmd), "cd '%s' && ", tmpdir);
    va_start(ap, fmt);
    vsnprintf(cmd + n, sizeof(cmd) - (size_t)n, fmt, ap);
    va_end(ap);
    fflush(stdout);
    st = system(cmd);
    return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int64_t size_of(const char *name)
{
    char path[512];
    struct stat st;

    tmp_path(path, sizeof(path), name);
    return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

/* The whole of tmpdir/name in a malloc'ed buffer (*len bytes), or NULL. */
static unsigned char *slurp(const char *name, size_t *len)
{
    int64_t n = size_of(name);
    unsigned char *buf;
    int fd;

    if (n < 0 || (fd = open_tmp(name, O_RDONLY)) < 0) {
        return NULL;
    }
    buf = malloc((size_t)n + 1);
    if (buf && pread(fd, buf, (size_t)n, 0) != (ssize_t)n) {
        free(buf);
        buf = NULL;
    }
    close(fd);
    *len = (size_t)n;
    return buf;
}

/* Appends `len` bytes to tmpdir/name (created if need be). */
static int append_file(const char *name, const void *data, size_t len)
{
    int fd = open_tmp(name, O_WRONLY | O_CREAT | O_APPEND), rc;

    if (fd < 0) {
        return -1;
    }
    rc = write_all(fd, data, len);
    close(fd);
    return rc;
}

/* The digest and length of a plain file, as cc_digest_fd() makes them. */
static int plain_digest(const char *name, cc_algo_e algo, cc_digest_t *d,
                        uint64_t *len)
{
    int64_t n = size_of(name);
    int fd = open_tmp(name, O_RDONLY);
    apr_status_t rv;

    if (fd < 0 || n < 0) {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    rv = cc_digest_fd(fd, n, algo, d, NULL, NULL);
    close(fd);
    *len = (uint64_t)n;
    return rv == APR_SUCCESS ? 0 : -1;
}

/* One call of the unit on an open descriptor, with the checks that hold
 * for every call: the offset is untouched, *bytes_read grows by at most
 * `size`, *out_len is set only when DECODED (then the digest has `algo`
 * and the length is at most max_out), *err is set exactly for ERROR. */
static cc_decode_result_e decode_fd(const char *file, int line, int fd,
                                    int64_t size, cc_decode_e coding,
                                    int64_t max_out, cc_algo_e algo,
                                    cc_digest_t *out, uint64_t *out_len,
                                    uint64_t *bytes_read, apr_status_t *err)
{
    const uint64_t sentinel = UINT64_C(0x5eed5eed5eed5eed);
    off_t before = fd >= 0 ? lseek(fd, 0, SEEK_CUR) : -1, after;
    apr_uint64_t got_len = sentinel, br = 1000;
    apr_status_t e = 12345;
    cc_decode_result_e r;

    memset(out, 0xa5, sizeof(*out));
    r = cc_decode_digest(fd, size, coding, max_out, algo, out, &got_len, &br,
                         &e);
    after = fd >= 0 ? lseek(fd, 0, SEEK_CUR) : -1;
    if (before != after) {
        failf(file, line, "offset moved: %lld -> %lld", (long long)before,
              (long long)after);
    }
    if (br < 1000 || (size >= 0 && br - 1000 > (uint64_t)size)) {
        failf(file, line, "bytes_read grew by %llu for a size of %lld",
              (unsigned long long)(br - 1000), (long long)size);
    }
    if (r == CC_DECODED) {
        if (got_len == sentinel || (int64_t)got_len > max_out) {
            failf(file, line, "DECODED with out_len %llu, max_out %lld",
                  (unsigned long long)got_len, (long long)max_out);
        }
        if (out->algo != algo) {
            failf(file, line, "digest of algo %d, want %d", (int)out->algo,
                  (int)algo);
        }
    }
    else if (got_len != sentinel) {
        failf(file, line, "%s wrote *out_len", result_name(r));
    }
    if ((r == CC_DECODE_ERROR) != (e != APR_SUCCESS)) {
        failf(file, line, "%s with *err %d", result_name(r), (int)e);
    }
    if ((int)r < CC_DECODED || r > CC_DECODE_ERROR) {
        failf(file, line, "unknown result %d", (int)r);
    }
    if (out_len) {
        *out_len = got_len;
    }
    if (bytes_read) {
        *bytes_read = br - 1000;
    }
    if (err) {
        *err = e;
    }
    return r;
}

/* decode_fd() of tmpdir/name with its own size. */
static cc_decode_result_e decode_named(const char *file, int line,
                                       const char *name, cc_decode_e coding,
                                       int64_t max_out, cc_algo_e algo,
                                       cc_digest_t *out, uint64_t *out_len,
                                       uint64_t *bytes_read)
{
    int64_t n = size_of(name);
    int fd = open_tmp(name, O_RDONLY);
    cc_decode_result_e r;

    if (fd < 0 || n < 0) {
        failf(file, line, "cannot open %s", name);
        if (fd >= 0) {
            close(fd);
        }
        return CC_DECODE_ERROR;
    }
    lseek(fd, 7, SEEK_SET);             /* not 0: must stay where it is */
    r = decode_fd(file, line, fd, n, coding, max_out, algo, out, out_len,
                  bytes_read, NULL);
    close(fd);
    return r;
}
#define DECODE(name, coding, max_out, algo, out, out_len, bytes_read) \
    decode_named(__FILE__, __LINE__, name, coding, max_out, algo, out, \
                 out_len, bytes_read)

/* Checks that sidecar `side` decodes (coding) to plain file `plain`, for
 * every algorithm of test_algos, reading exactly the sidecar. */
static void check_decodes_to(const char *file, int line, const char *side,
                             cc_decode_e coding, const char *plain)
{
    int a;

    for (a = 0; a < N_TEST_ALGOS; a++) {
        cc_digest_t want, got;
        uint64_t want_len = 0, got_len = 0, br = 0;
        cc_decode_result_e r;

        if (plain_digest(plain, test_algos[a], &want, &want_len) != 0) {
            failf(file, line, "cannot hash %s", plain);
            return;
        }
        r = decode_named(file, line, side, coding,
                         (int64_t)want_len, test_algos[a], &got, &got_len, &br);
        if (r != CC_DECODED) {
            failf(file, line, "%s (%s): %s, want DECODED", side,
                  cc_algo_name(test_algos[a]), result_name(r));
            continue;
        }
        if (got_len != want_len || !digest_eq(&got, &want)) {
            failf(file, line, "%s (%s): %llu bytes, digest %s; want %llu "
                  "bytes of %s", side, cc_algo_name(test_algos[a]),
                  (unsigned long long)got_len,
                  digest_eq(&got, &want) ? "same" : "different",
                  (unsigned long long)want_len, plain);
        }
        if ((int64_t)br != size_of(side)) {
            failf(file, line, "%s: read %llu bytes of %lld", side,
                  (unsigned long long)br, (long long)size_of(side));
        }
    }
}
#define CHECK_DECODES_TO(side, coding, plain) \
    check_decodes_to(__FILE__, __LINE__, side, coding, plain)

/* Checks that tmpdir/name gives `want` (any algorithm, large max_out). */
static void check_result(const char *file, int line, const char *name,
                         cc_decode_e coding, cc_decode_result_e want)
{
    cc_digest_t d;
    cc_decode_result_e r = decode_named(file, line, name, coding,
                                        (int64_t)1 << 40, CC_ALGO_XXH128,
                                        &d, NULL, NULL);
    if (r != want) {
        failf(file, line, "%s as .%s: %s, want %s", name, ext_of(coding),
              result_name(r), result_name(want));
    }
}
#define CHECK_RESULT(name, coding, want) \
    check_result(__FILE__, __LINE__, name, coding, want)

/* ------------------------------------------------------------------ */
/* Fixtures: originals and their sidecars                              */

enum { K_TEXT, K_RANDOM, K_MIXED };

static const struct original {
    const char *name;
    size_t full, quick;               /* bytes */
    int kind;
} originals[] = {
    { "empty",  0, 0, K_TEXT },
    { "one",    1, 1, K_TEXT },
    { "text",   20000, 5000, K_TEXT },
    { "block",  BLOCK, BLOCK, K_TEXT },          /* one output block */
    { "block1", BLOCK + 1, BLOCK + 1, K_MIXED },
    { "random", 600 * 1024, 90 * 1024, K_RANDOM }, /* full: 3 read blocks */
    { "mixed",  1536 * 1024 + 7, 300 * 1024 + 7, K_MIXED },
};
#define N_ORIGINALS (sizeof(originals) / sizeof(originals[0]))

/* How a sidecar is made: a command reading %s (the original) writing
 * stdout; only for originals of at most max bytes (0: any). */
static const struct variant {
    cc_decode_e coding;
    const char *cmd;
    size_t max;
    int quick;                        /* also made in quick mode */
} variants[] = {
    { CC_DECODE_GZIP, "gzip -n -c '%s'", 0, 1 },
    { CC_DECODE_GZIP, "gzip -c '%s'", 0, 0 },      /* name and mtime */
    { CC_DECODE_GZIP, "gzip -n -1 -c '%s'", 0, 0 },
    { CC_DECODE_GZIP, "gzip -n -9 -c '%s'", 0, 0 },
    { CC_DECODE_GZIP, "gzip -n -c < '%s'", 0, 1 },  /* from a pipe */
    { CC_DECODE_BR, "brotli -c '%s'", 64 * 1024, 1 }, /* quality 11 */
    { CC_DECODE_BR, "brotli -c -q 5 '%s'", 0, 1 },
    { CC_DECODE_BR, "brotli -c -q 0 '%s'", 0, 0 },
    { CC_DECODE_BR, "brotli -c -q 9 -w 10 '%s'", 0, 0 }, /* 1 KiB window */
    { CC_DECODE_BR, "brotli -c -q 4 < '%s'", 0, 0 },
    { CC_DECODE_ZSTD, "zstd -q -c '%s'", 0, 1 },
    { CC_DECODE_ZSTD, "zstd -q -c -19 '%s'", 64 * 1024, 0 },
    { CC_DECODE_ZSTD, "zstd -q -c -1 --no-check '%s'", 0, 0 },
    { CC_DECODE_ZSTD, "zstd -q -c < '%s'", 0, 1 },  /* no content size */
    { CC_DECODE_ZSTD, "zstd -q -c -3 -B4096 '%s'", 0, 0 }, /* small jobs */
};
#define N_VARIANTS (sizeof(variants) / sizeof(variants[0]))

static size_t orig_size(const struct original *o)
{
    return opt_quick ? o->quick : o->full;
}

static int variant_applies(const struct variant *v, const struct original *o)
{
    return (!opt_quick || v->quick) && (v->max == 0 || orig_size(o) <= v->max);
}

static void sidecar_name(char *buf, size_t n, const struct original *o,
                         size_t v)
{
    snprintf(buf, n, "%s.v%zu.%s", o->name, v, ext_of(variants[v].coding));
}

static const char *const words[] = {
    "cache", "validator", "entity", "tag", "digest", "sidecar", "brotli",
    "zstd", "gzip", "the", "of", "a", "304", "Not", "Modified", "\n",
    "If-None-Match", "ETag", "<div class=\"x\">", "</div>", "{ margin: 0 }",
};

static void fill_text(unsigned char *buf, size_t len, uint64_t seed)
{
    uint64_t s = mix(seed) | 1;
    size_t i = 0;

    while (i < len) {
        const char *w = words[rnd_next(&s) % (sizeof(words) / sizeof(words[0]))];
        size_t n = strlen(w);

        if (n > len - i) {
            n = len - i;
        }
        memcpy(buf + i, w, n);
        i += n;
        if (i < len) {
            buf[i++] = ' ';
        }
    }
}

static void fill_kind(unsigned char *buf, size_t len, int kind, uint64_t seed)
{
    size_t i;

    if (kind == K_RANDOM) {
        fill_pattern(buf, len, seed);
        return;
    }
    fill_text(buf, len, seed);
    if (kind == K_MIXED) {
        /* runs of random bytes and of zeros inside the text */
        for (i = 0; i + 4096 <= len; i += 65536) {
            fill_pattern(buf + i, 2048, seed + i);
            memset(buf + i + 2048, 0, 2048);
        }
    }
}

static int make_original(const char *name, size_t len, int kind,
                         uint64_t seed)
{
    unsigned char *buf = malloc(len ? len : 1);
    int rc;

    if (!buf) {
        return -1;
    }
    fill_kind(buf, len, kind, seed);
    rc = make_file(name, buf, len);
    free(buf);
    return rc;
}

static int setup(void)
{
    char all[1536];
    size_t o, v;

    if (sh("{ command -v gzip && command -v brotli && command -v zstd; }"
           " >/dev/null") != 0) {
        fprintf(stderr, "test_decode: needs the gzip, brotli and zstd "
                "commands (scripts/install-deps build)\n");
        return -1;
    }
    for (o = 0; o < N_ORIGINALS; o++) {
        const struct original *org = &originals[o];

        if (make_original(org->name, orig_size(org), org->kind, o + 1) != 0) {
            return -1;
        }
        /* one shell per original: its sidecars, one command each */
        all[0] = '\0';
        for (v = 0; v < N_VARIANTS; v++) {
            char side[128], cmd[256];
            size_t used = strlen(all);

            if (!variant_applies(&variants[v], org)) {
                continue;
            }
            sidecar_name(side, sizeof(side), org, v);
            snprintf(cmd, sizeof(cmd), variants[v].cmd, org->name);
            snprintf(all + used, sizeof(all) - used, "%s%s > '%s'",
                     used ? " && " : "", cmd, side);
        }
        if (sh("%s", all) != 0) {
            fprintf(stderr, "test_decode: failed: %s\n", all);
            return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Round trips                                                         */

/* Every sidecar of every original decodes to the original's digest and
 * length, reading exactly the sidecar. */
static void test_roundtrip(void)
{
    size_t o, v;
    int n = 0;

    for (o = 0; o < N_ORIGINALS; o++) {
        for (v = 0; v < N_VARIANTS; v++) {
            char side[128];

            if (!variant_applies(&variants[v], &originals[o])) {
                continue;
            }
            sidecar_name(side, sizeof(side), &originals[o], v);
            CHECK_DECODES_TO(side, variants[v].coding, originals[o].name);
            n++;
        }
    }
    notef("%d sidecars decoded, %d algorithms each", n, N_TEST_ALGOS);
    CHECK(n >= 20);
}

/* Every algorithm there is, once per coding; *bytes_read is added to. */
static void test_roundtrip_every_algo(void)
{
    size_t v;
    int a;

    for (v = 0; v < N_VARIANTS; v++) {
        char side[128];

        if (!variants[v].quick || v % 5 != 0) {
            continue;                   /* the first of each coding */
        }
        sidecar_name(side, sizeof(side), &originals[2], v);
        for (a = 0; a < N_EVERY_ALGO; a++) {
            cc_digest_t want, got;
            uint64_t want_len = 0, got_len = 0;
            apr_uint64_t br = 5;
            apr_status_t err = -1;
            int64_t n = size_of(side);
            int fd = open_tmp(side, O_RDONLY);
            cc_decode_result_e r;

            REQUIRE(fd >= 0);
            REQUIRE(plain_digest("text", every_algo[a], &want, &want_len) == 0);
            r = cc_decode_digest(fd, n, variants[v].coding, (int64_t)want_len,
                                 every_algo[a], &got, &got_len, &br, &err);
            close(fd);
            CHECK_MSG(r == CC_DECODED, "%s %s: %s", side,
                      cc_algo_name(every_algo[a]), result_name(r));
            CHECK_INT(err, APR_SUCCESS);
            CHECK_U64(got_len, want_len);
            CHECK(digest_eq(&got, &want));
            CHECK_U64(br, 5 + (uint64_t)n);
            /* NULL bytes_read is allowed */
            fd = open_tmp(side, O_RDONLY);
            REQUIRE(fd >= 0);
            r = cc_decode_digest(fd, n, variants[v].coding, (int64_t)want_len,
                                 every_algo[a], &got, &got_len, NULL, &err);
            close(fd);
            CHECK(r == CC_DECODED && digest_eq(&got, &want));
        }
    }
}

/* The empty original: every coding has a stream of no bytes. */
static void test_empty_original(void)
{
    static const unsigned char br_empty[] = { 0x06 };  /* WBITS 16, last,
                                                           empty */
    cc_digest_t want, got;
    uint64_t len = 99;
    int c;

    REQUIRE(sh("gzip -n -c empty > e.gz && brotli -c empty > e.br"
               " && zstd -q -c empty > e.zst") == 0);
    cc_digest_buffer("", 0, CC_ALGO_SHA256, &want);
    for (c = 0; c < N_CODINGS; c++) {
        char name[32];

        snprintf(name, sizeof(name), "e.%s", ext_of(codings[c]));
        CHECK_DECODES_TO(name, codings[c], "empty");
        /* max_out 0 is enough for nothing */
        CHECK_INT(DECODE(name, codings[c], 0, CC_ALGO_SHA256, &got, &len,
                         NULL), CC_DECODED);
        CHECK_U64(len, 0);
        CHECK(digest_eq(&got, &want));
    }
    /* a hand-made one-byte brotli stream */
    REQUIRE(make_file("e1.br", br_empty, 1) == 0);
    CHECK_INT(DECODE("e1.br", CC_DECODE_BR, 0, CC_ALGO_SHA256, &got, &len,
                     NULL), CC_DECODED);
    CHECK(len == 0 && digest_eq(&got, &want));
}

/* One gzip member, one zstd frame: RFC 1952 and RFC 8878 let more follow
 * (cat a.gz b.gz; gzip a b > c; cat a.zst b.zst), but clients differ
 * (Chromium decodes the first gzip member and drops the rest), so a
 * sidecar of several is not the original for every client: CORRUPT.  The
 * first member alone, cut exactly there, is fine (test_cut_between_...). */
static void test_gzip_multi_member(void)
{
    REQUIRE(sh("gzip -n -c text > mm.gz && gzip -n -c one >> mm.gz") == 0);
    CHECK_RESULT("mm.gz", CC_DECODE_GZIP, CC_DECODE_CORRUPT);
    /* gzip writes one member per file */
    REQUIRE(sh("gzip -n -c text one > mm2.gz") == 0);
    CHECK_RESULT("mm2.gz", CC_DECODE_GZIP, CC_DECODE_CORRUPT);
    /* members across read blocks: random data does not compress, so the
     * boundary falls inside the unit's second read */
    REQUIRE(sh("gzip -n -c random > mm3.gz && gzip -n -c text >> mm3.gz")
            == 0);
    CHECK_RESULT("mm3.gz", CC_DECODE_GZIP, CC_DECODE_CORRUPT);
    /* even an empty second member */
    REQUIRE(sh("gzip -n -c text > mm4.gz && gzip -n -c empty >> mm4.gz")
            == 0);
    CHECK_RESULT("mm4.gz", CC_DECODE_GZIP, CC_DECODE_CORRUPT);
    /* and one member of a big file stays fine */
    REQUIRE(sh("gzip -n -c random > mm5.gz") == 0);
    CHECK_DECODES_TO("mm5.gz", CC_DECODE_GZIP, "random");
}

/* Skippable frames (RFC 8878 3.1.2: magic 0x184D2A5?, a 4-byte length,
 * that many bytes) count as frames: one frame in all. */
static void test_zstd_multi_frame(void)
{
    static const unsigned char skip[] = {
        0x50, 0x2a, 0x4d, 0x18, 5, 0, 0, 0, 'h', 'e', 'l', 'l', 'o'
    };

    REQUIRE(sh("zstd -q -c text > mf.zst && zstd -q -c one >> mf.zst") == 0);
    CHECK_RESULT("mf.zst", CC_DECODE_ZSTD, CC_DECODE_CORRUPT);
    REQUIRE(sh("zstd -q -c random > mf3.zst && zstd -q -c text >> mf3.zst")
            == 0);
    CHECK_RESULT("mf3.zst", CC_DECODE_ZSTD, CC_DECODE_CORRUPT);
    REQUIRE(sh("zstd -q -c text > mf4.zst") == 0);
    REQUIRE(append_file("mf4.zst", skip, sizeof(skip)) == 0);
    CHECK_RESULT("mf4.zst", CC_DECODE_ZSTD, CC_DECODE_CORRUPT);
    /* only a skippable frame: no content */
    REQUIRE(make_file("sk0.zst", skip, sizeof(skip)) == 0);
    CHECK_DECODES_TO("sk0.zst", CC_DECODE_ZSTD, "empty");
    /* a skippable frame cut short */
    REQUIRE(make_file("sk1.zst", skip, sizeof(skip) - 1) == 0);
    CHECK_RESULT("sk1.zst", CC_DECODE_ZSTD, CC_DECODE_CORRUPT);
}

/* A brotli stream has no successor: two streams are one stream and
 * trailing bytes. */
static void test_br_concatenated(void)
{
    REQUIRE(sh("brotli -c -q 5 text > bb.br && brotli -c -q 5 one >> bb.br")
            == 0);
    CHECK_RESULT("bb.br", CC_DECODE_BR, CC_DECODE_CORRUPT);
    REQUIRE(sh("brotli -c empty > bb0.br && brotli -c empty >> bb0.br") == 0);
    CHECK_RESULT("bb0.br", CC_DECODE_BR, CC_DECODE_CORRUPT);
}

/* ------------------------------------------------------------------ */
/* Damaged sidecars                                                    */

/* Cut points of a sidecar of n bytes: every one of the first and last
 * 40, around the read block, and `spread` more in between. */
static size_t cut_points(size_t n, size_t *cuts, size_t max, size_t spread)
{
    size_t k = 0, i;

#define ADD(x) do { if ((x) < n && k < max) cuts[k++] = (x); } while (0)
    for (i = 0; i < 40 && i < n; i++) {
        ADD(i);
    }
    for (i = n > 40 ? n - 40 : 0; i < n; i++) {
        if (i >= 40) {
            ADD(i);
        }
    }
    ADD(BLOCK - 1);
    ADD(BLOCK);
    ADD(BLOCK + 1);
    ADD(2 * BLOCK);
    for (i = 1; i <= spread; i++) {
        size_t x = n * i / (spread + 1);
        if (x >= 40 && x + 40 < n) {
            ADD(x);
        }
    }
#undef ADD
    return k;
}

/* Every strict prefix of a single stream is CORRUPT (never DECODED). */
static void test_truncated(void)
{
    static const char *const sides[] = {
        "text.v0.gz", "text.v5.br", "text.v6.br", "text.v10.zst",
        "text.v13.zst", "random.v0.gz", "random.v6.br", "random.v10.zst",
        "one.v0.gz", "one.v5.br", "one.v10.zst", "empty.v0.gz",
        "empty.v5.br", "empty.v10.zst",
    };
    size_t s, total = 0;

    for (s = 0; s < sizeof(sides) / sizeof(sides[0]); s++) {
        size_t len = 0, cuts[256], k, i;
        unsigned char *data = slurp(sides[s], &len);
        cc_decode_e side_coding = coding_of(sides[s]);
        int fd;

        REQUIRE(data);
        k = cut_points(len, cuts, 256, opt_quick ? 16 : 120);
        fd = open_tmp("cut", O_RDWR | O_CREAT | O_TRUNC);
        REQUIRE(fd >= 0);
        for (i = 0; i < k; i++) {
            cc_digest_t d;
            cc_decode_result_e r;

            REQUIRE(ftruncate(fd, 0) == 0);
            REQUIRE(pwrite(fd, data, cuts[i], 0) == (ssize_t)cuts[i]);
            r = decode_fd(__FILE__, __LINE__, fd, (int64_t)cuts[i],
                          side_coding, (int64_t)1 << 40, CC_ALGO_SHA1, &d,
                          NULL, NULL, NULL);
            CHECK_MSG(r == CC_DECODE_CORRUPT, "%s cut at %zu of %zu: %s",
                      sides[s], cuts[i], len, result_name(r));
            total++;
        }
        close(fd);
        free(data);
    }
    notef("%zu cut points", total);
}

/* A cut between two gzip members or zstd frames leaves a valid sidecar:
 * that of the members before the cut. */
static void test_cut_between_members(void)
{
    int64_t n;

    REQUIRE(sh("gzip -n -c text > cm.gz") == 0);
    n = size_of("cm.gz");
    REQUIRE(sh("gzip -n -c one >> cm.gz && head -c %lld cm.gz > cm1.gz",
               (long long)n) == 0);
    CHECK_DECODES_TO("cm1.gz", CC_DECODE_GZIP, "text");
    REQUIRE(sh("head -c %lld cm.gz > cm2.gz", (long long)n + 1) == 0);
    CHECK_RESULT("cm2.gz", CC_DECODE_GZIP, CC_DECODE_CORRUPT);
    REQUIRE(sh("zstd -q -c text > cm.zst") == 0);
    n = size_of("cm.zst");
    REQUIRE(sh("zstd -q -c one >> cm.zst && head -c %lld cm.zst > cm1.zst",
               (long long)n) == 0);
    CHECK_DECODES_TO("cm1.zst", CC_DECODE_ZSTD, "text");
    REQUIRE(sh("head -c %lld cm.zst > cm2.zst", (long long)n + 3) == 0);
    CHECK_RESULT("cm2.zst", CC_DECODE_ZSTD, CC_DECODE_CORRUPT);
}

/* What the reference command makes of tmpdir/name: 0 and the digest of
 * its output if it decodes it without complaint, -1 if not. */
static int ref_decode(const char *name, cc_decode_e coding, cc_algo_e algo,
                      cc_digest_t *d, uint64_t *len)
{
    if (sh("%s < '%s' > ref.out 2>/dev/null", ref_decoder(coding), name) != 0) {
        return -1;
    }
    return plain_digest("ref.out", algo, d, len);
}

/* One changed byte at many places.  DECODED is allowed only to what the
 * reference command decodes the same bytes to (a changed gzip mtime, a
 * padding bit, a zstd window that is larger than needed change nothing);
 * gzip (CRC-32 and length) and zstd (XXH64 checksum) then must give the
 * original; brotli has no checksum and may decode to other bytes. */
static void test_flipped_byte(void)
{
    static const char *const sides[] = {
        "text.v0.gz", "text.v1.gz", "text.v5.br", "text.v6.br",
        "text.v10.zst", "text.v13.zst", "one.v0.gz", "one.v5.br",
        "one.v10.zst",
    };
    const char *plain[] = { "text", "text", "text", "text", "text", "text",
                            "one", "one", "one" };
    size_t s;
    int flips = 0, corrupt = 0, same = 0, other = 0, too_long = 0, refs = 0;

    for (s = 0; s < sizeof(sides) / sizeof(sides[0]); s++) {
        size_t len = 0, pos[256], k, i;
        cc_decode_e side_coding = coding_of(sides[s]);
        unsigned char *data;
        cc_digest_t want;
        uint64_t want_len = 0;
        int fd;

        if (opt_quick && sides[s][0] == 't' && s % 2 == 1) {
            continue;                   /* one sidecar of text per coding */
        }
        REQUIRE(data = slurp(sides[s], &len));
        REQUIRE(plain_digest(plain[s], CC_ALGO_SHA256, &want, &want_len) == 0);
        k = cut_points(len, pos, 256, opt_quick ? 10 : 100);
        fd = open_tmp("flip", O_RDWR | O_CREAT | O_TRUNC);
        REQUIRE(fd >= 0);
        REQUIRE(write_all(fd, data, len) == 0);
        for (i = 0; i < k; i++) {
            unsigned char mask = (unsigned char)((pos[i] & 1) ? 0xff
                                                 : 1u << (pos[i] / 2 % 8));
            unsigned char b = data[pos[i]] ^ mask;
            cc_digest_t got, ref;
            uint64_t got_len = 0, ref_len = 0;
            cc_decode_result_e r;
            int same_as_orig;

            REQUIRE(pwrite(fd, &b, 1, (off_t)pos[i]) == 1);
            r = decode_fd(__FILE__, __LINE__, fd, (int64_t)len, side_coding,
                          (int64_t)want_len * 4 + 65536, CC_ALGO_SHA256, &got,
                          &got_len, NULL, NULL);
            REQUIRE(pwrite(fd, &data[pos[i]], 1, (off_t)pos[i]) == 1);
            flips++;
            CHECK_MSG(r == CC_DECODED || r == CC_DECODE_CORRUPT
                      || r == CC_DECODE_TOO_LONG, "%s byte %zu ^ %02x: %s",
                      sides[s], pos[i], mask, result_name(r));
            if (r == CC_DECODE_TOO_LONG) {
                too_long++;
            }
            if (r != CC_DECODED) {
                corrupt += r == CC_DECODE_CORRUPT;
                continue;
            }
            same_as_orig = got_len == want_len && digest_eq(&got, &want);
            same += same_as_orig;
            other += !same_as_orig;
            if (side_coding != CC_DECODE_BR) {
                CHECK_MSG(same_as_orig, "%s byte %zu ^ %02x: DECODED to "
                          "other bytes (%llu) past the checksum", sides[s],
                          pos[i], mask, (unsigned long long)got_len);
            }
            /* the reference decoder agrees (asked a bounded number of
             * times: each asking is two processes) */
            if (refs >= (opt_quick ? 6 : 40)) {
                continue;
            }
            refs++;
            {
                int fd2 = open_tmp("flipped", O_WRONLY | O_CREAT | O_TRUNC);
                REQUIRE(fd2 >= 0);
                REQUIRE(write_all(fd2, data, len) == 0);
                REQUIRE(pwrite(fd2, &b, 1, (off_t)pos[i]) == 1);
                close(fd2);
            }
            CHECK_MSG(ref_decode("flipped", side_coding, CC_ALGO_SHA256,
                                 &ref, &ref_len) == 0
                      && ref_len == got_len && digest_eq(&ref, &got),
                      "%s byte %zu ^ %02x: DECODED (%llu bytes), but not so "
                      "for %s", sides[s], pos[i], mask,
                      (unsigned long long)got_len,
                      ref_decoder(side_coding));
        }
        close(fd);
        free(data);
    }
    notef("%d flips: %d CORRUPT, %d TOO_LONG, %d decode to the original, "
          "%d to other bytes (brotli); %d checked with the commands", flips,
          corrupt, too_long, same, other, refs);
    CHECK(corrupt > flips / 2);
}

/* Bytes after the last complete stream are not a sidecar's. */
static void test_trailing_garbage(void)
{
    static const struct {
        const unsigned char *bytes;
        size_t len;
    } tails[] = {
        { (const unsigned char *)"x", 1 },
        { (const unsigned char *)"\0", 1 },
        { (const unsigned char *)"\0\0\0\0\0\0\0\0", 8 },
        { (const unsigned char *)"\n", 1 },
        { (const unsigned char *)"\x1f", 1 },            /* gzip magic */
        { (const unsigned char *)"\x1f\x8b\x08", 3 },
        { (const unsigned char *)"\x28\xb5\x2f", 3 },    /* zstd magic */
        { (const unsigned char *)"\x28\xb5\x2f\xfd", 4 },
        { (const unsigned char *)"\x50\x2a\x4d\x18", 4 }, /* skippable */
        { (const unsigned char *)"\x06", 1 },            /* empty brotli */
        { (const unsigned char *)"garbage after the end", 21 },
    };
    static const char *const sides[] = {
        "text.v0.gz", "text.v5.br", "text.v10.zst", "empty.v0.gz",
        "empty.v5.br", "empty.v10.zst",
    };
    unsigned char rnd[4096];
    size_t s, t;

    fill_pattern(rnd, sizeof(rnd), 77);
    for (s = 0; s < sizeof(sides) / sizeof(sides[0]); s++) {
        size_t len = 0;
        unsigned char *data = slurp(sides[s], &len);
        cc_decode_e side_coding = coding_of(sides[s]);

        REQUIRE(data);
        for (t = 0; t <= sizeof(tails) / sizeof(tails[0]); t++) {
            const unsigned char *tail = t < sizeof(tails) / sizeof(tails[0])
                                        ? tails[t].bytes : rnd;
            size_t tlen = t < sizeof(tails) / sizeof(tails[0])
                          ? tails[t].len : sizeof(rnd);

            REQUIRE(make_file("tg", data, len) == 0);
            REQUIRE(append_file("tg", tail, tlen) == 0);
            {
                cc_digest_t d;
                cc_decode_result_e r = DECODE("tg", side_coding,
                                              (int64_t)1 << 40, CC_ALGO_SHA1,
                                              &d, NULL, NULL);
                CHECK_MSG(r == CC_DECODE_CORRUPT, "%s + tail %zu (%zu "
                          "bytes): %s", sides[s], t, tlen, result_name(r));
            }
        }
        free(data);
    }
    /* and a whole read block of zeros after the stream */
    {
        unsigned char *zeros = calloc(1, BLOCK + 3);
        size_t len = 0;
        unsigned char *data = slurp("text.v10.zst", &len);

        REQUIRE(zeros && data);
        REQUIRE(make_file("tgz", data, len) == 0);
        REQUIRE(append_file("tgz", zeros, BLOCK + 3) == 0);
        CHECK_RESULT("tgz", CC_DECODE_ZSTD, CC_DECODE_CORRUPT);
        free(data);
        data = slurp("text.v0.gz", &len);
        REQUIRE(data);
        REQUIRE(make_file("tgz", data, len) == 0);
        REQUIRE(append_file("tgz", zeros, BLOCK + 3) == 0);
        CHECK_RESULT("tgz", CC_DECODE_GZIP, CC_DECODE_CORRUPT);
        free(data);
        free(zeros);
    }
}

/* ------------------------------------------------------------------ */
/* Limits                                                              */

/* tmpdir/name: `copies` copies of tmpdir/piece. */
static int repeat_file(const char *name, const char *piece, size_t copies)
{
    size_t len = 0, i;
    unsigned char *data = slurp(piece, &len);
    int fd = open_tmp(name, O_WRONLY | O_CREAT | O_TRUNC), rc = 0;

    if (!data || fd < 0) {
        rc = -1;
    }
    for (i = 0; rc == 0 && i < copies; i++) {
        rc = write_all(fd, data, len);
    }
    if (fd >= 0) {
        close(fd);
    }
    free(data);
    return rc;
}

/* Decompression bombs: small sidecars of many zeros, against a max_out
 * of an original of 1000 bytes.  TOO_LONG, after reading at most the
 * sidecar (less when it spans more than one read block). */
static void test_bomb(void)
{
    const long long mib = opt_quick ? 64 : 1024;   /* of output */
    const long long frame_mib = opt_quick ? 8 : 32;
    static const char *const names[] = {
        "bomb-members.gz", "bomb-single.gz", "bomb.br", "bomb-frames.zst",
        "bomb-single.zst"
    };
    static const cc_decode_e coding[] = {
        CC_DECODE_GZIP, CC_DECODE_GZIP, CC_DECODE_BR, CC_DECODE_ZSTD,
        CC_DECODE_ZSTD
    };
    double t0 = mono_sec();
    size_t i;

    /* gzip: 1 MiB members; zstd: frames of frame_mib; single streams of
     * frame_mib (brotli: 1 GiB at -q 4 would take seconds to make) */
    REQUIRE(sh("head -c 1048576 /dev/zero | gzip -n -9 > z1m.gz"
               " && truncate -s %lldM zf && gzip -n -9 -c zf > bomb-single.gz"
               " && brotli -c -q 4 zf > bomb.br && zstd -q -c zf > zf.zst"
               " && cp zf.zst bomb-single.zst && rm -f zf", frame_mib) == 0);
    REQUIRE(repeat_file("bomb-members.gz", "z1m.gz", (size_t)mib) == 0);
    REQUIRE(repeat_file("bomb-frames.zst", "zf.zst",
                        (size_t)(mib / frame_mib)) == 0);
    notef("bombs made in %.2f s: %lld MiB of zeros in %lld bytes of gzip "
          "members, %lld MiB in %lld bytes of zstd frames; %lld MiB in %lld "
          "(gzip), %lld (brotli), %lld (zstd) bytes", mono_sec() - t0, mib,
          (long long)size_of("bomb-members.gz"), mib,
          (long long)size_of("bomb-frames.zst"), frame_mib,
          (long long)size_of("bomb-single.gz"), (long long)size_of("bomb.br"),
          (long long)size_of("bomb-single.zst"));
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        int64_t size = size_of(names[i]);
        cc_digest_t d;
        uint64_t br = 0;
        cc_decode_result_e r;
        double t = mono_sec();

        r = DECODE(names[i], coding[i], 1000, CC_ALGO_SHA256, &d, NULL, &br);
        t = mono_sec() - t;
        CHECK_MSG(r == CC_DECODE_TOO_LONG, "%s: %s", names[i], result_name(r));
        CHECK((int64_t)br <= size);
        if (size > (int64_t)BLOCK) {
            /* stopped in the first read block */
            CHECK_MSG((int64_t)br < size, "%s: read %llu of %lld bytes",
                      names[i], (unsigned long long)br, (long long)size);
        }
        notef("%s (%lld bytes): %s in %.4f s, %llu bytes read", names[i],
              (long long)size, result_name(r), t, (unsigned long long)br);
        /* with a max_out of the whole output it decodes (not the 1 GiB) */
        if (!opt_quick && (i == 1 || i == 2 || i == 4)) {
            uint64_t len = 0;
            r = DECODE(names[i], coding[i], frame_mib << 20, CC_ALGO_XXH128,
                       &d, &len, NULL);
            CHECK_MSG(r == CC_DECODED && len == (uint64_t)(frame_mib << 20),
                      "%s: %s, %llu bytes", names[i], result_name(r),
                      (unsigned long long)len);
        }
    }
}

/* max_out is inclusive: the output's length decodes, one less is
 * TOO_LONG, whatever the output blocks. */
static void test_max_out_boundary(void)
{
    static const char *const plains[] = { "one", "text", "block", "block1",
                                          "mixed" };
    size_t p, v;

    for (p = 0; p < sizeof(plains) / sizeof(plains[0]); p++) {
        const struct original *o = NULL;
        size_t i;

        for (i = 0; i < N_ORIGINALS; i++) {
            if (strcmp(originals[i].name, plains[p]) == 0) {
                o = &originals[i];
            }
        }
        REQUIRE(o);
        for (v = 0; v < N_VARIANTS; v++) {
            char side[128];
            int64_t n = (int64_t)orig_size(o);
            cc_digest_t d;
            uint64_t len = 0;

            if (!variants[v].quick || !variant_applies(&variants[v], o)) {
                continue;
            }
            sidecar_name(side, sizeof(side), o, v);
            CHECK_INT(DECODE(side, variants[v].coding, n, CC_ALGO_XXH128, &d,
                             &len, NULL), CC_DECODED);
            CHECK_INT(len, n);
            CHECK_INT(DECODE(side, variants[v].coding, n - 1, CC_ALGO_XXH128,
                             &d, &len, NULL), CC_DECODE_TOO_LONG);
            CHECK_INT(DECODE(side, variants[v].coding, 0, CC_ALGO_XXH128,
                             &d, &len, NULL), CC_DECODE_TOO_LONG);
            if (n > 2 * (int64_t)BLOCK) {
                CHECK_INT(DECODE(side, variants[v].coding, (int64_t)BLOCK,
                                 CC_ALGO_XXH128, &d, &len, NULL),
                          CC_DECODE_TOO_LONG);
            }
        }
    }
}

/* A size that is not the file's: CHANGED (the file is shorter than it,
 * or longer), whether or not the stream in it is complete. */
static void test_changed_size(void)
{
    static const char *const sides[] = {
        "text.v0.gz", "text.v5.br", "text.v10.zst", "random.v0.gz",
        "random.v6.br", "random.v10.zst", "empty.v0.gz", "empty.v5.br",
        "empty.v10.zst",
    };
    size_t s, i;

    for (s = 0; s < sizeof(sides) / sizeof(sides[0]); s++) {
        int64_t n = size_of(sides[s]);
        cc_decode_e side_coding = coding_of(sides[s]);
        const int64_t sizes[] = { n - 1, n + 1, 0, n + (int64_t)BLOCK,
                                  n - 8, n - 4, (int64_t)BLOCK, 2 * n + 5 };
        int fd = open_tmp(sides[s], O_RDONLY);

        REQUIRE(fd >= 0);
        for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
            cc_digest_t d;
            uint64_t br = 0;
            cc_decode_result_e r;

            if (sizes[i] < 0 || sizes[i] == n) {
                continue;
            }
            r = decode_fd(__FILE__, __LINE__, fd, sizes[i], side_coding,
                          (int64_t)1 << 40, CC_ALGO_SHA1, &d, NULL, &br, NULL);
            CHECK_MSG(r == CC_DECODE_CHANGED, "%s (%lld bytes) as %lld: %s",
                      sides[s], (long long)n, (long long)sizes[i],
                      result_name(r));
            CHECK(br <= (uint64_t)sizes[i]);
        }
        close(fd);
    }
}

/* Files that are no sidecar of that coding. */
static void test_foreign(void)
{
    static const size_t sizes[] = { 2, 3, 4, 9, 17, 100, 1000, 70000 };
    static const char *const others[] = {
        "empty", "one", "text", "text.v0.gz", "text.v5.br", "text.v10.zst",
    };
    unsigned char buf[70000];
    size_t i, o;
    int c;

    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        fill_pattern(buf, sizes[i], 1000 + i);
        REQUIRE(make_file("foreign", buf, sizes[i]) == 0);
        for (c = 0; c < N_CODINGS; c++) {
            CHECK_RESULT("foreign", codings[c], CC_DECODE_CORRUPT);
        }
    }
    for (o = 0; o < sizeof(others) / sizeof(others[0]); o++) {
        for (c = 0; c < N_CODINGS; c++) {
            if (coding_of(others[o]) == codings[c]) {
                continue;               /* its own coding */
            }
            CHECK_RESULT(others[o], codings[c], CC_DECODE_CORRUPT);
        }
    }
}

/* ------------------------------------------------------------------ */
/* Errors and the descriptor                                           */

static void test_errors(void)
{
    cc_digest_t d;
    apr_status_t err = 0;
    uint64_t len;
    int fd, pipefd[2], c;
    int64_t n = size_of("text.v0.gz");

    /* a closed descriptor, and -1 */
    fd = open_tmp("text.v0.gz", O_RDONLY);
    REQUIRE(fd >= 0);
    close(fd);
    for (c = 0; c < N_CODINGS; c++) {
        CHECK_INT(decode_fd(__FILE__, __LINE__, fd, n, codings[c], 1 << 20,
                            CC_ALGO_SHA1, &d, &len, NULL, &err),
                  CC_DECODE_ERROR);
        CHECK_INT(err, EBADF);
        CHECK_INT(decode_fd(__FILE__, __LINE__, -1, 0, codings[c], 1 << 20,
                            CC_ALGO_SHA1, &d, &len, NULL, &err),
                  CC_DECODE_ERROR);
        CHECK_INT(err, EBADF);
    }
    /* a directory */
    fd = open(tmpdir, O_RDONLY | O_DIRECTORY);
    REQUIRE(fd >= 0);
    for (c = 0; c < N_CODINGS; c++) {
        CHECK_INT(decode_fd(__FILE__, __LINE__, fd, 4096, codings[c], 1 << 20,
                            CC_ALGO_SHA1, &d, &len, NULL, &err),
                  CC_DECODE_ERROR);
        CHECK_INT(err, EISDIR);
        CHECK_INT(decode_fd(__FILE__, __LINE__, fd, 0, codings[c], 1 << 20,
                            CC_ALGO_SHA1, &d, &len, NULL, &err),
                  CC_DECODE_ERROR);
        CHECK_INT(err, EISDIR);
    }
    close(fd);
    /* a pipe (no pread) */
    REQUIRE(pipe(pipefd) == 0);
    REQUIRE(write(pipefd[1], "\x1f\x8b", 2) == 2);
    CHECK_INT(cc_decode_digest(pipefd[0], 2, CC_DECODE_GZIP, 1 << 20,
                               CC_ALGO_SHA1, &d, &len, NULL, &err),
              CC_DECODE_ERROR);
    CHECK_INT(err, ESPIPE);
    close(pipefd[0]);
    close(pipefd[1]);
    /* a descriptor open for writing only */
    fd = open_tmp("text.v0.gz", O_WRONLY);
    REQUIRE(fd >= 0);
    CHECK_INT(decode_fd(__FILE__, __LINE__, fd, n, CC_DECODE_GZIP, 1 << 20,
                        CC_ALGO_SHA1, &d, &len, NULL, &err), CC_DECODE_ERROR);
    CHECK_INT(err, EBADF);
    close(fd);
    /* arguments: no algorithm, no coding, a negative size or max_out */
    fd = open_tmp("text.v0.gz", O_RDONLY);
    REQUIRE(fd >= 0);
    CHECK_INT(decode_fd(__FILE__, __LINE__, fd, n, CC_DECODE_GZIP, 1 << 20,
                        CC_ALGO_NONE, &d, &len, NULL, &err), CC_DECODE_ERROR);
    CHECK_INT(err, APR_EINVAL);
    CHECK_INT(decode_fd(__FILE__, __LINE__, fd, n, CC_DECODE_GZIP, 1 << 20,
                        (cc_algo_e)99, &d, &len, NULL, &err), CC_DECODE_ERROR);
    CHECK_INT(err, APR_EINVAL);
    CHECK_INT(decode_fd(__FILE__, __LINE__, fd, n, (cc_decode_e)0, 1 << 20,
                        CC_ALGO_SHA1, &d, &len, NULL, &err), CC_DECODE_ERROR);
    CHECK_INT(err, APR_EINVAL);
    CHECK_INT(decode_fd(__FILE__, __LINE__, fd, n, (cc_decode_e)4, 1 << 20,
                        CC_ALGO_SHA1, &d, &len, NULL, &err), CC_DECODE_ERROR);
    CHECK_INT(err, APR_EINVAL);
    CHECK_INT(decode_fd(__FILE__, __LINE__, fd, -1, CC_DECODE_GZIP, 1 << 20,
                        CC_ALGO_SHA1, &d, &len, NULL, &err), CC_DECODE_ERROR);
    CHECK_INT(err, APR_EINVAL);
    CHECK_INT(decode_fd(__FILE__, __LINE__, fd, n, CC_DECODE_GZIP, -1,
                        CC_ALGO_SHA1, &d, &len, NULL, &err), CC_DECODE_ERROR);
    CHECK_INT(err, APR_EINVAL);
    /* and after all that, the descriptor still decodes */
    CHECK_INT(decode_fd(__FILE__, __LINE__, fd, n, CC_DECODE_GZIP, 1 << 20,
                        CC_ALGO_SHA1, &d, &len, NULL, &err), CC_DECODED);
    close(fd);
}

/* The offset of the descriptor stays where it is for every result, also
 * at the end of the file and past it. */
static void test_offset_untouched(void)
{
    static const off_t offsets[] = { 0, 1, 12345, 1 << 30 };
    int64_t n = size_of("text.v0.gz");
    int fd = open_tmp("text.v0.gz", O_RDONLY);
    size_t i;

    REQUIRE(fd >= 0);
    for (i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
        cc_digest_t d;

        REQUIRE(lseek(fd, offsets[i], SEEK_SET) == offsets[i]);
        CHECK_INT(cc_decode_digest(fd, n, CC_DECODE_GZIP, 1 << 20, CC_ALGO_SHA1,
                                   &d, &(apr_uint64_t){0}, NULL,
                                   &(apr_status_t){0}), CC_DECODED);
        CHECK_INT(lseek(fd, 0, SEEK_CUR), offsets[i]);
        CHECK_INT(cc_decode_digest(fd, n, CC_DECODE_ZSTD, 1 << 20, CC_ALGO_SHA1,
                                   &d, &(apr_uint64_t){0}, NULL,
                                   &(apr_status_t){0}), CC_DECODE_CORRUPT);
        CHECK_INT(lseek(fd, 0, SEEK_CUR), offsets[i]);
        CHECK_INT(cc_decode_digest(fd, n, CC_DECODE_GZIP, 10, CC_ALGO_SHA1,
                                   &d, &(apr_uint64_t){0}, NULL,
                                   &(apr_status_t){0}), CC_DECODE_TOO_LONG);
        CHECK_INT(lseek(fd, 0, SEEK_CUR), offsets[i]);
        CHECK_INT(cc_decode_digest(fd, n + 1, CC_DECODE_GZIP, 1 << 20,
                                   CC_ALGO_SHA1, &d, &(apr_uint64_t){0}, NULL,
                                   &(apr_status_t){0}), CC_DECODE_CHANGED);
        CHECK_INT(lseek(fd, 0, SEEK_CUR), offsets[i]);
    }
    close(fd);
}

/* ------------------------------------------------------------------ */
/* Driver                                                              */

static const struct unit_test tests[] = {
    T(roundtrip),
    T(roundtrip_every_algo),
    T(empty_original),
    T(gzip_multi_member),
    T(zstd_multi_frame),
    T(br_concatenated),
    T(truncated),
    T(cut_between_members),
    T(flipped_byte),
    T(trailing_garbage),
    T(bomb),
    T(max_out_boundary),
    T(changed_size),
    T(foreign),
    T(errors),
    T(offset_untouched),
};

int main(int argc, char **argv)
{
    static const struct unit_suite suite = {
        "test_decode", "cc_decode.c", tests, UNIT_COUNT(tests), setup
    };
    return unit_main(argc, argv, &suite);
}
