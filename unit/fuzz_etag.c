/* unit/fuzz_etag.c: libFuzzer target for the entity-tag and precondition
 * code of validators.c.
 *
 * Build: clang -fsanitize=fuzzer,address,undefined (see unit/unit.mk),
 * linked with validators.c alone: no cc_digest, no libcrypto, no libxxhash.
 * Tags of ours are generated from the input, not formatted from digests.
 *
 * Input: one mode byte, then up to five parts separated by NUL bytes:
 *   field \0 etag \0 if-none-match \0 if-modified-since \0 if-unmodified-since
 * Every part is copied into a heap block of its exact size (plus the NUL),
 * so ASan reports any read past it.  A missing part is NULL.
 *
 * Three things are checked on every input:
 *   1. raw: cc_etag_list_match(field, etag) in both modes, and
 *      cc_etag_is_valid() on every part, against invariants that hold
 *      whatever the bytes are;
 *   2. structured: the bytes also drive a generator of well-formed lists
 *      built around a tag of ours, whose expected result is known exactly;
 *   3. cc_evaluate_preconditions() with the parts as header values,
 *      against the RFC 9110 13.2.2 evaluation order.
 */
#include "validators.h"

#include <apr_date.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_PROGRAM "fuzz_etag"
#include "fuzz_assert.h"

static const char *pr(const char *s)
{
    return s ? s : "(null)";
}

/* ------------------------------------------------------------------ */
/* Helpers that follow the documented rules, written independently     */

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static int is_etagc(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80;
}

/* The field is "*" with optional OWS around it. */
static int is_star(const char *f)
{
    if (!f) {
        return 0;
    }
    while (is_ows(*f)) f++;
    if (*f++ != '*') {
        return 0;
    }
    while (is_ows(*f)) f++;
    return *f == '\0';
}

/* Is s[0..len) one entity-tag?  Reference for cc_etag_is_valid(). */
static int ref_valid(const char *s, size_t len, int *weak)
{
    size_t i = 0;

    *weak = 0;
    if (len >= 2 && s[0] == 'W' && s[1] == '/') {
        *weak = 1;
        i = 2;
    }
    if (len - i < 2 || s[i] != '"' || s[len - 1] != '"') {
        return 0;
    }
    for (i++; i < len - 1; i++) {
        if (!is_etagc((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

/* Exact-size heap copy; the NUL is the only byte past len. */
static char *dup_exact(const char *s, size_t len)
{
    char *d = malloc(len + 1);
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

static int valid_call(const char *s, size_t len)
{
#ifdef FUZZ_IS_VALID_NEEDS_NUL
    /* work-around for the known over-read: a terminated copy */
    char *c = dup_exact(s, len);
    int r = cc_etag_is_valid(c, len);
    free(c);
    return r;
#else
    /* a block of exactly len bytes: what the (ptr, len) contract allows */
    char *c = malloc(len ? len : 1);
    int r;
    memcpy(c, s, len);
    r = cc_etag_is_valid(c, len);
    free(c);
    return r;
#endif
}

/* ------------------------------------------------------------------ */
/* 1. Raw input                                                         */

static void check_raw(const char *field, const char *etag)
{
    int w = cc_etag_list_match(field, etag, CC_COMPARE_WEAK);
    int s = cc_etag_list_match(field, etag, CC_COMPARE_STRONG);
    int ev = 0, eweak = 0;

    FUZZ_ASSERT(w == 0 || w == 1, "weak result %d", w);
    FUZZ_ASSERT(s == 0 || s == 1, "strong result %d", s);
    FUZZ_ASSERT(!s || w, "strong match without weak match: field [%s] etag [%s]",
                pr(field), pr(etag));
    if (!field) {
        FUZZ_ASSERT(!w, "NULL field matched");
    }
    if (is_star(field)) {
        FUZZ_ASSERT(w && s, "\"*\" did not match: field [%s] etag [%s]",
                    field, pr(etag));
    }
    if (etag) {
        ev = ref_valid(etag, strlen(etag), &eweak);
        FUZZ_ASSERT(!!valid_call(etag, strlen(etag)) == ev,
                    "cc_etag_is_valid([%s]) != %d", etag, ev);
    }
    if (!is_star(field) && (!etag || !ev)) {
        FUZZ_ASSERT(!w, "matched although ours is not a tag: field [%s] etag [%s]",
                    pr(field), pr(etag));
    }
    if (ev && eweak && !is_star(field)) {
        FUZZ_ASSERT(!s, "strong match of our weak tag: field [%s] etag [%s]",
                    pr(field), etag);
    }
    if (ev) {
        size_t n = strlen(etag);
        char *list, *gz;

        /* a field equal to our tag matches it */
        FUZZ_ASSERT(cc_etag_list_match(etag, etag, CC_COMPARE_WEAK),
                    "tag does not weakly match itself: [%s]", etag);
        FUZZ_ASSERT(cc_etag_list_match(etag, etag, CC_COMPARE_STRONG) == !eweak,
                    "tag vs itself, strong: [%s]", etag);
        /* ... in a list, after whatever the fuzzer gave as field (with a
         * comma in between, and the field's quotes balanced) */
        if (field && !strchr(field, '"')) {
            size_t fl = strlen(field);
            list = malloc(fl + n + 4);
            memcpy(list, field, fl);
            memcpy(list + fl, " , ", 3);
            memcpy(list + fl + 3, etag, n + 1);
            FUZZ_ASSERT(cc_etag_list_match(list, etag, CC_COMPARE_WEAK),
                        "tag not found after junk: field [%s]", list);
            FUZZ_ASSERT(cc_etag_list_match(list, etag, CC_COMPARE_STRONG) == !eweak,
                        "tag after junk, strong: field [%s]", list);
            free(list);
        }
        /* ... with a -gzip suffix, and as W/ */
        gz = malloc(n + 8);
        memcpy(gz, etag, n - 1);
        memcpy(gz + n - 1, "-gzip\"", 7);
        FUZZ_ASSERT(cc_etag_list_match(gz, etag, CC_COMPARE_WEAK),
                    "-gzip variant does not match: [%s] vs [%s]", gz, etag);
        memcpy(gz + n - 1, "-zip\"", 6);
        FUZZ_ASSERT(!cc_etag_list_match(gz, etag, CC_COMPARE_WEAK),
                    "-zip variant matches: [%s] vs [%s]", gz, etag);
        free(gz);
        if (!eweak) {
            char *wk = malloc(n + 3);
            memcpy(wk, "W/", 2);
            memcpy(wk + 2, etag, n + 1);
            FUZZ_ASSERT(cc_etag_list_match(wk, etag, CC_COMPARE_WEAK)
                        && !cc_etag_list_match(wk, etag, CC_COMPARE_STRONG),
                        "W/ of our tag: [%s]", wk);
            free(wk);
        }
    }
}

/* ------------------------------------------------------------------ */
/* 2. Structured lists with a known answer                              */

typedef struct {
    const uint8_t *p;
    size_t n;
} src_t;

static unsigned take(src_t *s)
{
    if (!s->n) {
        return 0;
    }
    s->n--;
    return *s->p++;
}

typedef struct {
    char  *b;
    size_t len, cap;
} buf_t;

static void put(buf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->b = realloc(b->b, b->cap);
    }
    memcpy(b->b + b->len, s, n);
    b->len += n;
    b->b[b->len] = '\0';
}

static void puts_(buf_t *b, const char *s)
{
    put(b, s, strlen(s));
}

/* An opaque-tag byte (etagc, never '"'), steered by the input. */
static char opaque_char(unsigned x)
{
    static const char common[] = "abcXYZ019+/=-_.,:;!#";
    if (x < 200) {
        return common[x % (sizeof(common) - 1)];
    }
    x = 0x21 + x % (0x7e - 0x21 + 1);
    if (x == '"') {
        x = 0x80 + (x & 0x7f);
    }
    return (char)x;
}

/* Does their opaque tag t (quotes excluded) match ours o: equal, or ours
 * plus "-gzip" or "-br"? */
static int ref_opaque_match(const char *t, size_t tl, const char *o, size_t ol)
{
    if (tl < ol || memcmp(t, o, ol) != 0) {
        return 0;
    }
    return tl == ol
        || (tl == ol + 5 && memcmp(t + ol, "-gzip", 5) == 0)
        || (tl == ol + 3 && memcmp(t + ol, "-br", 3) == 0);
}

static void put_ows(buf_t *b, unsigned x)
{
    static const char *const ows[] = { "", " ", "\t", "  ", " \t " };
    puts_(b, ows[x % 5]);
}

static void check_structured(const uint8_t *data, size_t size)
{
    src_t s = { data, size };
    buf_t ours = { 0 }, field = { 0 };
    char opaque[40], junk[40];
    size_t olen, i;
    int ours_weak, members, m, want_w = 0, want_s = 0, got_w, got_s;
    unsigned x;

    /* our tag: W/? "opaque" */
    x = take(&s);
    ours_weak = (x & 3) == 0;
    olen = (x >> 2) % 24;
    for (i = 0; i < olen; i++) {
        opaque[i] = opaque_char(take(&s));
    }
    opaque[olen] = '\0';
    /* malformed members are made from ours without its commas: a comma
     * inside a malformed member would make the list ambiguous (where does
     * the member end?), and then no answer is "the" right one */
    for (i = 0; i <= olen; i++) {
        junk[i] = opaque[i] == ',' ? 'c' : opaque[i];
    }
    if (ours_weak) {
        puts_(&ours, "W/");
    }
    puts_(&ours, "\"");
    puts_(&ours, opaque);
    puts_(&ours, "\"");

    members = (int)(take(&s) % 12);
    put_ows(&field, take(&s));
    for (m = 0; m < members; m++) {
        unsigned kind = take(&s) % 12;
        unsigned y = take(&s);
        int weak = 0, valid = 1, matches = 0;

        if (m > 0) {
            /* separators: OWS "," OWS, with extra empty members now and then */
            put_ows(&field, y);
            puts_(&field, ",");
            if (y & 0x20) {
                put_ows(&field, y >> 3);
                puts_(&field, ",");
            }
            put_ows(&field, y >> 6);
        }
        switch (kind) {
        case 0: case 1: case 2: case 3:
        case 4: case 5: case 6: case 7: {
            /* a valid tag: ours, ours with a suffix, ours edited, or
             * another; whether it matches is worked out from its bytes */
            char t[64];
            size_t tl = 0, k, n;
            static const char *const sfx[] = {
                "-gzip", "-br", "-deflate", "-gzip-gzip", "-br-gzip",
                "-GZIP", "gzip", "-b"
            };
            weak = (y >> 7) & 1;
            if (kind <= 3) {                     /* ours (+ suffix) */
                memcpy(t, opaque, olen);
                tl = olen;
                if (kind >= 2) {
                    n = strlen(sfx[y % 8]);
                    memcpy(t + tl, sfx[y % 8], n);
                    tl += n;
                }
            }
            else if (kind <= 5) {                /* ours, edited */
                memcpy(t, opaque, olen);
                tl = olen;
                if (olen && (y & 1)) {
                    tl--;                        /* drop the last byte */
                }
                else if (olen && (y & 2)) {
                    k = (y >> 2) % olen;         /* flip one bit */
                    t[k] ^= 1;
                    if (!is_etagc((unsigned char)t[k])) {
                        t[k] = 'q';
                    }
                }
                else {
                    t[tl++] = opaque_char(y >> 2);   /* one byte more */
                }
            }
            else {                               /* another tag */
                n = y % 16;
                for (k = 0; k < n; k++) {
                    t[tl++] = opaque_char(take(&s));
                }
            }
            if (weak) puts_(&field, "W/");
            puts_(&field, "\"");
            put(&field, t, tl);
            puts_(&field, "\"");
            matches = ref_opaque_match(t, tl, opaque, olen);
            break;
        }
        case 8:                                  /* ours, unquoted */
            valid = 0;
            puts_(&field, olen ? junk : "x");
            break;
        case 9:                                  /* ours, lower-case w/ */
            valid = 0;
            puts_(&field, "w/\"");
            puts_(&field, junk);
            puts_(&field, "\"");
            break;
        case 10:                                 /* ours with a space inside */
            valid = 0;
            puts_(&field, "\"");
            put(&field, junk, olen / 2);
            puts_(&field, " ");
            puts_(&field, junk + olen / 2);
            puts_(&field, "\"");
            break;
        default:                                 /* "*" inside a list */
            valid = 0;
            puts_(&field, "*");
            break;
        }
        if (valid && matches) {
            want_w = 1;
            if (!weak && !ours_weak) {
                want_s = 1;
            }
        }
    }
    put_ows(&field, take(&s));
    if (!field.b) {
        puts_(&field, "");
    }
    if (is_star(field.b)) {
        want_w = want_s = 1;
    }
    {
        char *f = dup_exact(field.b, field.len);
        char *o = dup_exact(ours.b, ours.len);
        got_w = cc_etag_list_match(f, o, CC_COMPARE_WEAK);
        got_s = cc_etag_list_match(f, o, CC_COMPARE_STRONG);
        FUZZ_ASSERT(got_w == want_w && got_s == want_s,
                    "structured: field [%s] ours [%s]: weak %d strong %d, "
                    "want %d %d", f, o, got_w, got_s, want_w, want_s);
        free(f);
        free(o);
    }
    free(ours.b);
    free(field.b);
}

/* ------------------------------------------------------------------ */
/* 3. Preconditions                                                     */

/* The reference for dates is deliberately not a copy of validators.c's:
 * a value apr_date_parse_http() rejects (or one later than now) must be
 * ignored; a value that is exactly the IMF-fixdate apr_rfc822_date() would
 * print must be used; anything else (RFC 850, asctime, trailing bytes,
 * two members) may go either way, and the result must then match one of
 * the two readings. */
enum { DATE_IGNORED, DATE_USED, DATE_EITHER };

static int date_class(const char *s, apr_time_t now, apr_int64_t *sec)
{
    char canon[APR_RFC822_DATE_LEN];
    apr_time_t t;

    if (!s) return DATE_IGNORED;
    t = apr_date_parse_http(s);
    if (t == APR_DATE_BAD || apr_time_sec(t) > apr_time_sec(now))
        return DATE_IGNORED;
    *sec = apr_time_sec(t);
    apr_rfc822_date(canon, t);
    return strcmp(canon, s) == 0 ? DATE_USED : DATE_EITHER;
}

/* The RFC 9110 13.2.2 decision, with each "either" date read as
 * `either_used`. */
static cc_precond_e precond_model(const cc_precond_t *p, int either_used)
{
    apr_int64_t d = 0, lm = apr_time_sec(p->last_modified);
    int c;

    if (p->if_match) {
        if (!cc_etag_list_match(p->if_match, p->etag, CC_COMPARE_STRONG))
            return CC_PRECOND_FAILED;
    }
    else if (p->if_unmodified_since && p->last_modified) {
        c = date_class(p->if_unmodified_since, p->now, &d);
        if ((c == DATE_USED || (c == DATE_EITHER && either_used)) && lm > d)
            return CC_PRECOND_FAILED;
    }
    if (p->if_none_match) {
        if (cc_etag_list_match(p->if_none_match, p->etag, CC_COMPARE_WEAK))
            return p->get_or_head ? CC_PRECOND_NOT_MODIFIED : CC_PRECOND_FAILED;
    }
    else if (p->get_or_head && p->if_modified_since && p->last_modified) {
        c = date_class(p->if_modified_since, p->now, &d);
        if ((c == DATE_USED || (c == DATE_EITHER && either_used)) && lm <= d)
            return CC_PRECOND_NOT_MODIFIED;
    }
    return CC_PRECOND_PASS;
}

static void check_precond(const cc_precond_t *p)
{
    cc_precond_e got = cc_evaluate_preconditions(p);
    cc_precond_e want_used = precond_model(p, 1);
    cc_precond_e want_ignored = precond_model(p, 0);

    FUZZ_ASSERT(got == want_used || got == want_ignored,
                "precond: got %d want %d or %d (im [%s] inm [%s] ims [%s] "
                "ius [%s] etag [%s] goh %d)", (int)got, (int)want_used,
                (int)want_ignored, pr(p->if_match), pr(p->if_none_match),
                pr(p->if_modified_since), pr(p->if_unmodified_since),
                pr(p->etag), p->get_or_head);
    FUZZ_ASSERT(p->get_or_head || got != CC_PRECOND_NOT_MODIFIED,
                "304 for a method other than GET/HEAD");
    if (!p->if_match && !p->if_none_match && !p->if_modified_since
        && !p->if_unmodified_since) {
        FUZZ_ASSERT(got == CC_PRECOND_PASS, "no conditions, but %d", (int)got);
    }
}

/* ------------------------------------------------------------------ */

#define NPARTS 5

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *part[NPARTS] = { NULL };
    size_t i, start = 1;
    int np = 0;
    unsigned mode;

    if (size < 1) {
        return 0;
    }
    mode = data[0];
    for (i = 1; i <= size && np < NPARTS; i++) {
        if (i == size || data[i] == 0) {
            part[np++] = dup_exact((const char *)data + start, i - start);
            start = i + 1;
        }
    }

    /* 1. raw */
    check_raw(part[0], part[1]);
    check_raw(part[1], part[0]);
    for (i = 0; i < NPARTS; i++) {
        if (part[i]) {
            int weak;
            size_t n = strlen(part[i]);
            FUZZ_ASSERT(!!valid_call(part[i], n) == ref_valid(part[i], n, &weak),
                        "cc_etag_is_valid([%s])", part[i]);
            /* every prefix too: len shorter than the string */
            if (n > 1) {
                size_t k = (size_t)mode % n;
                FUZZ_ASSERT(!!valid_call(part[i], k)
                            == (k > 0 && ref_valid(part[i], k, &weak)),
                            "cc_etag_is_valid([%s], %zu)", part[i], k);
            }
        }
    }

    /* 2. structured */
    check_structured(data, size);

    /* 2b. Accept-Encoding: any bytes; a refused coding only ever takes
     * matches away */
    {
        unsigned refused = cc_codings_refused(part[2] ? part[2] : "");
        static const unsigned offered[] = { CC_CODING_BR, CC_CODING_ZSTD,
                                            CC_CODING_GZIP };
        unsigned chosen = cc_coding_choose(part[2], offered, 3);

        FUZZ_ASSERT((refused & ~(CC_CODING_GZIP | CC_CODING_BR
                                 | CC_CODING_ZSTD)) == 0,
                    "cc_codings_refused([%s]) = %u", pr(part[2]), refused);
        /* what is chosen is one coding offered, and one not refused */
        FUZZ_ASSERT(chosen == 0 || (cc_coding_name(chosen)
                                    && !(chosen & refused)),
                    "cc_coding_choose([%s]) = %u, refused %u", pr(part[2]),
                    chosen, refused);
        if (part[0] && part[1]) {
            int all = cc_etag_list_match(part[0], part[1], CC_COMPARE_WEAK);
            int some = cc_etag_list_match_codings(part[0], part[1],
                                                  CC_COMPARE_WEAK, refused);
            FUZZ_ASSERT(!some || all, "refusing codings added a match: "
                        "[%s] [%s] refused %u", part[0], part[1], refused);
        }
    }

    /* 2c. CondCacheStripCodingSuffix: never longer, nothing stripped when
     * every coding is refused, and what is left matches no less */
    if (part[0]) {
        size_t n = strlen(part[0]);
        char *out = malloc(n + 1), *same = malloc(n + 1);
        unsigned bits;

        FUZZ_ASSERT(out && same, "malloc");
        bits = cc_etag_list_strip(part[0], mode & 7, out);
        FUZZ_ASSERT(strlen(out) <= n && (bits & (mode & 7)) == 0,
                    "strip([%s], %u) = [%s] bits %u", part[0], mode & 7,
                    out, bits);
        FUZZ_ASSERT((bits == 0) == (strcmp(out, part[0]) == 0),
                    "strip([%s]): bits %u, [%s]", part[0], bits, out);
        FUZZ_ASSERT(cc_etag_list_strip(part[0], 7, same) == 0
                    && strcmp(same, part[0]) == 0, "strip all refused");
        if (part[1]) {
            FUZZ_ASSERT(!cc_etag_list_match(part[0], part[1],
                                            CC_COMPARE_STRONG)
                        || cc_etag_list_match(out, part[1],
                                              CC_COMPARE_STRONG)
                        || bits != 0,
                        "strip lost a match: [%s] [%s]", part[0], part[1]);
        }
        free(out);
        free(same);
    }

    /* 3. preconditions: field as If-Match unless mode says absent */
    {
        cc_precond_t p;
        static const apr_int64_t secs[] = {
            0, 784111777, 784111776, 784111778, 1700000000, -1, 1
        };
        memset(&p, 0, sizeof(p));
        p.get_or_head = mode & 1;
        p.if_match = (mode & 2) ? part[0] : NULL;
        p.etag = (mode & 4) ? part[1] : "\"qZk+NkcGgWq6PiVxeFDCbJzQ2J0=\"";
        p.if_none_match = part[2];
        p.if_modified_since = part[3];
        p.if_unmodified_since = (mode & 8) ? part[4] : part[3];
        p.last_modified = apr_time_from_sec(secs[(mode >> 4) % 7]);
        p.now = (mode & 0x80) ? apr_time_from_sec(784111777)
                              : apr_time_from_sec(1700000000);
        check_precond(&p);
        p.get_or_head = !p.get_or_head;
        check_precond(&p);
        p.if_match = NULL;
        check_precond(&p);
    }

    for (i = 0; i < NPARTS; i++) {
        free(part[i]);
    }
    return 0;
}
