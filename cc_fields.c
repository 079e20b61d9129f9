/* cc_fields.c: integrity fields and the Want- fields that choose them.
 * See cc_fields.h for the syntax accepted.
 */

#include "cc_fields.h"

#include <apr_base64.h>
#include <apr_lib.h>

#include <string.h>

#define WANT_MAX   10       /* RFC 9530 section 4: preferences 0 to 10 */

typedef struct {
    const char *p, *end;
} cursor_t;

static int at(const cursor_t *c, char ch)
{
    return c->p < c->end && *c->p == ch;
}

static int is_lcalpha(int ch)
{
    return ch >= 'a' && ch <= 'z';
}

static void skip_ows(cursor_t *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t')) {
        c->p++;
    }
}

static void skip_sp(cursor_t *c)
{
    while (at(c, ' ')) {
        c->p++;
    }
}

/* key: its start and length, or 0 when there is none. */
static int parse_key(cursor_t *c, const char **key, apr_size_t *len)
{
    const char *s = c->p;

    if (c->p >= c->end || !(is_lcalpha((unsigned char)*c->p) || *c->p == '*')) {
        return 0;
    }
    for (c->p++; c->p < c->end; c->p++) {
        int ch = (unsigned char)*c->p;
        if (!(is_lcalpha(ch) || apr_isdigit(ch) || ch == '_' || ch == '-'
              || ch == '.' || ch == '*')) {
            break;
        }
    }
    *key = s;
    *len = (apr_size_t)(c->p - s);
    return 1;
}

static int lc_hex(int ch)
{
    return apr_isdigit(ch) ? ch - '0'
         : (ch >= 'a' && ch <= 'f') ? ch - 'a' + 10 : -1;
}

/* %"..." of RFC 9651: printable ASCII but '"' and '%', or %xx in lowercase
 * hex; the bytes so written must be UTF-8.  Checks it and steps over it. */
static int parse_display_string(cursor_t *c)
{
    int need = 0;                       /* continuation bytes still due */
    apr_uint32_t cp = 0;                /* the code point being read */
    int len = 0;                        /* bytes of its sequence */

    c->p++;
    if (!at(c, '"')) {
        return 0;
    }
    for (c->p++; c->p < c->end; c->p++) {
        int ch = (unsigned char)*c->p, b;

        if (ch == '"') {
            c->p++;
            return need == 0;
        }
        if (ch < 0x20 || ch > 0x7e) {
            return 0;
        }
        if (ch != '%') {
            if (need) {
                return 0;
            }
            continue;
        }
        if (c->end - c->p < 3 || lc_hex((unsigned char)c->p[1]) < 0
            || lc_hex((unsigned char)c->p[2]) < 0) {
            return 0;
        }
        b = lc_hex((unsigned char)c->p[1]) * 16
            + lc_hex((unsigned char)c->p[2]);
        c->p += 2;
        if (need) {                     /* a continuation byte */
            if ((b & 0xc0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (apr_uint32_t)(b & 0x3f);
            if (--need == 0
                && ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800)
                    || (len == 4 && (cp < 0x10000 || cp > 0x10ffff))
                    || (cp >= 0xd800 && cp <= 0xdfff))) {
                return 0;               /* overlong, too big, surrogate */
            }
        }
        else if (b < 0x80) {
            continue;
        }
        else if ((b & 0xe0) == 0xc0) {
            need = 1, len = 2, cp = (apr_uint32_t)(b & 0x1f);
        }
        else if ((b & 0xf0) == 0xe0) {
            need = 2, len = 3, cp = (apr_uint32_t)(b & 0x0f);
        }
        else if ((b & 0xf8) == 0xf0) {
            need = 3, len = 4, cp = (apr_uint32_t)(b & 0x07);
        }
        else {
            return 0;
        }
    }
    return 0;
}

/* A bare item.  *integer gets its value when it is an sf-integer (and
 * *is_integer 1).  0 when it is not a valid bare item. */
static int parse_bare_item(cursor_t *c, int *is_integer, long *integer)
{
    *is_integer = 0;
    if (c->p >= c->end) {
        return 0;
    }
    if (*c->p == '@') {                 /* sf-date: an integer after @ */
        c->p++;
        if (c->p >= c->end
            || !(*c->p == '-' || apr_isdigit((unsigned char)*c->p))
            || !parse_bare_item(c, is_integer, integer) || !*is_integer) {
            return 0;
        }
        *is_integer = 0;                /* a date: no preference */
        return 1;
    }
    if (*c->p == '%') {                 /* sf-displaystring */
        return parse_display_string(c);
    }
    if (*c->p == '-' || apr_isdigit((unsigned char)*c->p)) {
        /* sf-integer or sf-decimal */
        int neg = *c->p == '-', digits = 0, frac = 0;
        long v = 0;

        if (neg) {
            c->p++;
        }
        while (c->p < c->end && apr_isdigit((unsigned char)*c->p)) {
            if (++digits > 15) {
                return 0;
            }
            v = v * 10 + (*c->p - '0');
            c->p++;
        }
        if (digits == 0) {
            return 0;
        }
        if (at(c, '.')) {
            if (digits > 12) {
                return 0;
            }
            for (c->p++; c->p < c->end && apr_isdigit((unsigned char)*c->p);
                 c->p++) {
                if (++frac > 3) {
                    return 0;
                }
            }
            return frac > 0;            /* a decimal: no preference */
        }
        *is_integer = 1;
        *integer = neg ? -v : v;
        return 1;
    }
    if (*c->p == '"') {                 /* sf-string */
        for (c->p++; c->p < c->end; c->p++) {
            int ch = (unsigned char)*c->p;
            if (ch == '\\') {
                if (++c->p >= c->end || (*c->p != '"' && *c->p != '\\')) {
                    return 0;
                }
            }
            else if (ch == '"') {
                c->p++;
                return 1;
            }
            else if (ch < 0x20 || ch > 0x7e) {
                return 0;
            }
        }
        return 0;
    }
    if (*c->p == ':') {                 /* sf-binary */
        for (c->p++; c->p < c->end && *c->p != ':'; c->p++) {
            int ch = (unsigned char)*c->p;
            if (!(apr_isalnum(ch) || ch == '+' || ch == '/' || ch == '=')) {
                return 0;
            }
        }
        if (!at(c, ':')) {
            return 0;
        }
        c->p++;
        return 1;
    }
    if (*c->p == '?') {                 /* sf-boolean */
        c->p++;
        if (!at(c, '0') && !at(c, '1')) {
            return 0;
        }
        c->p++;
        return 1;
    }
    if (apr_isalpha((unsigned char)*c->p) || *c->p == '*') {   /* token */
        for (c->p++; c->p < c->end; c->p++) {
            int ch = (unsigned char)*c->p;
            if (!(apr_isalnum(ch) || strchr("!#$%&'*+-.^_`|~:/", ch))
                || ch == '\0') {
                break;
            }
        }
        return 1;
    }
    return 0;
}

static int parse_parameters(cursor_t *c)
{
    while (at(c, ';')) {
        const char *k;
        apr_size_t klen;
        int is_int;
        long v;

        c->p++;
        skip_sp(c);
        if (!parse_key(c, &k, &klen)) {
            return 0;
        }
        if (at(c, '=')) {
            c->p++;
            if (!parse_bare_item(c, &is_int, &v)) {
                return 0;
            }
        }
    }
    return 1;
}

/* An inner list "(...)": skipped, it is no preference. */
static int parse_inner_list(cursor_t *c)
{
    int is_int;
    long v;

    c->p++;
    for (;;) {
        skip_sp(c);
        if (at(c, ')')) {
            c->p++;
            return parse_parameters(c);
        }
        if (!parse_bare_item(c, &is_int, &v) || !parse_parameters(c)) {
            return 0;
        }
        if (!at(c, ' ') && !at(c, ')')) {
            return 0;
        }
    }
}

/* Parses the Want- field into pref[] (-1: not rated) for the n names.
 * 0 when it is not a valid dictionary. */
static int parse_want(const char *want, const char *const *names, int n,
                      int *pref)
{
    cursor_t c;
    int i;

    for (i = 0; i < n; i++) {
        pref[i] = -1;
    }
    c.p = want;
    c.end = want + strlen(want);
    skip_sp(&c);
    if (c.p == c.end) {
        return 0;                       /* empty: no dictionary */
    }
    for (;;) {
        const char *key;
        apr_size_t klen;
        int is_int = 0;
        long v = 0;

        if (!parse_key(&c, &key, &klen)) {
            return 0;
        }
        if (at(&c, '=')) {
            c.p++;
            if (at(&c, '(')) {
                if (!parse_inner_list(&c)) {
                    return 0;
                }
            }
            else if (!parse_bare_item(&c, &is_int, &v)
                     || !parse_parameters(&c)) {
                return 0;
            }
        }
        else if (!parse_parameters(&c)) {   /* a bare key: true */
            return 0;
        }
        for (i = 0; i < n; i++) {
            if (strlen(names[i]) == klen && memcmp(names[i], key, klen) == 0) {
                /* the last value counts; only an integer 0-10 is a
                 * preference */
                pref[i] = is_int && v >= 0 && v <= WANT_MAX ? (int)v : -1;
            }
        }
        skip_ows(&c);
        if (c.p == c.end) {
            return 1;
        }
        if (!at(&c, ',')) {
            return 0;
        }
        c.p++;
        skip_ows(&c);
        if (c.p == c.end) {
            return 0;                   /* a trailing comma */
        }
    }
}

int cc_fields_choose(const char *want, const char *const *names, int n,
                     int *chosen)
{
    int pref[CC_FIELDS_MAX], i, k, rated = 0, count = 0;

    if (n > CC_FIELDS_MAX) {
        n = CC_FIELDS_MAX;
    }
    if (want && parse_want(want, names, n, pref)) {
        for (i = 0; i < n; i++) {
            rated += pref[i] >= 0;
        }
    }
    if (!rated) {
        for (i = 0; i < n; i++) {
            chosen[i] = i;
        }
        return n;
    }
    /* by preference, most first; ties in configured order */
    for (k = WANT_MAX; k >= 1; k--) {
        for (i = 0; i < n; i++) {
            if (pref[i] == k) {
                chosen[count++] = i;
            }
        }
    }
    return count;
}

apr_size_t cc_fields_format(const char *const *names,
                            const unsigned char *const *bytes,
                            const apr_size_t *lens, int n, char *buf)
{
    apr_size_t len = 0;
    int i;

    buf[0] = '\0';
    for (i = 0; i < n && i < CC_FIELDS_MAX; i++) {
        apr_size_t nlen = strlen(names[i]);

        if (lens[i] > 64 || nlen > 16) {
            continue;                   /* not a digest of ours */
        }
        if (len) {
            memcpy(buf + len, ", ", 2);
            len += 2;
        }
        memcpy(buf + len, names[i], nlen);
        len += nlen;
        memcpy(buf + len, "=:", 2);
        len += 2;
        /* apr_base64_encode_binary() counts the NUL it writes */
        len += (apr_size_t)apr_base64_encode_binary(buf + len, bytes[i],
                                                    (int)lens[i]) - 1;
        buf[len++] = ':';
        buf[len] = '\0';
    }
    return len;
}
