/* unit/test_digest.c: unit tests of cc_digest.c, the core unit that
 * hashes files and buffers and makes entity-tags of digests.
 *
 * Owns: the algorithms (names, sizes, values out of range, which may make
 * an ETag, the names of integrity fields), known answers of every
 * algorithm (SHA-512 too, and of a 1 MiB pattern), cc_digest_buffer() against libcrypto and libxxhash
 * called directly, cc_digest_fd() against cc_digest_buffer() around the
 * CC_READ_BLOCK boundary, its errors, its exact-size reads (a file that
 * is shorter or longer than the size it is given is APR_INCOMPLETE),
 * cancellation through a cc_cancel_t, cc_digest_fd_multi() (the same
 * digests as cc_digest_fd() for 1 to CC_DIGEST_MULTI_MAX algorithms in
 * one read, bytes counted once, its argument errors, exact sizes and
 * cancellation), and cc_etag_format().
 *
 * Linked with cc_digest.c, APR, libcrypto and libxxhash; not with
 * validators.c (that validators.c accepts and matches the tags made here
 * is in test_validators, etag_is_valid_formats).  The framework (CHECK,
 * T(), --quick, -k, bug_*) is unit_test.h.
 */
#define _GNU_SOURCE 1

#include "cc_digest.h"
#include "unit_test.h"

#include <openssl/evp.h>
#include <xxhash.h>

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Digests                                                             */

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
    CHECK(cc_algo_name((cc_algo_e)6) == NULL);
    CHECK_INT(cc_algo_size(CC_ALGO_SHA1), 20);
    CHECK_INT(cc_algo_size(CC_ALGO_SHA256), 32);
    CHECK_INT(cc_algo_size(CC_ALGO_MD5), 16);
    CHECK_INT(cc_algo_size(CC_ALGO_XXH128), 16);
    CHECK_INT(cc_algo_size(CC_ALGO_NONE), 0);
    CHECK_INT(cc_algo_size((cc_algo_e)6), 0);
    CHECK_INT(cc_algo_size((cc_algo_e)99), 0);
    /* SHA-512: a name of its own; its field name is not one */
    CHECK_INT(cc_algo_from_name("sha512"), CC_ALGO_SHA512);
    CHECK_INT(cc_algo_from_name("SHA512"), CC_ALGO_SHA512);
    CHECK_INT(cc_algo_from_name("sha-512"), CC_ALGO_NONE);
    CHECK_INT(cc_algo_from_name("sha-256"), CC_ALGO_NONE);
    CHECK_INT(cc_algo_from_name("sha51"), CC_ALGO_NONE);
    CHECK_INT(cc_algo_from_name("sha5120"), CC_ALGO_NONE);
    CHECK_STR(cc_algo_name(CC_ALGO_SHA512), "sha512");
    CHECK_INT(cc_algo_size(CC_ALGO_SHA512), 64);
    /* CC_DIGEST_MAX is the longest digest, and names go both ways */
    {
        apr_size_t longest = 0;
        int a;

        for (a = 0; a < N_EVERY_ALGO; a++) {
            apr_size_t n = cc_algo_size(every_algo[a]);
            CHECK(n > 0 && n <= CC_DIGEST_MAX);
            if (n > longest) {
                longest = n;
            }
            CHECK_INT(cc_algo_from_name(cc_algo_name(every_algo[a])),
                      every_algo[a]);
        }
        CHECK_INT(longest, CC_DIGEST_MAX);
        CHECK_INT(CC_DIGEST_MAX, 64);
    }
}

/* Which algorithms may make an ETag: all but SHA-512 (fields only), and
 * nothing that is no algorithm. */
static void test_algo_for_etag(void)
{
    CHECK(cc_algo_for_etag(CC_ALGO_SHA1));
    CHECK(cc_algo_for_etag(CC_ALGO_SHA256));
    CHECK(cc_algo_for_etag(CC_ALGO_MD5));
    CHECK(cc_algo_for_etag(CC_ALGO_XXH128));
    CHECK(!cc_algo_for_etag(CC_ALGO_SHA512));
    CHECK(!cc_algo_for_etag(CC_ALGO_NONE));
    CHECK(!cc_algo_for_etag((cc_algo_e)6));
    CHECK(!cc_algo_for_etag((cc_algo_e)7));
    CHECK(!cc_algo_for_etag((cc_algo_e)99));
    CHECK(!cc_algo_for_etag((cc_algo_e)255));
    /* the test's own list of ETag algorithms is the same */
    {
        int a, n = 0;
        for (a = 0; a < 64; a++) {
            n += cc_algo_for_etag((cc_algo_e)a) != 0;
        }
        CHECK_INT(n, N_ALGOS);
        for (a = 0; a < N_ALGOS; a++) {
            CHECK(cc_algo_for_etag(all_algos[a]));
        }
    }
}

/* The names of RFC 9530's registry ("sha-256", "sha-512"), either way:
 * case-insensitive from a name, lower case to one; every other name and
 * algorithm has none. */
static void test_algo_field_names(void)
{
    static const struct {
        const char *name;
        cc_algo_e algo;
    } from[] = {
        { "sha-256", CC_ALGO_SHA256 },
        { "SHA-256", CC_ALGO_SHA256 },
        { "Sha-256", CC_ALGO_SHA256 },
        { "sha-512", CC_ALGO_SHA512 },
        { "SHA-512", CC_ALGO_SHA512 },
        { "sHa-512", CC_ALGO_SHA512 },
        /* ETag names are no field names */
        { "sha256", CC_ALGO_NONE },
        { "sha512", CC_ALGO_NONE },
        { "sha1", CC_ALGO_NONE },
        { "md5", CC_ALGO_NONE },
        { "xxh128", CC_ALGO_NONE },
        /* deprecated or unknown in the registry, near misses */
        { "sha", CC_ALGO_NONE },
        { "sha-1", CC_ALGO_NONE },
        { "unixsum", CC_ALGO_NONE },
        { "crc32c", CC_ALGO_NONE },
        { "sha-384", CC_ALGO_NONE },
        { "sha-25", CC_ALGO_NONE },
        { "sha-2560", CC_ALGO_NONE },
        { "sha-256 ", CC_ALGO_NONE },
        { " sha-256", CC_ALGO_NONE },
        { "sha_256", CC_ALGO_NONE },
        { "sha-256\t", CC_ALGO_NONE },
        { "", CC_ALGO_NONE },
    };
    size_t i;
    int a;

    for (i = 0; i < sizeof(from) / sizeof(from[0]); i++) {
        CHECK_MSG(cc_algo_from_field_name(from[i].name) == from[i].algo,
                  "cc_algo_from_field_name(\"%s\") = %d, want %d",
                  esc(from[i].name), (int)cc_algo_from_field_name(from[i].name),
                  (int)from[i].algo);
    }
    CHECK_INT(cc_algo_from_field_name(NULL), CC_ALGO_NONE);
    CHECK_STR(cc_algo_field_name(CC_ALGO_SHA256), "sha-256");
    CHECK_STR(cc_algo_field_name(CC_ALGO_SHA512), "sha-512");
    CHECK(cc_algo_field_name(CC_ALGO_SHA1) == NULL);
    CHECK(cc_algo_field_name(CC_ALGO_MD5) == NULL);
    CHECK(cc_algo_field_name(CC_ALGO_XXH128) == NULL);
    CHECK(cc_algo_field_name(CC_ALGO_NONE) == NULL);
    CHECK(cc_algo_field_name((cc_algo_e)6) == NULL);
    CHECK(cc_algo_field_name((cc_algo_e)99) == NULL);
    /* round trips, and the field names are RFC 9651 keys (lower case) */
    for (a = 0; a < N_EVERY_ALGO; a++) {
        const char *f = cc_algo_field_name(every_algo[a]);
        const char *c;

        if (!f) {
            continue;
        }
        CHECK_INT(cc_algo_from_field_name(f), every_algo[a]);
        CHECK(*f >= 'a' && *f <= 'z');
        for (c = f; *c; c++) {
            CHECK_MSG((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9')
                      || *c == '-', "field name %s", f);
        }
    }
}

/* BUG (fixed): algo_valid() was `algo > CC_ALGO_NONE && (int)algo <
 * CC_ALGO_COUNT`.  cc_algo_e has only non-negative constants, so the
 * compiler makes it unsigned: a value >= 2^31 passed the first test, was
 * negative as an int, passed the second, and algos[algo] was read far out
 * of bounds (SIGSEGV).  Reached by cc_algo_name(), cc_algo_size() and
 * cc_etag_format(); test_table's table_store_algo_out_of_range covers
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

        fprintf(stderr, "    (child) algo 0x%x...\n", bad[i]);
        CHECK(cc_algo_name(a) == NULL);
        CHECK_INT(cc_algo_size(a), 0);
        CHECK(!cc_algo_for_etag(a));
        CHECK(cc_algo_field_name(a) == NULL);
        memset(&d, 0, sizeof(d));
        d.algo = a;
        cc_etag_format(&d, tag);                 /* must not crash */
    }
}

static void test_algo_out_of_range(void)
{
    pid_t pid = fork_child(child_algo_out_of_range, NULL);
    WAIT_CHILD_OK(pid, "algo functions given (cc_algo_e)0xffffffff");
}

/* Known answers, computed with `openssl dgst -sha1|-sha256|-md5` and
 * `xxh128sum` (xxhash 0.8.1) when this test was written; SHA-512 with
 * `openssl dgst -sha512` and Python's hashlib (for "", "abc" and the
 * million a: FIPS 180-2's examples). */
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
    { "", CC_ALGO_SHA512,
      "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
      "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e" },
    { "abc", CC_ALGO_SHA512,
      "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
      "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f" },
    { "million-a", CC_ALGO_SHA512,
      "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973eb"
      "de0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b" },
    { "pattern", CC_ALGO_SHA512,
      "da53e0fd4fc29326188171abd900c6d6a2bfe60d3602313c555db393fa1cdbfd"
      "8e163d5031357d12df426857be16c903ded29524cc25cfac07806d0a096b1c23" },
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
        snprintf(name, sizeof(name), "kat-%s-%s", kats[k].input,
                 cc_algo_name(kats[k].algo));
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

/* SHA-512 of a 1 MiB pattern (byte i = (131 i + 7 (i >> 12)) & 0xff):
 * the known answer (Python's hashlib), libcrypto called directly,
 * cc_digest_buffer(), cc_digest_fd() and cc_digest_fd_multi() with
 * SHA-512 in every position among the others (and with SHA-256 alone,
 * the pair of the two integrity fields): one read, the same digests. */
#define MIB_PATTERN_SHA512 \
    "de2170f06d5c93e0b52fca99c59a49e8f1d9970105139e73486b4a7112590c88" \
    "9c732ff92e3170251e6a0ff0b87f38c37fa6a138e59349e29d3f2e21076d2a5a"

static void test_digest_sha512_mib(void)
{
    static const cc_algo_e base[CC_DIGEST_MULTI_MAX] = {
        CC_ALGO_SHA256, CC_ALGO_XXH128, CC_ALGO_MD5, CC_ALGO_SHA1
    };
    const size_t len = 1 << 20;
    unsigned char *buf = malloc(len), direct[EVP_MAX_MD_SIZE];
    unsigned int dn = 0;
    char hex[2 * CC_DIGEST_MAX + 1];
    cc_digest_t d, f, outs[CC_DIGEST_MULTI_MAX], want;
    apr_uint64_t bytes;
    size_t i;
    int fd, pos, j;

    REQUIRE(buf);
    for (i = 0; i < len; i++) {
        buf[i] = (unsigned char)((i * 131 + (i >> 12) * 7) & 0xff);
    }
    memset(&d, 0x5a, sizeof(d));
    cc_digest_buffer(buf, len, CC_ALGO_SHA512, &d);
    CHECK_INT(d.algo, CC_ALGO_SHA512);
    to_hex(d.bytes, 64, hex);
    CHECK_STR(hex, MIB_PATTERN_SHA512);
    REQUIRE(EVP_Digest(buf, len, direct, &dn, EVP_sha512(), NULL) == 1);
    CHECK_INT(dn, 64);
    CHECK(memcmp(direct, d.bytes, 64) == 0);

    REQUIRE(make_file("sha512-mib.bin", buf, len) == 0);
    fd = open_tmp("sha512-mib.bin", O_RDONLY);
    REQUIRE(fd >= 0);
    bytes = 0;
    memset(&f, 0xee, sizeof(f));
    CHECK_INT(cc_digest_fd(fd, (apr_int64_t)len, CC_ALGO_SHA512, &f, &bytes,
                           NULL), APR_SUCCESS);
    CHECK(memcmp(&f, &d, sizeof(d)) == 0);
    CHECK_U64(bytes, len);
    /* a size short of the file's: no digest */
    CHECK_INT(cc_digest_fd(fd, (apr_int64_t)len - 1, CC_ALGO_SHA512, &f, NULL,
                           NULL), APR_INCOMPLETE);
    for (pos = 0; pos < CC_DIGEST_MULTI_MAX; pos++) {
        cc_algo_e algos[CC_DIGEST_MULTI_MAX];

        memcpy(algos, base, sizeof(algos));
        algos[pos] = CC_ALGO_SHA512;
        bytes = 0;
        memset(outs, 0xee, sizeof(outs));
        CHECK_INT(cc_digest_fd_multi(fd, (apr_int64_t)len, algos,
                                     CC_DIGEST_MULTI_MAX, outs, &bytes, NULL),
                  APR_SUCCESS);
        CHECK_U64(bytes, len);
        for (j = 0; j < CC_DIGEST_MULTI_MAX; j++) {
            cc_digest_buffer(buf, len, algos[j], &want);
            CHECK_MSG(memcmp(&outs[j], &want, sizeof(want)) == 0,
                      "SHA-512 at %d: outs[%d] (%s) differs from the "
                      "buffer's", pos, j, cc_algo_name(algos[j]));
        }
    }
    {   /* the two integrity fields' algorithms */
        static const cc_algo_e pair[2] = { CC_ALGO_SHA256, CC_ALGO_SHA512 };
        bytes = 0;
        CHECK_INT(cc_digest_fd_multi(fd, (apr_int64_t)len, pair, 2, outs,
                                     &bytes, NULL), APR_SUCCESS);
        CHECK_U64(bytes, len);
        CHECK(digest_eq(&outs[1], &d));
        cc_digest_buffer(buf, len, CC_ALGO_SHA256, &want);
        CHECK(digest_eq(&outs[0], &want));
    }
    close(fd);
    free(buf);
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
        for (a = 0; a < N_EVERY_ALGO; a++) {
            cc_digest_t d;
            unsigned char want[CC_DIGEST_MAX];
            cc_algo_e algo = every_algo[a];

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
                                 : algo == CC_ALGO_SHA512 ? EVP_sha512()
                                 : EVP_md5();
                EVP_Digest(buf, len, want, &n, md, NULL);
            }
            CHECK_MSG(memcmp(d.bytes, want, cc_algo_size(algo)) == 0,
                      "%s of %zu bytes differs from the library's",
                      cc_algo_name(algo), len);
        }
    }
    for (round = 0; round < N_EVERY_ALGO; round++) { /* NULL, 0: empty input */
        cc_digest_t a, b;
        cc_digest_buffer(NULL, 0, every_algo[round], &a);
        cc_digest_buffer("", 0, every_algo[round], &b);
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
        0, 1, CC_READ_BLOCK - 1, CC_READ_BLOCK, CC_READ_BLOCK + 1,
        3 * 1024 * 1024, 2 * CC_READ_BLOCK + 7
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
        for (a = 0; a < N_EVERY_ALGO; a++) {
            cc_digest_t want, got;
            apr_uint64_t bytes = 1000;       /* it adds, it does not set */
            off_t at = (off_t)(sizes[i] / 3);
            apr_status_t rv;

            cc_digest_buffer(buf, sizes[i], every_algo[a], &want);
            REQUIRE(lseek(fd, at, SEEK_SET) == at);
            memset(&got, 0xee, sizeof(got));
            rv = cc_digest_fd(fd, (apr_int64_t)sizes[i], every_algo[a], &got,
                              &bytes, NULL);
            CHECK_INT(rv, APR_SUCCESS);
            CHECK_MSG(memcmp(&got, &want, sizeof(want)) == 0,
                      "%s of a %zu-byte file differs from the buffer's",
                      cc_algo_name(every_algo[a]), sizes[i]);
            CHECK_U64(bytes, 1000 + sizes[i]);
            CHECK_INT(lseek(fd, 0, SEEK_CUR), at);
            /* bytes_read may be NULL */
            CHECK_INT(cc_digest_fd(fd, (apr_int64_t)sizes[i], every_algo[a],
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
    static const size_t lens[] = { 1000, CC_READ_BLOCK, CC_READ_BLOCK + 7 };
    unsigned char *buf = malloc(CC_READ_BLOCK + 7);
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
        for (a = 0; a < N_EVERY_ALGO; a++) {
            cc_algo_e algo = every_algo[a];

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
            CHECK_INT(cc_digest_fd(fd, len + 3 * CC_READ_BLOCK, algo, &got,
                                   &bytes, NULL), APR_INCOMPLETE);
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
    for (a = 0; a < N_EVERY_ALGO; a++) {
        cc_digest_buffer(NULL, 0, every_algo[a], &empty);
        bytes = 7;
        memset(&got, 0xee, sizeof(got));
        CHECK_INT(cc_digest_fd(fd, 0, every_algo[a], &got, &bytes, NULL),
                  APR_SUCCESS);
        CHECK(digest_eq(&got, &empty));
        CHECK_U64(bytes, 7);
        CHECK_INT(cc_digest_fd(fd, 1, every_algo[a], &got, &bytes, NULL),
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
              && bytes <= CC_CANCEL_CHECK_BYTES + CC_READ_BLOCK,
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
        CHECK_MSG(bytes >= second && bytes <= second + CC_READ_BLOCK,
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
/* Several digests in one read                                         */

/* cc_digest_fd_multi() == cc_digest_fd() for each algorithm, in any
 * order and any number from 1 to CC_DIGEST_MULTI_MAX, around the read
 * block; the bytes are counted once. */
static void test_digest_fd_multi_sizes(void)
{
    static const size_t sizes[] = {
        0, 1, 4097, CC_READ_BLOCK - 1, CC_READ_BLOCK, CC_READ_BLOCK + 1,
        2 * CC_READ_BLOCK + 7
    };
    /* quick (valgrind): the first two orders */
    static const cc_algo_e orders[][CC_DIGEST_MULTI_MAX] = {
        { CC_ALGO_SHA1, CC_ALGO_SHA256, CC_ALGO_MD5, CC_ALGO_XXH128 },
        { CC_ALGO_SHA512, CC_ALGO_SHA256, CC_ALGO_XXH128, CC_ALGO_SHA512 },
        { CC_ALGO_XXH128, CC_ALGO_MD5, CC_ALGO_SHA256, CC_ALGO_SHA1 },
        { CC_ALGO_MD5, CC_ALGO_SHA1, CC_ALGO_SHA512, CC_ALGO_XXH128 },
        { CC_ALGO_MD5, CC_ALGO_SHA1, CC_ALGO_XXH128, CC_ALGO_SHA256 },
        { CC_ALGO_SHA256, CC_ALGO_SHA256, CC_ALGO_XXH128, CC_ALGO_XXH128 },
    };
    unsigned char *buf = malloc(2 * CC_READ_BLOCK + 7);
    size_t i;

    REQUIRE(buf);
    REQUIRE(CC_DIGEST_MULTI_MAX == N_ALGOS);
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        cc_digest_t want[CC_ALGO_SHA512 + 1];   /* by algorithm */
        char name[64];
        size_t o;
        int fd, a, n;

        fill_pattern(buf, sizes[i], 3000 + i);
        snprintf(name, sizeof(name), "multi-%zu", sizes[i]);
        REQUIRE(make_file(name, buf, sizes[i]) == 0);
        fd = open_tmp(name, O_RDONLY);
        REQUIRE(fd >= 0);
        for (a = 0; a < N_EVERY_ALGO; a++) {
            cc_algo_e algo = every_algo[a];
            REQUIRE(cc_digest_fd(fd, (apr_int64_t)sizes[i], algo,
                                 &want[algo], NULL, NULL) == APR_SUCCESS);
        }
        /* quick (valgrind): two orders */
        for (o = 0; o < (opt_quick ? 2 : sizeof(orders) / sizeof(orders[0]));
             o++) {
            for (n = 1; n <= CC_DIGEST_MULTI_MAX; n++) {
                cc_digest_t outs[CC_DIGEST_MULTI_MAX + 1];
                apr_uint64_t bytes = 1000;
                off_t at = (off_t)(sizes[i] / 2);
                apr_status_t rv;
                int j;

                memset(outs, 0xee, sizeof(outs));
                REQUIRE(lseek(fd, at, SEEK_SET) == at);
                rv = cc_digest_fd_multi(fd, (apr_int64_t)sizes[i], orders[o],
                                        n, outs, &bytes, NULL);
                CHECK_INT(rv, APR_SUCCESS);
                /* once, not n times */
                CHECK_U64(bytes, 1000 + sizes[i]);
                CHECK_INT(lseek(fd, 0, SEEK_CUR), at);
                for (j = 0; j < n; j++) {
                    CHECK_MSG(memcmp(&outs[j], &want[orders[o][j]],
                                     sizeof(cc_digest_t)) == 0,
                              "%zu bytes, order %zu, n %d: outs[%d] (%s) "
                              "differs from cc_digest_fd's", sizes[i], o, n,
                              j, cc_algo_name(orders[o][j]));
                }
                /* nothing written past outs[n - 1] */
                for (j = n; j <= CC_DIGEST_MULTI_MAX; j++) {
                    unsigned char *p = (unsigned char *)&outs[j];
                    size_t b;
                    for (b = 0; b < sizeof(cc_digest_t); b++) {
                        if (p[b] != 0xee) {
                            failf(__FILE__, __LINE__, "n %d: outs[%d] "
                                  "written", n, j);
                            break;
                        }
                    }
                }
            }
        }
        {   /* bytes_read may be NULL */
            cc_digest_t outs[N_ALGOS];
            CHECK_INT(cc_digest_fd_multi(fd, (apr_int64_t)sizes[i], all_algos,
                                         N_ALGOS, outs, NULL, NULL),
                      APR_SUCCESS);
            for (a = 0; a < N_ALGOS; a++) {
                CHECK(digest_eq(&outs[a], &want[all_algos[a]]));
            }
        }
        close(fd);
    }
    free(buf);
}

static void test_digest_fd_multi_errors(void)
{
    static const cc_algo_e good[] = {
        CC_ALGO_SHA1, CC_ALGO_SHA256, CC_ALGO_MD5, CC_ALGO_XXH128,
        CC_ALGO_SHA1
    };
    static const struct {
        cc_algo_e algos[3];
        int n;
    } bad[] = {   /* (cc_algo_e)5 was no algorithm before SHA-512 */
        { { CC_ALGO_NONE }, 1 },
        { { (cc_algo_e)6 }, 1 },
        { { CC_ALGO_SHA512, (cc_algo_e)6 }, 2 },
        { { CC_ALGO_SHA1, CC_ALGO_NONE }, 2 },
        { { CC_ALGO_XXH128, CC_ALGO_SHA256, (cc_algo_e)0xffffffffu }, 3 },
        { { (cc_algo_e)0x80000000u, CC_ALGO_MD5 }, 2 },
        { { CC_ALGO_MD5, (cc_algo_e)9, CC_ALGO_SHA1 }, 3 },
    };
    cc_digest_t outs[CC_DIGEST_MULTI_MAX + 1];
    apr_uint64_t bytes = 7;
    size_t i;
    int fd, dfd;

    REQUIRE(make_file("multi-err", "hello", 5) == 0);
    fd = open_tmp("multi-err", O_RDONLY);
    REQUIRE(fd >= 0);
    /* how many */
    CHECK_INT(cc_digest_fd_multi(fd, 5, good, 0, outs, &bytes, NULL),
              APR_EINVAL);
    CHECK_INT(cc_digest_fd_multi(fd, 5, good, -1, outs, &bytes, NULL),
              APR_EINVAL);
    CHECK_INT(cc_digest_fd_multi(fd, 5, good, CC_DIGEST_MULTI_MAX + 1, outs,
                                 &bytes, NULL), APR_EINVAL);
    CHECK_INT(cc_digest_fd_multi(fd, 5, good, INT32_MIN, outs, &bytes, NULL),
              APR_EINVAL);
    CHECK_INT(cc_digest_fd_multi(fd, 5, NULL, 0, NULL, &bytes, NULL),
              APR_EINVAL);
    CHECK_U64(bytes, 7);
    /* a bad algorithm anywhere (and no leak of the contexts made before
     * it: ASan and valgrind watch) */
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_MSG(cc_digest_fd_multi(fd, 5, bad[i].algos, bad[i].n, outs,
                                     &bytes, NULL) == APR_EINVAL,
                  "bad algorithm case %zu accepted", i);
    }
    CHECK_U64(bytes, 7);
    /* a negative size */
    CHECK_INT(cc_digest_fd_multi(fd, -1, good, 2, outs, &bytes, NULL),
              APR_EINVAL);
    /* the read errors of cc_digest_fd() */
    CHECK_INT(cc_digest_fd_multi(-1, 5, good, 2, outs, &bytes, NULL), EBADF);
    dfd = open(tmpdir, O_RDONLY | O_DIRECTORY);
    REQUIRE(dfd >= 0);
    CHECK_INT(cc_digest_fd_multi(dfd, 4096, good, 3, outs, &bytes, NULL),
              EISDIR);
    CHECK_U64(bytes, 7);
    close(dfd);
    /* the most there may be */
    CHECK_INT(cc_digest_fd_multi(fd, 5, good, CC_DIGEST_MULTI_MAX, outs,
                                 &bytes, NULL), APR_SUCCESS);
    CHECK_U64(bytes, 12);
    close(fd);
}

/* Exactly `size` bytes, as cc_digest_fd(): shorter or longer files are
 * APR_INCOMPLETE, their bytes counted once. */
static void test_digest_fd_multi_exact_size(void)
{
    static const size_t lens[] = { 1000, CC_READ_BLOCK, CC_READ_BLOCK + 7 };
    unsigned char *buf = malloc(CC_READ_BLOCK + 7);
    cc_digest_t outs[N_ALGOS];
    apr_uint64_t bytes;
    size_t i;

    REQUIRE(buf);
    for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        apr_int64_t len = (apr_int64_t)lens[i];
        char name[64];
        int fd;

        fill_pattern(buf, lens[i], 4000 + i);
        snprintf(name, sizeof(name), "multi-exact-%zu", lens[i]);
        REQUIRE(make_file(name, buf, lens[i]) == 0);
        fd = open_tmp(name, O_RDONLY);
        REQUIRE(fd >= 0);
        bytes = 0;
        CHECK_INT(cc_digest_fd_multi(fd, len - 1, all_algos, N_ALGOS, outs,
                                     &bytes, NULL), APR_INCOMPLETE);
        CHECK_U64(bytes, len - 1);
        bytes = 0;
        CHECK_INT(cc_digest_fd_multi(fd, len + 1, all_algos, N_ALGOS, outs,
                                     &bytes, NULL), APR_INCOMPLETE);
        CHECK_U64(bytes, len);
        bytes = 0;
        CHECK_INT(cc_digest_fd_multi(fd, 0, all_algos, 2, outs, &bytes, NULL),
                  APR_INCOMPLETE);
        CHECK_U64(bytes, 0);
        bytes = 0;
        CHECK_INT(cc_digest_fd_multi(fd, len + 3 * CC_READ_BLOCK, all_algos,
                                     3, outs, &bytes, NULL), APR_INCOMPLETE);
        CHECK_U64(bytes, len);
        close(fd);
    }
    free(buf);
}

/* Cancellation as for cc_digest_fd(): asked every CC_CANCEL_CHECK_BYTES
 * of the one read, never after the last block. */
static void test_digest_fd_multi_cancel(void)
{
    struct keep_going_probe probe;
    cc_cancel_t cancel = { probe_keep_going, &probe };
    /* quick (valgrind): the two cheapest digests; else all */
    static const cc_algo_e quick_algos[] = { CC_ALGO_XXH128, CC_ALGO_MD5 };
    const cc_algo_e *algos = opt_quick ? quick_algos : all_algos;
    int n = opt_quick ? 2 : N_ALGOS, a, checks;
    cc_digest_t want[N_ALGOS], outs[N_ALGOS];
    apr_uint64_t bytes;
    struct stat st;
    apr_int64_t size;
    int fd = open_tmp(CANCEL_BIG, O_RDONLY);

    REQUIRE(fd >= 0 && fstat(fd, &st) == 0);
    size = (apr_int64_t)st.st_size;
    REQUIRE(size > CC_CANCEL_CHECK_BYTES);
    checks = (int)((size - 1) / CC_CANCEL_CHECK_BYTES);

    /* gone at the first check: stopped after 16 MiB */
    memset(&probe, 0, sizeof(probe));
    probe.stop_at = 1;
    bytes = 0;
    CHECK_INT(cc_digest_fd_multi(fd, size, algos, n, outs, &bytes,
                                 &cancel), ECANCELED);
    CHECK_INT(probe.calls, 1);
    CHECK_MSG(bytes >= CC_CANCEL_CHECK_BYTES
              && bytes <= CC_CANCEL_CHECK_BYTES + CC_READ_BLOCK,
              "cancelled after %llu bytes, want 16 MiB to 16 MiB + one block",
              (unsigned long long)bytes);
    /* there all along: every check asked once, whatever n is */
    memset(&probe, 0, sizeof(probe));
    bytes = 0;
    CHECK_INT(cc_digest_fd_multi(fd, size, algos, n, outs, &bytes,
                                 &cancel), APR_SUCCESS);
    CHECK_INT(probe.calls, checks);
    CHECK_U64(bytes, size);
    for (a = 0; a < n; a++) {
        CHECK_INT(cc_digest_fd(fd, size, algos[a], &want[a], NULL, NULL),
                  APR_SUCCESS);
        CHECK_MSG(digest_eq(&outs[a], &want[a]), "%s of the big file differs",
                  cc_algo_name(algos[a]));
    }
    close(fd);
}

/* ------------------------------------------------------------------ */
/* Entity-tag formatting                                               */

/* Is s[0..len) one strong entity-tag (RFC 9110 8.8.3: DQUOTE *etagc
 * DQUOTE, etagc = %x21 / %x23-7E / obs-text)?  Written out here, since
 * this program does not link validators.c; test_validators checks that
 * cc_etag_is_valid() accepts the same tags. */
static int is_strong_entity_tag(const char *s, size_t len)
{
    size_t i;

    if (len < 2 || s[0] != '"' || s[len - 1] != '"') {
        return 0;
    }
    for (i = 1; i < len - 1; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(c == 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80)) {
            return 0;
        }
    }
    return 1;
}

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
        /* sha512: no ETag of the module's (cc_algo_for_etag), but the
         * form is defined: "sha512-" and 88 base64 characters */
        { "",    CC_ALGO_SHA512, "\"sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==\"" },
        { "abc", CC_ALGO_SHA512, "\"sha512-3a81oZNherrMQXNJriBBMRLm+k6JqX6iCp7u5ktV05ohkpkqJ0/BqDa6PCOj/uu9RU1EI2Q86A4qmslPpUyknw==\"" },
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
        CHECK(is_strong_entity_tag(buf, len));
        for (j = len + 1; j < sizeof(buf); j++) {
            CHECK_MSG((unsigned char)buf[j] == 0xA5,
                      "cc_etag_format wrote past its NUL at %u", (unsigned)j);
        }
    }
    /* shapes, over many digests: lengths and alphabets */
    for (a = 0; a < N_EVERY_ALGO; a++) {
        int k;
        for (k = 0; k < 64; k++) {
            cc_digest_t d;
            char buf[CC_ETAG_MAX];
            apr_size_t len, j, want_len;
            const char *body;

            d.algo = every_algo[a];
            fill_pattern(d.bytes, sizeof(d.bytes), (uint64_t)(k * 7 + a));
            if (k == 0) memset(d.bytes, 0, sizeof(d.bytes));
            if (k == 1) memset(d.bytes, 0xff, sizeof(d.bytes));
            len = cc_etag_format(&d, buf);
            want_len = d.algo == CC_ALGO_SHA1 ? 30
                     : d.algo == CC_ALGO_SHA256 ? 53
                     : d.algo == CC_ALGO_SHA512 ? 1 + 7 + 88 + 1 : 34;
            CHECK_INT(len, want_len);
            CHECK_INT(strlen(buf), len);
            CHECK(len < CC_ETAG_MAX);             /* and its NUL */
            CHECK(buf[0] == '"' && buf[len - 1] == '"');
            CHECK(is_strong_entity_tag(buf, len));
            body = buf + 1;
            if (d.algo == CC_ALGO_SHA256) {
                CHECK(strncmp(body, "sha256-", 7) == 0);
                body += 7;
            }
            if (d.algo == CC_ALGO_SHA512) {
                CHECK(strncmp(body, "sha512-", 7) == 0);
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
            if (d.algo == CC_ALGO_SHA512) {                      /* 64 B: two */
                CHECK(buf[len - 2] == '=' && buf[len - 3] == '='
                      && buf[len - 4] != '=');
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
/* Driver                                                              */

static const struct unit_test tests[] = {
    T(algo_names),
    T(algo_for_etag),
    T(algo_field_names),
    T(algo_out_of_range),
    T(digest_kat),
    T(digest_sha512_mib),
    T(digest_buffer_vs_direct),
    T(digest_fd_sizes),
    T(digest_fd_errors),
    T(digest_fd_exact_size),
    T(digest_fd_proc_status),
    T(digest_fd_cancel),
    T(digest_fd_multi_sizes),
    T(digest_fd_multi_errors),
    T(digest_fd_multi_exact_size),
    T(digest_fd_multi_cancel),
    T(etag_format),
};

int main(int argc, char **argv)
{
    static const struct unit_suite suite = {
        "test_digest", "cc_digest.c", tests, UNIT_COUNT(tests),
        fixture_digest_files
    };
    return unit_main(argc, argv, &suite);
}
