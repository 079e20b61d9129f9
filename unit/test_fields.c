/* unit/test_fields.c: unit tests of cc_fields.c, the core unit that
 * writes the integrity fields of RFC 9530 (Repr-Digest, Unencoded-Digest)
 * and chooses their algorithms by the Want- fields.
 *
 * Owns: cc_fields_choose() (an absent field, an empty one, valid
 * dictionaries: preferences 0 to 10, the order by preference then by
 * configuration, ties, the last value of a key, parameters, bare keys,
 * inner lists, strings, byte sequences, tokens, Booleans and decimals as
 * no preference, keys of unknown algorithms; malformed fields, which are
 * ignored as a whole: upper-case keys, trailing commas, a missing value,
 * integers of more than 15 digits, stray characters, bytes that are not
 * ASCII, a leading tab (RFC 9651 allows a leading SP, not HTAB); all
 * rated 0, one rated 0 and the other unrated) and cc_fields_format()
 * (exact output for known digests, n = 0, two members, every digest
 * length, the length bound, and the syntax of the output read back by a
 * strict parser).  Every choose case is also checked against unit/
 * sf_ref.h, a dictionary parser of the test's own written from RFC 9651.
 *
 * Linked with cc_fields.c only, and APR; no hashing library: the digests
 * of "" and "abc" are constants here.  Strings go to the unit in heap
 * blocks of their exact size, so that ASan and valgrind see a read past
 * their NUL.  The framework (CHECK, T(), B(), --quick, -k) is
 * unit_test.h.
 */
#define _GNU_SOURCE 1

#include "cc_fields.h"
#include "sf_ref.h"
#include "unit_test.h"

#include <stdlib.h>

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

static const char *const cfg_256_512[] = { "sha-256", "sha-512" };
static const char *const cfg_512_256[] = { "sha-512", "sha-256" };

/* A heap copy of exactly strlen(s) + 1 bytes (NULL stays NULL). */
static char *exact_copy(const char *s)
{
    char *c;

    if (!s) {
        return NULL;
    }
    c = malloc(strlen(s) + 1);
    if (c) {
        memcpy(c, s, strlen(s) + 1);
    }
    return c;
}

/* The chosen indices as a string of digits: {1, 0} is "10". */
static void chosen_str(const int *chosen, int count, char *out, size_t size)
{
    int i;
    size_t j = 0;

    for (i = 0; i < count && j + 4 < size; i++) {
        if (chosen[i] >= 0 && chosen[i] <= 9) {
            out[j++] = (char)('0' + chosen[i]);
        }
        else {
            j += (size_t)snprintf(out + j, size - j, "[%d]", chosen[i]);
        }
    }
    out[j] = '\0';
}

/* cc_fields_choose() of want (in an exact-size copy) with the n names
 * (each in an exact-size copy), as a string of digits; the invariants
 * every answer keeps are checked on the way: at most n indices, each in
 * range, none twice, nothing written past chosen[n - 1]. */
static const char *choose_str(const char *file, int line, const char *want,
                              const char *const *names, int n)
{
    static char bufs[4][64];
    static int next;
    char *out = bufs[next++ & 3];
    char *w = exact_copy(want);
    char *nm[CC_FIELDS_MAX];
    int chosen[CC_FIELDS_MAX + 4], count, i, j;

    for (i = 0; i < n; i++) {
        nm[i] = exact_copy(names[i]);
    }
    for (i = 0; i < CC_FIELDS_MAX + 4; i++) {
        chosen[i] = -77;
    }
    count = cc_fields_choose(w, (const char *const *)nm, n, chosen);
    if (count < 0 || count > n) {
        failf(file, line, "choose(\"%s\"): count %d of %d names", esc(want),
              count, n);
        count = count < 0 ? 0 : n;
    }
    for (i = 0; i < count; i++) {
        if (chosen[i] < 0 || chosen[i] >= n) {
            failf(file, line, "choose(\"%s\"): index %d out of range",
                  esc(want), chosen[i]);
        }
        for (j = 0; j < i; j++) {
            if (chosen[j] == chosen[i]) {
                failf(file, line, "choose(\"%s\"): index %d twice", esc(want),
                      chosen[i]);
            }
        }
    }
    for (i = n; i < CC_FIELDS_MAX + 4; i++) {
        if (chosen[i] != -77) {
            failf(file, line, "choose(\"%s\"): chosen[%d] written (n %d)",
                  esc(want), i, n);
        }
    }
    chosen_str(chosen, count, out, sizeof(bufs[0]));
    for (i = 0; i < n; i++) {
        free(nm[i]);
    }
    free(w);
    return out;
}

/* What the reference parser (sf_ref.h) says cc_fields_choose() should
 * answer, with or without RFC 9651's dates and display strings. */
static const char *ref_str(const char *want, const char *const *names, int n,
                           int flags)
{
    static char bufs[4][64];
    static int next;
    char *out = bufs[next++ & 3];
    int chosen[SF_REF_NAMES_MAX];
    int count = sf_ref_choose(want, names, n, flags, chosen);

    chosen_str(chosen, count, out, sizeof(bufs[0]));
    return out;
}

/* choose(want) with names is `expect`, and so says the reference parser
 * (RFC 9651, byte sequences by their alphabet as cc_fields.c reads them),
 * so that the expectations written here are checked too. */
static void check_choose(const char *file, int line, const char *want,
                         const char *const *names, int n, const char *expect)
{
    const char *got = choose_str(file, line, want, names, n);
    const char *ref = ref_str(want, names, n, SF_DATES_DISPLAY);

    if (strcmp(got, expect) != 0) {
        failf(file, line, "choose(\"%s\") with %s%s%s: got \"%s\", want \"%s\"",
              want ? esc(want) : "(null)", names[0], n > 1 ? "," : "",
              n > 1 ? names[1] : "", got, expect);
    }
    if (strcmp(ref, expect) != 0) {
        failf(file, line, "the test's reference parser says \"%s\" for "
              "\"%s\", the expectation \"%s\"", ref,
              want ? esc(want) : "(null)", expect);
    }
}

#define CHOOSE(want, expect) \
    check_choose(__FILE__, __LINE__, want, cfg_256_512, 2, expect)
#define CHOOSE_N(want, names, n, expect) \
    check_choose(__FILE__, __LINE__, want, names, n, expect)

/* ------------------------------------------------------------------ */
/* cc_fields_choose                                                    */

/* No Want- field: every configured algorithm, in configured order. */
static void test_choose_absent(void)
{
    CHOOSE(NULL, "01");
    CHOOSE_N(NULL, cfg_512_256, 2, "01");
    CHOOSE_N(NULL, cfg_256_512, 1, "0");
    CHOOSE_N(NULL, cfg_512_256 + 1, 1, "0");
    CHOOSE_N(NULL, cfg_256_512, 0, "");
    /* nothing configured: nothing, whatever the field */
    CHOOSE_N("sha-256=10", cfg_256_512, 0, "");
    CHOOSE_N("garbage!", cfg_256_512, 0, "");
}

/* An empty field, or only spaces: an empty dictionary, which rates
 * nothing. */
static void test_choose_empty(void)
{
    CHOOSE("", "01");
    CHOOSE(" ", "01");
    CHOOSE("    ", "01");
    CHOOSE_N("", cfg_512_256, 2, "01");
    CHOOSE_N("", cfg_256_512, 1, "0");
}

/* Preferences 0 to 10: most preferred first; 0 is "not this one"; the
 * unrated are left out when another is rated. */
static void test_choose_preferences(void)
{
    int p;

    CHOOSE("sha-256=1, sha-512=2", "10");
    CHOOSE("sha-256=2, sha-512=1", "01");
    CHOOSE("sha-512=10, sha-256=9", "10");
    CHOOSE("sha-256=10, sha-512=1", "01");
    CHOOSE("sha-256=10", "0");                /* sha-512 unrated */
    CHOOSE("sha-512=1", "1");
    CHOOSE("sha-512=3, sha-256=0", "1");
    CHOOSE("sha-256=0, sha-512=10", "1");
    for (p = 0; p <= 10; p++) {
        char f[64];
        snprintf(f, sizeof(f), "sha-256=%d", p);
        CHOOSE(f, p == 0 ? "" : "0");
        snprintf(f, sizeof(f), "sha-512=%d", p);
        CHOOSE(f, p == 0 ? "" : "1");
        snprintf(f, sizeof(f), "sha-256=%d, sha-512=%d", p, 10 - p);
        CHOOSE(f, p == 0 ? "1" : p == 10 ? "0" : p > 5 ? "01"
                  : p < 5 ? "10" : "01");
    }
    /* the same with the other configured order: indices follow it */
    CHOOSE_N("sha-256=1, sha-512=2", cfg_512_256, 2, "01");
    CHOOSE_N("sha-256=2, sha-512=1", cfg_512_256, 2, "10");
    CHOOSE_N("sha-256=7", cfg_512_256, 2, "1");
    /* one configured algorithm */
    CHOOSE_N("sha-512=3", cfg_512_256, 1, "0");
    CHOOSE_N("sha-512=0", cfg_512_256, 1, "");
    CHOOSE_N("sha-256=3", cfg_512_256, 1, "0");   /* rates none of ours */
    CHOOSE_N("sha-256=3, sha-512=1", cfg_512_256, 1, "0");
    /* integers: leading zeros, -0, 15 digits */
    CHOOSE("sha-256=010, sha-512=9", "01");
    CHOOSE("sha-256=0000000000000, sha-512=9", "1");
    CHOOSE("sha-256=-0, sha-512=9", "1");          /* -0 is 0 */
    CHOOSE("sha-256=000000000000010", "0");        /* 15 digits: 10 */
}

/* Ties go in configured order, not in the field's order. */
static void test_choose_ties(void)
{
    CHOOSE("sha-256=5, sha-512=5", "01");
    CHOOSE("sha-512=5, sha-256=5", "01");
    CHOOSE_N("sha-256=5, sha-512=5", cfg_512_256, 2, "01");
    CHOOSE_N("sha-512=5, sha-256=5", cfg_512_256, 2, "01");
    CHOOSE("sha-256=10, sha-512=10", "01");
    CHOOSE("sha-256=1, sha-512=1", "01");
}

/* All rated 0: none.  One rated 0 and the other unrated: none too (the
 * field rates one, so the unrated one is left out, and the rated one is
 * refused). */
static void test_choose_zero(void)
{
    CHOOSE("sha-256=0, sha-512=0", "");
    CHOOSE("sha-512=0, sha-256=0", "");
    CHOOSE("sha-256=0", "");
    CHOOSE("sha-512=0", "");
    CHOOSE("sha-256=0, sha-384=5", "");
    CHOOSE("sha-256=0, sha-512", "");          /* true is no preference */
    CHOOSE("sha-256=0, sha-512=11", "");       /* out of range: none */
    CHOOSE_N("sha-256=0, sha-512=0", cfg_512_256, 2, "");
}

/* A key given again counts with its last value, whatever it is. */
static void test_choose_last_value_wins(void)
{
    CHOOSE("sha-256=1, sha-512=2, sha-256=3", "01");
    CHOOSE("sha-256=3, sha-512=2, sha-256=1", "10");
    CHOOSE("sha-256=9, sha-256=0, sha-512=1", "1");
    CHOOSE("sha-256=0, sha-256=9, sha-512=1", "01");
    CHOOSE("sha-256=9, sha-256", "01");        /* true: unrated, none rated */
    CHOOSE("sha-256=9, sha-512=1, sha-256", "1");
    CHOOSE("sha-256, sha-256=4", "0");
    CHOOSE("sha-256=9, sha-256=\"9\", sha-512=2", "1");
    CHOOSE("sha-256=9, sha-256=(9), sha-512=2", "1");
    CHOOSE("sha-256=9, sha-256=11, sha-512=2", "1");
    CHOOSE("sha-512=1, sha-512=1, sha-512=1, sha-512=6", "1");
}

/* Parameters are allowed, and do not change the value. */
static void test_choose_parameters(void)
{
    CHOOSE("sha-256=3;a=1, sha-512=2;q", "01");
    CHOOSE("sha-256=3;a=1;b=?0;c=\"x\";d=:AAA=:;e=tok;f=1.5;g=-2, "
           "sha-512=4", "10");
    CHOOSE("sha-256=3; a=1, sha-512=4", "10");  /* SP after ';' */
    CHOOSE("sha-256=3;   a=1;  b, sha-512=4", "10");
    CHOOSE("sha-256=3;*x=1, sha-512=4", "10");
    CHOOSE("sha-256=3;sha-512=9", "0");       /* a parameter, not a member */
    CHOOSE("sha-256=3;q=10", "0");
    CHOOSE("sha-256;q=9, sha-512=1", "1");    /* a bare key with parameters */
}

/* A bare key is the Boolean true: no preference. */
static void test_choose_bare_key(void)
{
    CHOOSE("sha-256", "01");
    CHOOSE("sha-512", "01");
    CHOOSE("sha-256, sha-512", "01");
    CHOOSE("sha-256, sha-512=1", "1");
    CHOOSE("sha-512, sha-256=1", "0");
    CHOOSE("sha-256=?1, sha-512=2", "1");     /* an explicit Boolean */
    CHOOSE("sha-256=?0, sha-512=2", "1");
}

/* Values that are no integer from 0 to 10: no preference for that key,
 * the rest of the field counts. */
static void test_choose_other_values(void)
{
    /* inner lists */
    CHOOSE("sha-256=(1 2), sha-512=1", "1");
    CHOOSE("sha-256=(), sha-512=1", "1");
    CHOOSE("sha-256=( ), sha-512=1", "1");
    CHOOSE("sha-256=(1  2), sha-512=1", "1");
    CHOOSE("sha-256=( 1 2 ), sha-512=1", "1");
    CHOOSE("sha-256=(1;a=2 tok \"s\" :AAAA: ?1 1.5);q=3, sha-512=1", "1");
    CHOOSE("sha-256=(10)", "01");
    /* strings */
    CHOOSE("sha-256=\"10\", sha-512=1", "1");
    CHOOSE("sha-256=\"\", sha-512=1", "1");
    CHOOSE("sha-256=\"a \\\"q\\\" \\\\ b\", sha-512=1", "1");
    CHOOSE("sha-256=\"a,b=c\", sha-512=1", "1");
    /* byte sequences */
    CHOOSE("sha-256=:AAAA:, sha-512=1", "1");
    CHOOSE("sha-256=::, sha-512=1", "1");
    CHOOSE("sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:, "
           "sha-512=1", "1");
    /* tokens */
    CHOOSE("sha-256=ten, sha-512=1", "1");
    CHOOSE("sha-256=*, sha-512=2", "1");
    CHOOSE("sha-256=A1/b:c!#$%&'*+-.^_`|~, sha-512=2", "1");
    CHOOSE("sha-256=T, sha-512=2", "1");
    /* decimals, even whole ones */
    CHOOSE("sha-256=5.0, sha-512=1", "1");
    CHOOSE("sha-256=5.5", "01");
    CHOOSE("sha-256=1.000, sha-512=1", "1");
    CHOOSE("sha-256=-1.5, sha-512=1", "1");
    CHOOSE("sha-256=123456789012.123, sha-512=1", "1");   /* 12 + 3 digits */
    /* integers out of range */
    CHOOSE("sha-256=11, sha-512=3", "1");
    CHOOSE("sha-256=11", "01");
    CHOOSE("sha-256=-1, sha-512=3", "1");
    CHOOSE("sha-256=-1", "01");
    CHOOSE("sha-256=999999999999999, sha-512=1", "1");    /* 15 digits */
    CHOOSE("sha-256=-999999999999999, sha-512=2", "1");
}

/* Keys that name no configured algorithm are ignored; so are those of
 * algorithms not configured. */
static void test_choose_unknown_keys(void)
{
    CHOOSE("sha-384=10, sha-512=2", "1");
    CHOOSE("md5=10", "01");
    CHOOSE("sha=10, unixsum=3, adler=1, crc32c=5", "01");
    CHOOSE("id-sha-256=3", "01");
    CHOOSE("sha-2560=3, sha-25=4", "01");
    CHOOSE("sha-256.=3", "01");
    CHOOSE("*foo=1, a_b.c-d*=2, sha-512=3", "1");
    CHOOSE("sha-256*=1, sha-512=3", "1");
    CHOOSE_N("sha-256=1", cfg_512_256, 1, "0");      /* not configured */
    CHOOSE_N("sha-256=0", cfg_512_256, 1, "0");
}

/* Spaces and tabs: SP before the first member and after the last, OWS
 * (SP and HTAB) around commas. */
static void test_choose_whitespace(void)
{
    CHOOSE(" sha-256=1,sha-512=2", "10");
    CHOOSE("   sha-256=1,sha-512=2", "10");
    CHOOSE("sha-256=1 ,  sha-512=2", "10");
    CHOOSE("sha-256=1\t,\tsha-512=2", "10");
    CHOOSE("sha-256=1 \t , \t sha-512=2", "10");
    CHOOSE("sha-256=1, sha-512=2  ", "10");
    CHOOSE("sha-256=1, sha-512=2\t", "10");    /* OWS after a member */
    CHOOSE("sha-256=1,sha-512=2", "10");
}

/* Not a dictionary: ignored as a whole, so the configured set, whatever
 * the members before or after the flaw rate. */
static void test_choose_malformed(void)
{
    static const char *const bad[] = {
        /* upper case keys */
        "SHA-256=1, sha-512=2",
        "sha-256=1, Sha-512=2",
        "sha-256=1, sHA-512=2",
        "sha-256=1;Q=1, sha-512=2",
        /* commas */
        "sha-256=1, sha-512=2,",
        "sha-256=1, sha-512=2, ",
        "sha-256=1, sha-512=2 ,\t",
        ", sha-256=1, sha-512=2",
        "sha-256=1,, sha-512=2",
        ",",
        /* a missing value */
        "sha-256=, sha-512=1",
        "sha-256=",
        "sha-512=1, sha-256=",
        "sha-256=;a=1, sha-512=1",
        /* integers and decimals the RFC refuses */
        "sha-256=1000000000000000, sha-512=1",        /* 16 digits */
        "sha-256=-1000000000000000, sha-512=1",
        "sha-256=0000000000000010, sha-512=1",
        "sha-256=99999999999999999999, sha-512=1",
        "sha-256=1234567890123.4, sha-512=1",         /* 13 digits, '.' */
        "sha-256=1.0000, sha-512=1",                  /* 4 decimals */
        "sha-256=1., sha-512=1",
        "sha-256=-, sha-512=1",
        "sha-256=--1, sha-512=1",
        "sha-256=-a, sha-512=1",
        "sha-256=.5, sha-512=1",
        "sha-256=+5, sha-512=1",
        /* stray characters */
        "sha-256=1 sha-512=2",
        "sha-256=1#, sha-512=2",
        "sha-256=1, sha-512=2)",
        "sha-256 =1, sha-512=2",
        "sha-256= 1, sha-512=2",
        "sha-256=1;, sha-512=2",
        "sha-256=1; , sha-512=2",
        "sha-256=1 ;a, sha-512=2",
        "sha-256=1, sha-512=2;",
        "sha-256=1, =2",
        "=1",
        "sha-256==1",
        "1sha=2, sha-512=1",
        "-sha=2, sha-512=1",
        "_x=2, sha-512=1",
        ".x=2, sha-512=1",
        /* strings, byte sequences, Booleans, inner lists gone wrong */
        "sha-256=\"unterminated, sha-512=1",
        "sha-256=\"bad \\x escape\", sha-512=1",
        "sha-256=\"tab\tinside\", sha-512=1",
        "sha-256=\"trailing backslash\\",
        "sha-256=:AA$A:, sha-512=1",
        "sha-256=:AAAA, sha-512=1",
        "sha-256=:AA AA:, sha-512=1",
        "sha-256=?2, sha-512=1",
        "sha-256=?, sha-512=1",
        "sha-256=?true, sha-512=1",
        "sha-256=(1 2, sha-512=1",
        "sha-256=(1,2), sha-512=1",
        "sha-256=((1)), sha-512=1",
        "sha-256=(1)(2), sha-512=1",
        "sha-256=(1;), sha-512=1",
        "sha-256=(1)2, sha-512=1",
        "sha-256=(\"x\"\"y\"), sha-512=1",
        "sha-256=!, sha-512=1",
        "sha-256=/x, sha-512=1",
        /* NUL-free garbage, and bytes that are not ASCII */
        "\x01\x02\x03",
        "\xff\xfe",
        "sha-256=1\x7f, sha-512=2",
        "sha-256=1, sha-512=2\x80",
        "sha-256=\"caf\xc3\xa9\", sha-512=1",
        "sha-256=caf\xc3\xa9, sha-512=1",
        "\xef\xbb\xbfsha-256=1, sha-512=2",           /* a UTF-8 BOM */
        "=",
        ";",
        "=====",
        ")",
        "\"",
        /* a leading tab (RFC 9651: leading SP only), a leading CR/LF */
        "\tsha-256=1, sha-512=2",
        "\t",
        " \tsha-256=1, sha-512=2",
        "\rsha-256=1, sha-512=2",
        "\nsha-256=1, sha-512=2",
        "sha-256=1,\nsha-512=2",
        "sha-256=1\r\n",
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHOOSE(bad[i], "01");
        CHOOSE_N(bad[i], cfg_512_256, 2, "01");
        CHOOSE_N(bad[i], cfg_256_512, 1, "0");
    }
}

/* Big fields: many members, long values; the last rating counts. */
static void test_choose_long(void)
{
    size_t members = opt_quick ? 2000 : 20000, i, len = 0;
    size_t cap = members * 16 + 70000;
    char *f = malloc(cap);

    REQUIRE(f);
    for (i = 0; i < members; i++) {
        len += (size_t)snprintf(f + len, cap - len, "%s=%zu, ",
                                i % 3 ? "k" : "sha-256", i % 11);
    }
    snprintf(f + len, cap - len, "sha-512=3");
    /* the last sha-256 is member (members - 1) / 3 * 3: its value is
     * that % 11 */
    {
        size_t last = (members - 1) / 3 * 3;
        int v = (int)(last % 11);
        const char *want = v > 10 ? "1" : v == 0 ? "1" : v > 3 ? "01"
                         : v < 3 ? "10" : "01";
        CHOOSE(f, want);
    }
    /* a string value of 64 KiB */
    len = (size_t)snprintf(f, cap, "sha-256=\"");
    for (i = 0; i < 65536 && len + 32 < cap; i++) {
        f[len++] = (char)('a' + i % 26);
    }
    snprintf(f + len, cap - len, "\", sha-512=2");
    CHOOSE(f, "1");
    /* ... and the same without its closing quote */
    f[len] = '\0';
    CHOOSE(f, "01");
    free(f);
}

/* RFC 9651 (which cc_fields.h names) added two kinds of bare item to RFC
 * 8941: Dates (@1659578233) and Display Strings (%"caf%c3%a9").  A field
 * using one is a valid dictionary: the member is no preference, the rest
 * of the field counts ("sha-256=@1659578233, sha-512=1" is sha-512 alone). */
static void test_choose_rfc9651_dates_display_strings(void)
{
    CHOOSE("sha-256=@1659578233, sha-512=1", "1");
    CHOOSE("sha-256=@-62135596800, sha-512=1", "1");
    CHOOSE("sha-256=%\"caf%c3%a9\", sha-512=1", "1");
    CHOOSE("sha-256=%\"\", sha-512=1", "1");
    CHOOSE("sha-256=1;d=@0, sha-512=2", "10");
    CHOOSE("sha-256=(@1 %\"x\"), sha-512=1", "1");
    /* and what is no valid date or display string stays malformed */
    CHOOSE("sha-256=@1.5, sha-512=1", "01");
    CHOOSE("sha-256=%\"%C3%A9\", sha-512=1", "01");
    CHOOSE("sha-256=%\"%c3\", sha-512=1", "01");
}

/* The reference parser itself, on the RFC's own examples, so that a
 * mistake of the test cannot hide one of the unit. */
static void test_reference_parser(void)
{
    static const struct {
        const char *field;
        int ok;
    } cases[] = {
        { "en=\"Applepie\", da=:w4ZibGV0w6ZydGU=:", 1 },
        { "a=?0, b, c; foo=bar", 1 },
        { "rating=1.5, feelings=(joy sadness)", 1 },
        { "a=(1 2), b=3, c=4;aa=bb, d=(5 6);valid", 1 },
        { "foo=1, bar=2", 1 },
        { "", 1 },
        { "a=1,", 0 },
        { "A=1", 0 },
        { "\ta=1", 0 },
        { "a=1\t", 1 },
        { " a=1 ", 1 },
        { "a=@1", 1 },
        { "a=%\"x%20y\"", 1 },
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CHECK_MSG(sf_parse_dictionary(cases[i].field, strlen(cases[i].field),
                                      SF_DATES_DISPLAY, NULL, NULL)
                  == cases[i].ok, "reference parser on \"%s\": want %d",
                  esc(cases[i].field), cases[i].ok);
    }
    CHECK(!sf_parse_dictionary("a=@1", 4, 0, NULL, NULL));   /* RFC 8941 */
    CHECK(sf_b64_decode("AAA=", 4, 1, NULL, 0, NULL));
    CHECK(!sf_b64_decode("AAB=", 4, 1, NULL, 0, NULL));      /* pad bits */
    CHECK(!sf_b64_decode("AAA", 3, 1, NULL, 0, NULL));       /* unpadded */
    CHECK(sf_b64_decode("AAA", 3, 0, NULL, 0, NULL));
    CHECK(!sf_b64_decode("A", 1, 0, NULL, 0, NULL));
}

/* Random dictionaries (and near misses) built from the pieces the grammar
 * has: cc_fields_choose() answers as the reference parser does.  Dates
 * and display strings have their own test (choose_rfc9651_...). */
static void test_choose_random_vs_reference(void)
{
    static const char *const keys[] = {
        "sha-256", "sha-512", "sha-384", "a", "*", "sha-256", "sha-512",
        "x_y.z-1*",
    };
    static const char *const values[] = {
        "0", "1", "2", "5", "9", "10", "11", "-1", "007", "1.5", "5.0",
        "\"s\"", "tok", "?1", "?0", ":AAAA:", "()", "(1 2)", "3", "7",
    };
    static const char *const params[] = {
        "", "", "", "", ";a=1", ";q", "; b=?0", ";a=\"x\"",
    };
    static const char *const seps[] = {
        ", ", ",", " , ", "\t,\t", ", \t", ", ",
    };
    /* one flaw now and then, anywhere */
    static const char *const flaws[] = {
        "SHA-256=1", "x=", "x=1000000000000000", "x=1.0000", "x=\"",
        "x=:x", "x=?", "x=-", "x=(1 (2))", ",", "x=1;", "\t",
    };
    static const char *const leads[] = { "", "", " ", "  " };
    static const char *const trails[] = { "", "", " ", "\t" };
    static const char *const *cfgs[] = { cfg_256_512, cfg_512_256 };
    uint64_t s = 0x5eed;
    int round, rounds = opt_quick ? 3000 : 30000, mismatches = 0;
    int rated = 0, malformed = 0;

    for (round = 0; round < rounds; round++) {
        char f[512];
        size_t len = 0;
        int members = (int)(rnd_next(&s) % 5), m, c, n;
        int flaw_at = rnd_next(&s) % 4 == 0 ? (int)(rnd_next(&s) % 6) : -1;

        len += (size_t)snprintf(f + len, sizeof(f) - len, "%s",
                                leads[rnd_next(&s) % 4]);
        for (m = 0; m < members; m++) {
            uint64_t x = rnd_next(&s);
            if (m > 0) {
                len += (size_t)snprintf(f + len, sizeof(f) - len, "%s",
                                        seps[x % 6]);
            }
            x >>= 3;
            if (m == flaw_at) {
                len += (size_t)snprintf(f + len, sizeof(f) - len, "%s",
                                        flaws[x % 12]);
                continue;
            }
            len += (size_t)snprintf(f + len, sizeof(f) - len, "%s",
                                    keys[x % 8]);
            x >>= 4;
            if (x % 4) {
                len += (size_t)snprintf(f + len, sizeof(f) - len, "=%s",
                                        values[(x >> 2) % 20]);
            }
            x >>= 8;
            len += (size_t)snprintf(f + len, sizeof(f) - len, "%s",
                                    params[x % 8]);
        }
        snprintf(f + len, sizeof(f) - len, "%s",
                 flaw_at == 5 ? "," : trails[rnd_next(&s) % 4]);
        c = (int)(rnd_next(&s) % 2);
        n = 1 + (int)(rnd_next(&s) % 2);
        {
            const char *got = choose_str(__FILE__, __LINE__, f, cfgs[c], n);
            const char *ref = ref_str(f, cfgs[c], n, 0);

            /* what kind of case it was, to see that all kinds come up */
            if (!sf_parse_dictionary(f, strlen(f), 0, NULL, NULL)) {
                malformed++;
            }
            else if (strcmp(ref, n == 1 ? "0" : "01") != 0) {
                rated++;
            }
            if (strcmp(got, ref) != 0 && mismatches++ < 10) {
                failf(__FILE__, __LINE__, "choose(\"%s\") with %d of %s: "
                      "\"%s\", the reference parser \"%s\"", esc(f), n,
                      cfgs[c][0], got, ref);
            }
        }
    }
    CHECK_INT(mismatches, 0);
    CHECK_MSG(rated > rounds / 20 && malformed > rounds / 20
              && rated + malformed < rounds - rounds / 10,
              "%d rounds: %d rated, %d malformed", rounds, rated, malformed);
    notef("%d rounds: %d rated, %d malformed", rounds, rated, malformed);
}

/* ------------------------------------------------------------------ */
/* cc_fields_format                                                    */

/* SHA-256 and SHA-512 of "" and "abc" (FIPS 180-2's examples), as bytes,
 * and their base64 as RFC 9530's examples would write them. */
static const unsigned char sha256_empty[32] = {
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8,
    0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c,
    0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
};
static const unsigned char sha256_abc[32] = {
    0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde,
    0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
    0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
};
static const unsigned char sha512_empty[64] = {
    0xcf, 0x83, 0xe1, 0x35, 0x7e, 0xef, 0xb8, 0xbd, 0xf1, 0x54, 0x28, 0x50,
    0xd6, 0x6d, 0x80, 0x07, 0xd6, 0x20, 0xe4, 0x05, 0x0b, 0x57, 0x15, 0xdc,
    0x83, 0xf4, 0xa9, 0x21, 0xd3, 0x6c, 0xe9, 0xce, 0x47, 0xd0, 0xd1, 0x3c,
    0x5d, 0x85, 0xf2, 0xb0, 0xff, 0x83, 0x18, 0xd2, 0x87, 0x7e, 0xec, 0x2f,
    0x63, 0xb9, 0x31, 0xbd, 0x47, 0x41, 0x7a, 0x81, 0xa5, 0x38, 0x32, 0x7a,
    0xf9, 0x27, 0xda, 0x3e,
};
static const unsigned char sha512_abc[64] = {
    0xdd, 0xaf, 0x35, 0xa1, 0x93, 0x61, 0x7a, 0xba, 0xcc, 0x41, 0x73, 0x49,
    0xae, 0x20, 0x41, 0x31, 0x12, 0xe6, 0xfa, 0x4e, 0x89, 0xa9, 0x7e, 0xa2,
    0x0a, 0x9e, 0xee, 0xe6, 0x4b, 0x55, 0xd3, 0x9a, 0x21, 0x92, 0x99, 0x2a,
    0x27, 0x4f, 0xc1, 0xa8, 0x36, 0xba, 0x3c, 0x23, 0xa3, 0xfe, 0xeb, 0xbd,
    0x45, 0x4d, 0x44, 0x23, 0x64, 0x3c, 0xe8, 0x0e, 0x2a, 0x9a, 0xc9, 0x4f,
    0xa5, 0x4c, 0xa4, 0x9f,
};
#define B64_SHA256_EMPTY "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
#define B64_SHA256_ABC   "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
#define B64_SHA512_EMPTY "z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXys" \
                         "P+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg=="
#define B64_SHA512_ABC   "3a81oZNherrMQXNJriBBMRLm+k6JqX6iCp7u5ktV05ohkpkqJ0/Bq" \
                         "Da6PCOj/uu9RU1EI2Q86A4qmslPpUyknw=="

/* What a member the syntax check saw: its key and decoded bytes. */
/* cc_fields_format() of n digests into an exact-size heap buffer of
 * CC_FIELDS_VALUE_MAX bytes (the digests in exact-size copies too); the
 * output is checked: its length is the return value and below the
 * bound, nothing is written past its NUL, and it reads back (strict RFC
 * 9651, canonical base64) as n members, keys names[i], bytes bytes[i].
 * Returns the output (static buffer). */
static const char *format_checked(const char *file, int line,
                                  const char *const *names,
                                  const unsigned char *const *bytes,
                                  const apr_size_t *lens, int n)
{
    static char out[CC_FIELDS_VALUE_MAX];
    char *buf = malloc(CC_FIELDS_VALUE_MAX);
    unsigned char *copies[CC_FIELDS_MAX];
    sf_bytes_seen_t seen;
    apr_size_t len, j;
    int i;

    out[0] = '\0';
    if (!buf) {
        failf(file, line, "malloc");
        return out;
    }
    for (i = 0; i < n; i++) {
        copies[i] = malloc(lens[i] ? lens[i] : 1);
        if (copies[i] && lens[i]) {
            memcpy(copies[i], bytes[i], lens[i]);
        }
    }
    memset(buf, 0xA5, CC_FIELDS_VALUE_MAX);
    len = cc_fields_format(names, (const unsigned char *const *)copies, lens,
                           n, buf);
    if (len >= CC_FIELDS_VALUE_MAX) {
        failf(file, line, "length %zu, the bound %d", (size_t)len,
              CC_FIELDS_VALUE_MAX);
    }
    else {
        if (buf[len] != '\0' || strlen(buf) != len) {
            failf(file, line, "returned %zu, the string has %zu bytes",
                  (size_t)len, strnlen(buf, CC_FIELDS_VALUE_MAX));
        }
        for (j = len + 1; j < CC_FIELDS_VALUE_MAX; j++) {
            if ((unsigned char)buf[j] != 0xA5) {
                failf(file, line, "byte %zu past the NUL written", (size_t)j);
                break;
            }
        }
        memcpy(out, buf, len + 1);
        memset(&seen, 0, sizeof(seen));
        if (!sf_parse_dictionary(buf, len, SF_B64_CANONICAL, sf_bytes_note,
                                 &seen)
            || seen.bad || seen.count != n) {
            failf(file, line, "\"%s\" is no dictionary of %d byte sequences "
                  "(%d read, %d bad)", esc(buf), n, seen.count, seen.bad);
        }
        else {
            for (i = 0; i < n; i++) {
                if (strcmp(seen.key[i], names[i]) != 0 || seen.len[i] != lens[i]
                    || memcmp(seen.bytes[i], bytes[i], lens[i]) != 0) {
                    failf(file, line, "member %d of \"%s\" is not %s of the "
                          "%zu bytes given", i, esc(buf), names[i],
                          (size_t)lens[i]);
                }
            }
        }
        /* what a client makes of it: a Want- field of byte sequences is
         * no preference, so choose() answers with all */
        {
            int chosen[CC_FIELDS_MAX];
            int count = cc_fields_choose(buf, names, n, chosen);
            if (count != n) {
                failf(file, line, "choose(\"%s\"): %d, want %d", esc(buf),
                      count, n);
            }
        }
    }
    for (i = 0; i < n; i++) {
        free(copies[i]);
    }
    free(buf);
    return out;
}

#define FORMAT(names, bytes, lens, n) \
    format_checked(__FILE__, __LINE__, names, bytes, lens, n)

static void test_format_known(void)
{
    const char *n256[] = { "sha-256" }, *n512[] = { "sha-512" };
    const unsigned char *b[2];
    apr_size_t l[2];

    b[0] = sha256_empty; l[0] = 32;
    CHECK_STR(FORMAT(n256, b, l, 1), "sha-256=:" B64_SHA256_EMPTY ":");
    b[0] = sha256_abc;
    CHECK_STR(FORMAT(n256, b, l, 1), "sha-256=:" B64_SHA256_ABC ":");
    b[0] = sha512_empty; l[0] = 64;
    CHECK_STR(FORMAT(n512, b, l, 1), "sha-512=:" B64_SHA512_EMPTY ":");
    b[0] = sha512_abc;
    CHECK_STR(FORMAT(n512, b, l, 1), "sha-512=:" B64_SHA512_ABC ":");
}

static void test_format_two(void)
{
    const unsigned char *b[2] = { sha256_abc, sha512_abc };
    apr_size_t l[2] = { 32, 64 };
    const unsigned char *rb[2] = { sha512_empty, sha256_empty };
    apr_size_t rl[2] = { 64, 32 };
    const char *got;

    got = FORMAT(cfg_256_512, b, l, 2);
    CHECK_STR(got, "sha-256=:" B64_SHA256_ABC ":, sha-512=:" B64_SHA512_ABC ":");
    CHECK_INT(strlen(got), 7 + 2 + 44 + 1 + 2 + 7 + 2 + 88 + 1);
    /* in the order given */
    got = FORMAT(cfg_512_256, rb, rl, 2);
    CHECK_STR(got, "sha-512=:" B64_SHA512_EMPTY ":, sha-256=:" B64_SHA256_EMPTY
              ":");
    /* n = 1 of two given: the first only */
    got = FORMAT(cfg_256_512, b, l, 1);
    CHECK_STR(got, "sha-256=:" B64_SHA256_ABC ":");
}

/* n = 0: nothing, length 0, an empty string. */
static void test_format_none(void)
{
    char buf[CC_FIELDS_VALUE_MAX];
    const unsigned char *b[1] = { sha256_abc };
    apr_size_t l[1] = { 32 };

    memset(buf, 'x', sizeof(buf));
    CHECK_INT(cc_fields_format(cfg_256_512, b, l, 0, buf), 0);
    CHECK_INT(buf[0], '\0');
    CHECK_STR(FORMAT(cfg_256_512, b, l, 0), "");
}

/* The longest value: two digests of 64 bytes under the two names there
 * are (and, past them, the longest the bound allows). */
static void test_format_longest(void)
{
    unsigned char a[64], c[64];
    const unsigned char *b[2] = { a, c };
    apr_size_t l[2] = { 64, 64 };
    const char *names[2] = { "sha-512", "sha-256" };
    const char *got;

    memset(a, 0xff, sizeof(a));
    memset(c, 0x00, sizeof(c));
    got = FORMAT(names, b, l, 2);
    CHECK_INT(strlen(got), 7 + 2 + 88 + 1 + 2 + 7 + 2 + 88 + 1);
    CHECK(strlen(got) < CC_FIELDS_VALUE_MAX);
    /* keys of 16 bytes, as long as the unit lets a name be */
    {
        const char *longnames[2] = { "sha-512-16-bytes", "abcdefghijklmnop" };
        got = FORMAT(longnames, b, l, 2);
        CHECK_INT(strlen(got), 2 * (16 + 2 + 88 + 1) + 2);
    }
}

/* Every digest length 0 to 64, random bytes, one and two members: the
 * output reads back as what was given. */
static void test_format_lengths(void)
{
    unsigned char a[64], c[64];
    const unsigned char *b[2] = { a, c };
    apr_size_t l[2];
    uint64_t s = 77;
    apr_size_t i;

    for (i = 0; i <= 64; i++) {
        fill_pattern(a, sizeof(a), rnd_next(&s));
        fill_pattern(c, sizeof(c), rnd_next(&s));
        l[0] = i;
        l[1] = 64 - i;
        FORMAT(cfg_256_512, b, l, 1);
        FORMAT(cfg_512_256, b, l, 2);
    }
}

/* ------------------------------------------------------------------ */
/* Driver                                                              */

static const struct unit_test tests[] = {
    T(reference_parser),
    T(choose_absent),
    T(choose_empty),
    T(choose_preferences),
    T(choose_ties),
    T(choose_zero),
    T(choose_last_value_wins),
    T(choose_parameters),
    T(choose_bare_key),
    T(choose_other_values),
    T(choose_unknown_keys),
    T(choose_whitespace),
    T(choose_malformed),
    T(choose_long),
    T(choose_random_vs_reference),
    T(choose_rfc9651_dates_display_strings),
    T(format_known),
    T(format_two),
    T(format_none),
    T(format_longest),
    T(format_lengths),
};

int main(int argc, char **argv)
{
    static const struct unit_suite suite = {
        "test_fields", "cc_fields.c", tests, UNIT_COUNT(tests), NULL
    };
    return unit_main(argc, argv, &suite);
}
