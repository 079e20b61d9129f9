/* unit/test_validators.c: unit tests of validators.c, the core unit that
 * parses and matches entity-tags and evaluates preconditions.
 *
 * Owns: entity-tag validity (cc_etag_is_valid, including reads past the
 * given length), If-Match / If-None-Match list matching in both modes
 * ("*", lists with junk members, OWS, obs-text, long and hostile lists),
 * the -gzip and -br coding suffixes, Accept-Encoding (cc_codings_refused),
 * and the RFC 9110 13.2.2 evaluation of preconditions with dates.
 *
 * Linked with validators.c and APR only: no libcrypto, no libxxhash.
 * The tags used here are literal strings; that cc_etag_format() produces
 * exactly these forms is test_digest's business.  The framework (CHECK,
 * T(), --quick, -k, bug_*) is unit_test.h.
 */
#define _GNU_SOURCE 1

#include "validators.h"
#include "unit_test.h"

#include <apr_time.h>

#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

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
    const unsigned G = CC_CODING_GZIP, B = CC_CODING_BR, Z = CC_CODING_ZSTD;
    const unsigned ALL = G | B | Z;

    CHECK_INT(cc_codings_refused(NULL), ALL);          /* no header: none */
    CHECK_INT(cc_codings_refused(""), ALL);
    CHECK_INT(cc_codings_refused("gzip"), B | Z);
    CHECK_INT(cc_codings_refused("br"), G | Z);
    CHECK_INT(cc_codings_refused("zstd"), G | B);
    CHECK_INT(cc_codings_refused("gzip, deflate, br"), Z);
    CHECK_INT(cc_codings_refused("GZIP,BR,ZSTD"), 0);
    CHECK_INT(cc_codings_refused("identity"), ALL);
    CHECK_INT(cc_codings_refused("*"), 0);
    CHECK_INT(cc_codings_refused("*;q=0"), ALL);
    CHECK_INT(cc_codings_refused("br;q=0, *"), B);
    CHECK_INT(cc_codings_refused("gzip;q=0"), ALL);
    CHECK_INT(cc_codings_refused("gzip; q=0.000, br;q=0.5"), G | Z);
    CHECK_INT(cc_codings_refused("gzip;q=0.001"), B | Z);
    CHECK_INT(cc_codings_refused("gzip;Q=0"), ALL);
    CHECK_INT(cc_codings_refused("gzip;q=zero"), B | Z); /* malformed: 1 */
    CHECK_INT(cc_codings_refused("x-gzip"), ALL);      /* as mod_deflate */
    CHECK_INT(cc_codings_refused("gzipx, bra"), ALL);
    CHECK_INT(cc_codings_refused(" ,, gzip ,"), B | Z);
    CHECK_INT(cc_codings_refused(";q=0, br"), G | Z);
}

/* RFC 9110 12.5.3: the highest qvalue wins, the server's order breaks
 * ties, identity wins only when rated above every coding. */
static void test_coding_choose(void)
{
    const unsigned G = CC_CODING_GZIP, B = CC_CODING_BR, Z = CC_CODING_ZSTD;
    const unsigned bgz[] = { B, G, Z }, gz[] = { G, Z }, zb[] = { Z, B };

    CHECK_INT(cc_coding_choose(NULL, bgz, 3), 0);       /* no field */
    CHECK_INT(cc_coding_choose("", bgz, 3), 0);
    CHECK_INT(cc_coding_choose("gzip, deflate, br", bgz, 3), B);
    CHECK_INT(cc_coding_choose("gzip, deflate, br", gz, 2), G);
    CHECK_INT(cc_coding_choose("gzip, deflate, br, zstd", bgz, 3), B);
    CHECK_INT(cc_coding_choose("gzip, deflate, br, zstd", zb, 2), Z);
    CHECK_INT(cc_coding_choose("br;q=0.5, gzip", bgz, 3), G);
    CHECK_INT(cc_coding_choose("br;q=0.5, gzip;q=0.4", bgz, 3), B);
    CHECK_INT(cc_coding_choose("br;q=0, gzip;q=0", bgz, 3), 0);
    CHECK_INT(cc_coding_choose("*", bgz, 3), B);
    CHECK_INT(cc_coding_choose("*;q=0", bgz, 3), 0);
    CHECK_INT(cc_coding_choose("br;q=0, *", bgz, 3), G);
    CHECK_INT(cc_coding_choose("*;q=0.1, zstd", bgz, 3), Z);
    CHECK_INT(cc_coding_choose("identity", bgz, 3), 0);
    CHECK_INT(cc_coding_choose("identity;q=0, gzip", bgz, 3), G);
    CHECK_INT(cc_coding_choose("identity, gzip;q=0.5", bgz, 3), 0);
    CHECK_INT(cc_coding_choose("identity;q=0.5, gzip;q=0.5", bgz, 3), G);
    CHECK_INT(cc_coding_choose("gzip;q=0.5", bgz, 3), G); /* identity
                                                   unrated: not preferred */
    CHECK_INT(cc_coding_choose("BR", bgz, 3), B);
    CHECK_INT(cc_coding_choose("x-gzip, brx", bgz, 3), 0);
    CHECK_INT(cc_coding_choose("gzip;q=1.0", bgz, 3), G);
    CHECK_INT(cc_coding_choose("gzip;q=2, br;q=0.9", bgz, 3), G); /* bad q:
                                                                  as 1 */
    CHECK_INT(cc_coding_choose("gzip", bgz, 0), 0);
}

#define STRIP(field, refused, want, want_bits) do { \
        char out_[256]; \
        CHECK_INT(cc_etag_list_strip(field, refused, out_), want_bits); \
        CHECK_STR(out_, want); \
    } while (0)

/* CondCacheStripCodingSuffix: suffixes of accepted codings come off, the
 * rest of the field stays byte for byte. */
static void test_etag_list_strip(void)
{
    const unsigned G = CC_CODING_GZIP, B = CC_CODING_BR, Z = CC_CODING_ZSTD;

    STRIP("\"v1-gzip\"", 0, "\"v1\"", G);
    STRIP("\"v1-br\"", 0, "\"v1\"", B);
    STRIP("\"v1-zstd\"", 0, "\"v1\"", Z);
    STRIP("W/\"v1-gzip\"", 0, "W/\"v1\"", G);
    STRIP("\"v1-gzip\"", G, "\"v1-gzip\"", 0);          /* refused */
    STRIP("\"v1\"", 0, "\"v1\"", 0);
    STRIP("\"a-gzip\", \"b-br\",\t\"c\"", 0, "\"a\", \"b\",\t\"c\"", G | B);
    STRIP("*", 0, "*", 0);
    STRIP("\"-gzip\"", 0, "\"-gzip\"", 0);      /* nothing left: kept */
    STRIP("\"v1-gzip-gzip\"", 0, "\"v1-gzip\"", G);  /* one suffix */
    STRIP("junk-gzip, \"v1-gzip\"", 0, "junk-gzip, \"v1\"", G);
    STRIP("\"v1-gzip", 0, "\"v1-gzip", 0);         /* not a tag */
    STRIP("", 0, "", 0);
}

static void test_coding_names(void)
{
    CHECK_STR(cc_coding_name(CC_CODING_GZIP), "gzip");
    CHECK_STR(cc_coding_name(CC_CODING_BR), "br");
    CHECK_STR(cc_coding_name(CC_CODING_ZSTD), "zstd");
    CHECK(cc_coding_name(0) == NULL);
    CHECK(cc_coding_name(CC_CODING_GZIP | CC_CODING_BR) == NULL);
    CHECK_STR(cc_coding_suffix(CC_CODING_ZSTD), "-zstd");
    CHECK_INT(cc_coding_from_name("Br"), CC_CODING_BR);
    CHECK_INT(cc_coding_from_name("deflate"), 0);
    /* a -zstd tag matches like the others */
    CHECK_INT(cc_etag_list_match_codings("\"abc-zstd\"", "\"abc\"",
              CC_COMPARE_WEAK, 0), 1);
    CHECK_INT(cc_etag_list_match_codings("\"abc-zstd\"", "\"abc\"",
              CC_COMPARE_WEAK, CC_CODING_ZSTD), 0);
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

/* The tags cc_etag_format() makes, two per algorithm (test_digest checks
 * that it makes exactly these for "" and "abc"): each is a valid strong
 * tag that matches itself, its W/ form weakly, and its -gzip and -br
 * forms unless that coding is refused. */
static void test_etag_is_valid_formats(void)
{
    static const char *const ours[] = {
        "\"2jmj7l5rSw0yVb/vlWAYkK/YBwk=\"",                            /* sha1 */
        "\"qZk+NkcGgWq6PiVxeFDCbJzQ2J0=\"",
        "\"sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\"",    /* sha256 */
        "\"sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=\"",
        "\"d41d8cd98f00b204e9800998ecf8427e\"",                       /* md5 */
        "\"900150983cd24fb0d6963f7d28e17f72\"",
        "\"99aa06d3014798d86001c324468d497f\"",                       /* xxh128 */
        "\"06b05ab6733a618578af5f94892f3950\"",
    };
    size_t i;

    for (i = 0; i < sizeof(ours) / sizeof(ours[0]); i++) {
        const char *tag = ours[i];
        size_t n = strlen(tag);
        char weak[80], gz[80], br[80];

        REQUIRE(n + 6 < sizeof(gz));
        check_valid(__FILE__, __LINE__, tag, n, 1);
        snprintf(weak, sizeof(weak), "W/%s", tag);
        snprintf(gz, sizeof(gz), "%.*s-gzip\"", (int)(n - 1), tag);
        snprintf(br, sizeof(br), "%.*s-br\"", (int)(n - 1), tag);
        check_valid(__FILE__, __LINE__, weak, strlen(weak), 1);
        MATCH(tag, tag, 1, 1);
        MATCH(weak, tag, 1, 0);
        MATCH(gz, tag, 1, 1);
        MATCH(br, tag, 1, 1);
        CHECK_INT(cc_etag_list_match_codings(gz, tag, CC_COMPARE_WEAK,
                                             CC_CODING_GZIP), 0);
        CHECK_INT(cc_etag_list_match_codings(br, tag, CC_COMPARE_WEAK,
                                             CC_CODING_GZIP), 1);
        CHECK_INT(cc_etag_list_match_codings(br, tag, CC_COMPARE_STRONG,
                                             CC_CODING_BR), 0);
    }
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
/* Driver                                                              */

static const struct unit_test tests[] = {
    T(etag_is_valid),
    T(etag_is_valid_reads_past_len),
    T(etag_match_basic),
    T(etag_match_lists),
    T(etag_match_star),
    T(codings_refused),
    T(coding_choose),
    T(coding_names),
    T(etag_list_strip),
    T(etag_match_codings),
    T(etag_match_suffixes),
    T(etag_match_long_list),
    T(etag_match_bytes),
    T(etag_match_our_weak),
    T(etag_is_valid_formats),
    T(precond_etags),
    T(precond_dates),
    T(precond_no_etag),
    T(precond_date_with_trailing_junk),
};

int main(int argc, char **argv)
{
    static const struct unit_suite suite = {
        "test_validators", "validators.c", tests, UNIT_COUNT(tests), NULL
    };
    return unit_main(argc, argv, &suite);
}
