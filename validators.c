/* validators.c: entity tags, content-coding suffixes, Accept-Encoding and
 * the preconditions of RFC 9110.  See validators.h for the grammar it
 * accepts and the order it evaluates in.  APR only; it allocates nothing
 * and reads only the bytes it is given, so it is fuzzed on its own
 * (unit/fuzz_etag.c).
 */

#include "validators.h"

#include <apr_lib.h>
#include <apr_date.h>

#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ */
/* Entity tags (RFC 9110 8.8.3)                                        */

/* etagc = %x21 / %x23-7E / obs-text */
static int is_etagc(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x7E) || c >= 0x80;
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* If an entity-tag starts at s (and ends before end), returns its
 * length, else 0. */
static apr_size_t scan_etag(const char *s, const char *end, int *weak)
{
    const char *p = s;

    *weak = 0;
    if (end - p >= 2 && p[0] == 'W' && p[1] == '/') {
        *weak = 1;
        p += 2;
    }
    if (p >= end || *p != '"') {
        return 0;
    }
    for (p++; p < end && is_etagc((unsigned char)*p); p++)
        ;
    if (p >= end || *p != '"') {
        return 0;
    }
    return (apr_size_t)(p + 1 - s);
}

int cc_etag_is_valid(const char *s, apr_size_t len)
{
    int weak;
    apr_size_t n;

    if (!s || len == 0 || memchr(s, '\0', len)) {
        return 0;
    }
    n = scan_etag(s, s + len, &weak);
    return n == len;
}

/* The content codings whose suffix mod_deflate and mod_brotli add inside
 * the closing quote of the tag of a compressed response, in the order of
 * the CC_CODING_ bits. */
static const struct {
    const char *name;
    const char *suffix;
} codings[] = {
    { "gzip", "-gzip" },     /* CC_CODING_GZIP */
    { "br",   "-br" },       /* CC_CODING_BR */
    { "zstd", "-zstd" },     /* CC_CODING_ZSTD */
};

#define CC_CODING_COUNT (sizeof(codings) / sizeof(codings[0]))

/* Do two opaque tags (quotes included) match, allowing the client's to
 * carry the suffix of a coding not refused? */
static int opaque_match(const char *theirs, apr_size_t tlen,
                        const char *ours, apr_size_t olen, unsigned refused)
{
    apr_size_t i;

    if (tlen == olen) {
        return memcmp(theirs, ours, olen) == 0;
    }
    for (i = 0; i < CC_CODING_COUNT; i++) {
        apr_size_t slen = strlen(codings[i].suffix);
        if (refused & (1u << i)) {
            continue;
        }
        if (tlen == olen + slen
            && memcmp(theirs, ours, olen - 1) == 0
            && memcmp(theirs + olen - 1, codings[i].suffix, slen) == 0
            && theirs[tlen - 1] == '"') {
            return 1;
        }
    }
    return 0;
}

int cc_etag_list_match(const char *field, const char *etag, cc_compare_e cmp)
{
    return cc_etag_list_match_codings(field, etag, cmp, 0);
}

int cc_etag_list_match_codings(const char *field, const char *etag,
                               cc_compare_e cmp, unsigned refused)
{
    const char *p, *ours, *end;
    apr_size_t olen;
    int ours_weak;

    if (!field) {
        return 0;
    }
    end = field + strlen(field);
    for (p = field; is_ows(*p); p++)
        ;
    if (*p == '*') {
        const char *q = p + 1;
        while (is_ows(*q)) {
            q++;
        }
        if (*q == '\0') {
            return 1;         /* "*": any current representation */
        }
    }
    if (!etag) {
        return 0;
    }
    olen = scan_etag(etag, etag + strlen(etag), &ours_weak);
    if (olen == 0 || etag[olen] != '\0') {
        return 0;             /* ours is not a tag: nothing can match it */
    }
    ours = ours_weak ? etag + 2 : etag;
    olen -= ours_weak ? 2 : 0;
    if (ours_weak && cmp == CC_COMPARE_STRONG) {
        return 0;
    }

    while (*p) {
        apr_size_t n;
        int weak;

        while (is_ows(*p) || *p == ',') {
            p++;
        }
        if (!*p) {
            break;
        }
        n = scan_etag(p, end, &weak);
        if (n && (p[n] == '\0' || p[n] == ',' || is_ows(p[n]))) {
            const char *opaque = weak ? p + 2 : p;
            apr_size_t len = weak ? n - 2 : n;
            if (!(weak && cmp == CC_COMPARE_STRONG)
                && opaque_match(opaque, len, ours, olen, refused)) {
                return 1;
            }
            p += n;
            continue;
        }
        /* Not an entity-tag: skip this member, read on after the next
         * comma (a valid tag of ours has no comma in it). */
        if (n) {
            p += n;
        }
        else if (*p) {
            p++;
        }
        while (*p && *p != ',') {
            p++;
        }
    }
    return 0;
}

unsigned cc_etag_list_strip(const char *field, unsigned refused, char *out)
{
    const char *p = field, *end = field + strlen(field);
    unsigned stripped = 0;
    char *o = out;

    while (p < end) {
        int weak;
        apr_size_t n = scan_etag(p, end, &weak), c;

        if (n == 0) {
            *o++ = *p++;            /* separators and non-tags, as they are */
            continue;
        }
        for (c = 0; c < CC_CODING_COUNT; c++) {
            apr_size_t slen = strlen(codings[c].suffix);
            apr_size_t open = weak ? 3 : 1;    /* W/" or " */
            if (!(refused & (1u << c)) && n > open + slen + 1
                && memcmp(p + n - 1 - slen, codings[c].suffix, slen) == 0) {
                memcpy(o, p, n - 1 - slen);
                o += n - 1 - slen;
                *o++ = '"';
                stripped |= 1u << c;
                break;
            }
        }
        if (c == CC_CODING_COUNT) {
            memcpy(o, p, n);
            o += n;
        }
        p += n;
    }
    *o = '\0';
    return stripped;
}

/* A qvalue ("0", "0.5", "1", "1.000": RFC 9110 12.4.2) in thousandths;
 * -1 when it is not one. */
static int parse_qvalue(const char *q, apr_size_t n)
{
    int v = 0, scale = 100;
    apr_size_t i;

    if (n == 0 || (q[0] != '0' && q[0] != '1') || (n > 1 && q[1] != '.')
        || n > 5) {
        return -1;
    }
    for (i = 2; i < n; i++, scale /= 10) {
        if (!apr_isdigit(q[i])) {
            return -1;
        }
        v += (q[i] - '0') * scale;
    }
    if (q[0] == '1') {
        return v == 0 ? 1000 : -1;
    }
    return v;
}

/* The qvalue of every known coding in an Accept-Encoding value, in
 * thousandths: q[i] for codings[i], -1 when neither it nor "*" is listed;
 * *identity likewise for "identity".  A member whose qvalue is malformed
 * counts as q=1, as httpd's own negotiation reads it. */
static void coding_qvalues(const char *p, int *q, int *identity)
{
    int star = -1, listed_identity = -1;
    apr_size_t i;

    for (i = 0; i < CC_CODING_COUNT; i++) {
        q[i] = -1;
    }
    while (*p) {
        const char *name;
        apr_size_t nlen;
        int qv = 1000;

        while (is_ows(*p) || *p == ',') {
            p++;
        }
        name = p;
        while (*p && *p != ',' && *p != ';' && !is_ows(*p)) {
            p++;
        }
        nlen = (apr_size_t)(p - name);
        /* parameters: only q matters */
        while (*p && *p != ',') {
            if ((p[0] == 'q' || p[0] == 'Q') && p[1] == '='
                && (p[-1] == ';' || is_ows(p[-1]))) {
                const char *v = p + 2;
                apr_size_t vlen;
                for (vlen = 0; v[vlen] && v[vlen] != ',' && v[vlen] != ';'
                               && !is_ows(v[vlen]); vlen++)
                    ;
                qv = parse_qvalue(v, vlen);
                if (qv < 0) {
                    qv = 1000;
                }
            }
            p++;
        }
        if (nlen == 0) {
            continue;
        }
        if (nlen == 1 && name[0] == '*') {
            star = qv;
            continue;
        }
        if (nlen == 8 && strncasecmp(name, "identity", 8) == 0) {
            listed_identity = qv;
            continue;
        }
        for (i = 0; i < CC_CODING_COUNT; i++) {
            if (strlen(codings[i].name) == nlen
                && strncasecmp(codings[i].name, name, nlen) == 0) {
                q[i] = qv;
            }
        }
    }
    for (i = 0; i < CC_CODING_COUNT; i++) {
        if (q[i] < 0) {
            q[i] = star;
        }
    }
    *identity = listed_identity >= 0 ? listed_identity : star;
}

unsigned cc_codings_refused(const char *accept_encoding)
{
    int q[CC_CODING_COUNT], identity;
    unsigned refused = 0;
    apr_size_t i;

    if (!accept_encoding) {
        return (1u << CC_CODING_COUNT) - 1;
    }
    coding_qvalues(accept_encoding, q, &identity);
    for (i = 0; i < CC_CODING_COUNT; i++) {
        if (q[i] <= 0) {
            refused |= 1u << i;
        }
    }
    return refused;
}

unsigned cc_coding_choose(const char *accept_encoding,
                          const unsigned *offered, int n)
{
    int q[CC_CODING_COUNT], identity, best_q = 0, i;
    unsigned best = 0;

    if (!accept_encoding) {
        return 0;             /* no field: identity, as mod_deflate does */
    }
    coding_qvalues(accept_encoding, q, &identity);
    for (i = 0; i < n; i++) {
        apr_size_t c;
        for (c = 0; c < CC_CODING_COUNT && offered[i] != 1u << c; c++)
            ;
        /* the first offered among the highest rated: the server's order
         * breaks ties */
        if (c < CC_CODING_COUNT && q[c] > best_q) {
            best_q = q[c];
            best = offered[i];
        }
    }
    /* identity preferred when rated higher than every coding (unlisted,
     * it is acceptable but not preferred) */
    if (best && identity > best_q) {
        return 0;
    }
    return best;
}

const char *cc_coding_name(unsigned coding)
{
    apr_size_t c;

    for (c = 0; c < CC_CODING_COUNT; c++) {
        if (coding == 1u << c) {
            return codings[c].name;
        }
    }
    return NULL;
}

unsigned cc_coding_from_name(const char *name)
{
    apr_size_t c;

    for (c = 0; c < CC_CODING_COUNT; c++) {
        if (strcasecmp(name, codings[c].name) == 0) {
            return 1u << c;
        }
    }
    return 0;
}

const char *cc_coding_suffix(unsigned coding)
{
    apr_size_t c;

    for (c = 0; c < CC_CODING_COUNT; c++) {
        if (coding == 1u << c) {
            return codings[c].suffix;
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Preconditions (RFC 9110 13.1, 13.2.2)                               */

/* apr_date_parse_http() accepts the three HTTP-date forms but ignores what
 * follows them.  RFC 9110 13.1.3 and 13.1.4: a value with more than one
 * member (a header sent twice and joined with a comma) or anything else
 * that is not one date must be ignored.  IMF-fixdate and RFC 850 dates
 * have one comma and end in " GMT"; asctime dates have no comma and end in
 * the year. */
static int one_http_date(const char *s)
{
    apr_size_t n = strlen(s);
    const char *comma = strchr(s, ',');

    while (n && is_ows(s[n - 1])) {
        n--;
    }
    if (comma && strchr(comma + 1, ',')) {
        return 0;
    }
    if (comma) {
        return n >= 4 && memcmp(s + n - 4, " GMT", 4) == 0;
    }
    return n >= 5 && s[n - 5] == ' ' && apr_isdigit(s[n - 4])
        && apr_isdigit(s[n - 3]) && apr_isdigit(s[n - 2])
        && apr_isdigit(s[n - 1]);
}

/* A valid HTTP-date no later than now, in seconds. */
static int parse_date(const char *s, apr_time_t now, apr_int64_t *sec)
{
    apr_time_t t;

    if (!s || !one_http_date(s)) {
        return 0;
    }
    t = apr_date_parse_http(s);
    if (t == APR_DATE_BAD || apr_time_sec(t) > apr_time_sec(now)) {
        return 0;
    }
    *sec = apr_time_sec(t);
    return 1;
}

cc_precond_e cc_evaluate_preconditions(const cc_precond_t *p)
{
    apr_int64_t date = 0, lm = apr_time_sec(p->last_modified);

    /* 1. If-Match, else If-Unmodified-Since */
    if (p->if_match) {
        if (!cc_etag_list_match_codings(p->if_match, p->etag,
                                        CC_COMPARE_STRONG,
                                        p->refused_codings)) {
            return CC_PRECOND_FAILED;
        }
    }
    else if (p->if_unmodified_since && p->last_modified
             && parse_date(p->if_unmodified_since, p->now, &date)
             && lm > date) {
        return CC_PRECOND_FAILED;
    }

    /* 2. If-None-Match, else (GET and HEAD) If-Modified-Since */
    if (p->if_none_match) {
        if (cc_etag_list_match_codings(p->if_none_match, p->etag,
                                       CC_COMPARE_WEAK, p->refused_codings)) {
            return p->get_or_head ? CC_PRECOND_NOT_MODIFIED : CC_PRECOND_FAILED;
        }
    }
    else if (p->get_or_head && p->if_modified_since && p->last_modified
             && parse_date(p->if_modified_since, p->now, &date)
             && lm <= date) {
        return CC_PRECOND_NOT_MODIFIED;
    }
    return CC_PRECOND_PASS;
}
