/* unit/sf_ref.h: a small, strict parser of RFC 9651 Structured Field
 * dictionaries, written from the RFC's parsing algorithms (section 4.2)
 * and not from cc_fields.c, for test_fields and fuzz_fields to check
 * cc_fields.c against: what cc_fields_choose() should choose, and whether
 * what cc_fields_format() writes is a dictionary of byte sequences.
 *
 * Header only (static functions), C only: no APR, no core unit.
 *
 * Flags say which RFC the parser follows where they differ, and how it
 * takes byte sequences:
 *   SF_DATES_DISPLAY   RFC 9651's Dates (@123) and Display Strings
 *                      (%"..."); without it, RFC 8941, where '@' and '%'
 *                      start no item (the grammar spelled out at the top
 *                      of cc_fields.h)
 *   SF_B64_DECODE      a byte sequence whose base64 does not decode fails
 *                      (RFC 9651 4.2.7 step 7; padding may be missing and
 *                      pad bits need not be zero, as the RFC asks of
 *                      recipients); without it only the alphabet counts
 *   SF_B64_CANONICAL   a byte sequence must be canonical base64: padded,
 *                      zero pad bits (what a sender writes; for
 *                      cc_fields_format()'s output)
 */
#ifndef CONDCACHE_UNIT_SF_REF_H
#define CONDCACHE_UNIT_SF_REF_H

#include <stddef.h>
#include <string.h>

#define SF_DATES_DISPLAY   1
#define SF_B64_DECODE      2
#define SF_B64_CANONICAL   4

typedef enum {
    SF_INTEGER, SF_DECIMAL, SF_STRING, SF_TOKEN, SF_BYTES, SF_BOOLEAN,
    SF_DATE, SF_DISPLAY, SF_INNER_LIST
} sf_type_e;

/* One dictionary member as parsed (a later member of the same key comes
 * as another call: the last one counts). */
typedef struct {
    const char *key;
    size_t      key_len;
    sf_type_e   type;
    long long   integer;      /* SF_INTEGER, SF_DATE; SF_BOOLEAN: 0 or 1 */
    const char *b64;          /* SF_BYTES: the base64 between the colons */
    size_t      b64_len;
    int         n_params;     /* parameters of the member (not of items in
                                 an inner list) */
} sf_member_t;

typedef void (*sf_member_fn)(void *ctx, const sf_member_t *m);

typedef struct {
    const char *p, *end;
    int         flags;
} sf_in_t;

static inline int sf_lcalpha(int c) { return c >= 'a' && c <= 'z'; }
static inline int sf_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static inline int sf_digit(int c) { return c >= '0' && c <= '9'; }

static inline int sf_peek(const sf_in_t *in)
{
    return in->p < in->end ? (unsigned char)*in->p : -1;
}

static inline void sf_skip_sp(sf_in_t *in)
{
    while (sf_peek(in) == ' ') {
        in->p++;
    }
}

static inline void sf_skip_ows(sf_in_t *in)
{
    while (sf_peek(in) == ' ' || sf_peek(in) == '\t') {
        in->p++;
    }
}

/* 4.2.3.3 */
static inline int sf_key(sf_in_t *in, const char **key, size_t *len)
{
    const char *s = in->p;
    int c = sf_peek(in);

    if (!(sf_lcalpha(c) || c == '*')) {
        return 0;
    }
    for (;;) {
        c = sf_peek(in);
        if (!(sf_lcalpha(c) || sf_digit(c) || c == '_' || c == '-' || c == '.'
              || c == '*')) {
            break;
        }
        in->p++;
    }
    *key = s;
    *len = (size_t)(in->p - s);
    return 1;
}

/* 4.2.4: *is_decimal, *value (integers only) */
static inline int sf_number(sf_in_t *in, int *is_decimal, long long *value)
{
    int decimal = 0, sign = 1;
    size_t chars = 0, frac = 0;
    long long v = 0;
    char last = 0;

    if (sf_peek(in) == '-') {
        in->p++;
        sign = -1;
    }
    if (in->p >= in->end || !sf_digit(sf_peek(in))) {
        return 0;
    }
    while (in->p < in->end) {
        int c = sf_peek(in);

        if (sf_digit(c)) {
            in->p++;
            chars++;
            if (decimal) {
                frac++;
            }
            else {
                v = v * 10 + (c - '0');
            }
            last = (char)c;
        }
        else if (!decimal && c == '.') {
            if (chars > 12) {
                return 0;
            }
            in->p++;
            chars++;
            decimal = 1;
            last = '.';
        }
        else {
            break;
        }
        if (!decimal && chars > 15) {
            return 0;
        }
        if (decimal && chars > 16) {
            return 0;
        }
    }
    if (decimal && (last == '.' || frac > 3)) {
        return 0;
    }
    *is_decimal = decimal;
    *value = sign * v;
    return 1;
}

/* base64 of RFC 4648: 0 when it does not decode (canonical: also when it
 * is not padded or its pad bits are not zero).  Decoded bytes, if out. */
static inline int sf_b64_value(int c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

static inline int sf_b64_decode(const char *s, size_t len, int canonical,
                                unsigned char *out, size_t out_max,
                                size_t *out_len)
{
    size_t data = len, i, n = 0;
    unsigned long acc = 0;
    int bits = 0;

    while (data > 0 && s[data - 1] == '=') {
        data--;
    }
    if (len - data > 2) {
        return 0;
    }
    if (canonical && len % 4 != 0) {
        return 0;
    }
    if (!canonical && len != data && len % 4 != 0) {
        return 0;                       /* padding, but not to a quantum */
    }
    if (data % 4 == 1) {
        return 0;                       /* 6 bits: no byte */
    }
    for (i = 0; i < data; i++) {
        int v = sf_b64_value((unsigned char)s[i]);
        if (v < 0) {
            return 0;
        }
        acc = (acc << 6) | (unsigned long)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (out) {
                if (n >= out_max) {
                    return 0;
                }
                out[n] = (unsigned char)(acc >> bits);
            }
            n++;
        }
    }
    if (canonical && (acc & ((1ul << bits) - 1)) != 0) {
        return 0;                       /* pad bits not zero */
    }
    if (out_len) {
        *out_len = n;
    }
    return 1;
}

/* UTF-8 (RFC 3629): no overlong forms, surrogates or code points past
 * U+10FFFF. */
static inline int sf_utf8_ok(const unsigned char *b, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned c = b[i];
        size_t k, need;
        unsigned long cp;

        if (c < 0x80) { i++; continue; }
        if (c >= 0xc2 && c <= 0xdf) { need = 1; cp = c & 0x1f; }
        else if (c >= 0xe0 && c <= 0xef) { need = 2; cp = c & 0x0f; }
        else if (c >= 0xf0 && c <= 0xf4) { need = 3; cp = c & 0x07; }
        else return 0;
        for (k = 1; k <= need; k++) {
            if (i + k >= n || (b[i + k] & 0xc0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (b[i + k] & 0x3f);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000)
            || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }
        i += need + 1;
    }
    return 1;
}

/* 4.2.3.1: the type of a bare item, and its integer value */
static inline int sf_bare_item(sf_in_t *in, sf_type_e *type,
                               long long *integer, const char **b64,
                               size_t *b64_len)
{
    int c = sf_peek(in);

    if (c == '-' || sf_digit(c)) {                      /* 4.2.4 */
        int dec;
        if (!sf_number(in, &dec, integer)) {
            return 0;
        }
        *type = dec ? SF_DECIMAL : SF_INTEGER;
        return 1;
    }
    if (c == '"') {                                     /* 4.2.5 */
        in->p++;
        while (in->p < in->end) {
            int ch = (unsigned char)*in->p++;
            if (ch == '\\') {
                if (in->p >= in->end) {
                    return 0;
                }
                ch = (unsigned char)*in->p++;
                if (ch != '"' && ch != '\\') {
                    return 0;
                }
            }
            else if (ch == '"') {
                *type = SF_STRING;
                return 1;
            }
            else if (ch <= 0x1f || ch >= 0x7f) {
                return 0;
            }
        }
        return 0;
    }
    if (c == '*' || sf_alpha(c)) {                      /* 4.2.6 */
        in->p++;
        for (;;) {
            int ch = sf_peek(in);
            if (!(sf_alpha(ch) || sf_digit(ch) || (ch > 0 &&
                  strchr("!#$%&'*+-.^_`|~:/", ch) != NULL))) {
                break;
            }
            in->p++;
        }
        *type = SF_TOKEN;
        return 1;
    }
    if (c == ':') {                                     /* 4.2.7 */
        const char *open = ++in->p, *q;
        for (q = open; q < in->end && *q != ':'; q++)
            ;
        if (q >= in->end) {
            return 0;
        }
        in->p = q + 1;
        *b64 = open;
        *b64_len = (size_t)(q - open);
        for (; open < q; open++) {
            int ch = (unsigned char)*open;
            if (!(sf_alpha(ch) || sf_digit(ch) || ch == '+' || ch == '/'
                  || ch == '=')) {
                return 0;
            }
        }
        if ((in->flags & (SF_B64_DECODE | SF_B64_CANONICAL))
            && !sf_b64_decode(*b64, *b64_len,
                              (in->flags & SF_B64_CANONICAL) != 0, NULL, 0,
                              NULL)) {
            return 0;
        }
        *type = SF_BYTES;
        return 1;
    }
    if (c == '?') {                                     /* 4.2.8 */
        in->p++;
        c = sf_peek(in);
        if (c != '0' && c != '1') {
            return 0;
        }
        in->p++;
        *integer = c == '1';
        *type = SF_BOOLEAN;
        return 1;
    }
    if (c == '@' && (in->flags & SF_DATES_DISPLAY)) {   /* 4.2.9 */
        int dec;
        in->p++;
        if (!sf_number(in, &dec, integer) || dec) {
            return 0;
        }
        *type = SF_DATE;
        return 1;
    }
    if (c == '%' && (in->flags & SF_DATES_DISPLAY)) {   /* 4.2.10 */
        unsigned char bytes[1024];
        size_t n = 0;

        in->p++;
        if (sf_peek(in) != '"') {
            return 0;
        }
        in->p++;
        while (in->p < in->end) {
            int ch = (unsigned char)*in->p++;
            if (ch <= 0x1f || ch >= 0x7f) {
                return 0;
            }
            if (ch == '%') {
                int h[2], k;
                if (in->end - in->p < 2) {
                    return 0;
                }
                for (k = 0; k < 2; k++) {
                    int x = (unsigned char)*in->p++;
                    if (sf_digit(x)) h[k] = x - '0';
                    else if (x >= 'a' && x <= 'f') h[k] = x - 'a' + 10;
                    else return 0;
                }
                if (n < sizeof(bytes)) {
                    bytes[n++] = (unsigned char)(h[0] << 4 | h[1]);
                }
            }
            else if (ch == '"') {
                if (!sf_utf8_ok(bytes, n)) {
                    return 0;
                }
                *type = SF_DISPLAY;
                return 1;
            }
            else if (n < sizeof(bytes)) {
                bytes[n++] = (unsigned char)ch;
            }
        }
        return 0;
    }
    return 0;
}

/* 4.2.3.2: how many parameters, or -1 */
static inline int sf_parameters(sf_in_t *in)
{
    int n = 0;

    while (sf_peek(in) == ';') {
        const char *k;
        size_t kl;

        in->p++;
        sf_skip_sp(in);
        if (!sf_key(in, &k, &kl)) {
            return -1;
        }
        if (sf_peek(in) == '=') {
            sf_type_e t;
            long long v;
            const char *b;
            size_t bl;
            in->p++;
            if (!sf_bare_item(in, &t, &v, &b, &bl)) {
                return -1;
            }
        }
        n++;
    }
    return n;
}

/* 4.2.1.2 */
static inline int sf_inner_list(sf_in_t *in)
{
    in->p++;                            /* "(" */
    while (in->p < in->end) {
        sf_type_e t;
        long long v;
        const char *b;
        size_t bl;

        sf_skip_sp(in);
        if (sf_peek(in) == ')') {
            in->p++;
            return sf_parameters(in) >= 0;
        }
        if (!sf_bare_item(in, &t, &v, &b, &bl) || sf_parameters(in) < 0) {
            return 0;
        }
        if (sf_peek(in) != ' ' && sf_peek(in) != ')') {
            return 0;
        }
    }
    return 0;
}

/* 4.2 with 4.2.2: parses the whole field value s[0..len) as a dictionary,
 * calling fn for each member in order.  1 when it is one (an empty field
 * is an empty dictionary), 0 when parsing fails (members already reported
 * then count for nothing). */
static inline int sf_parse_dictionary(const char *s, size_t len, int flags,
                                      sf_member_fn fn, void *ctx)
{
    sf_in_t in;
    size_t i;

    for (i = 0; i < len; i++) {
        if ((unsigned char)s[i] >= 0x80) {
            return 0;                   /* not ASCII */
        }
    }
    in.p = s;
    in.end = s + len;
    in.flags = flags;
    sf_skip_sp(&in);
    while (in.p < in.end) {
        sf_member_t m;

        memset(&m, 0, sizeof(m));
        if (!sf_key(&in, &m.key, &m.key_len)) {
            return 0;
        }
        if (sf_peek(&in) == '=') {
            in.p++;
            if (sf_peek(&in) == '(') {
                if (!sf_inner_list(&in)) {
                    return 0;
                }
                m.type = SF_INNER_LIST;
            }
            else {
                if (!sf_bare_item(&in, &m.type, &m.integer, &m.b64,
                                  &m.b64_len)
                    || (m.n_params = sf_parameters(&in)) < 0) {
                    return 0;
                }
            }
        }
        else {
            m.type = SF_BOOLEAN;
            m.integer = 1;
            if ((m.n_params = sf_parameters(&in)) < 0) {
                return 0;
            }
        }
        if (fn) {
            fn(ctx, &m);
        }
        sf_skip_ows(&in);
        if (in.p >= in.end) {
            break;
        }
        if (*in.p++ != ',') {
            return 0;
        }
        sf_skip_ows(&in);
        if (in.p >= in.end) {
            return 0;                   /* trailing comma */
        }
    }
    sf_skip_sp(&in);                    /* 4.2 step 6 */
    return in.p == in.end;
}

/* ------------------------------------------------------------------ */
/* A dictionary of byte sequences read back (a Repr-Digest value, say):
 * sf_bytes_note() is the sf_parse_dictionary() callback.  Members that
 * are a byte sequence without parameters are kept, decoded; any other,
 * or one past SF_BYTES_MEMBERS_MAX, counts as bad. */

#define SF_BYTES_MEMBERS_MAX 4

typedef struct {
    int           count;
    int           bad;
    char          key[SF_BYTES_MEMBERS_MAX][32];
    unsigned char bytes[SF_BYTES_MEMBERS_MAX][80];
    size_t        len[SF_BYTES_MEMBERS_MAX];
} sf_bytes_seen_t;

static inline void sf_bytes_note(void *ctx, const sf_member_t *m)
{
    sf_bytes_seen_t *s = ctx;

    if (s->count >= SF_BYTES_MEMBERS_MAX || m->key_len >= sizeof(s->key[0])
        || m->type != SF_BYTES || m->n_params != 0
        || !sf_b64_decode(m->b64, m->b64_len, 1, s->bytes[s->count],
                          sizeof(s->bytes[0]), &s->len[s->count])) {
        s->bad++;
        return;
    }
    memcpy(s->key[s->count], m->key, m->key_len);
    s->key[s->count][m->key_len] = '\0';
    s->count++;
}

/* ------------------------------------------------------------------ */
/* What cc_fields_choose() should answer (cc_fields.h): the preferences of
 * the configured names (an integer 0 to 10; anything else, or a key given
 * again without one, is none), most preferred first, ties in configured
 * order, 0 left out, the unrated left out when another is rated; a field
 * that is absent, is not a dictionary or rates none of them: all, in
 * configured order. */

#define SF_REF_NAMES_MAX 8

struct sf_ref_choice {
    const char *const *names;
    int                n;
    int                pref[SF_REF_NAMES_MAX];
};

static inline void sf_ref_note(void *ctx, const sf_member_t *m)
{
    struct sf_ref_choice *c = ctx;
    int i;

    for (i = 0; i < c->n; i++) {
        if (strlen(c->names[i]) == m->key_len
            && memcmp(c->names[i], m->key, m->key_len) == 0) {
            c->pref[i] = m->type == SF_INTEGER && m->integer >= 0
                         && m->integer <= 10 ? (int)m->integer : -1;
        }
    }
}

static inline int sf_ref_choose(const char *want, const char *const *names,
                                int n, int flags, int *chosen)
{
    struct sf_ref_choice c;
    int i, k, rated = 0, count = 0;

    if (n > SF_REF_NAMES_MAX) {
        n = SF_REF_NAMES_MAX;
    }
    c.names = names;
    c.n = n;
    for (i = 0; i < n; i++) {
        c.pref[i] = -1;
    }
    if (want && !sf_parse_dictionary(want, strlen(want), flags, sf_ref_note,
                                     &c)) {
        for (i = 0; i < n; i++) {
            c.pref[i] = -1;             /* malformed: ignored as a whole */
        }
    }
    for (i = 0; i < n; i++) {
        rated += c.pref[i] >= 0;
    }
    if (!rated) {
        for (i = 0; i < n; i++) {
            chosen[i] = i;
        }
        return n;
    }
    for (k = 10; k >= 1; k--) {
        for (i = 0; i < n; i++) {
            if (c.pref[i] == k) {
                chosen[count++] = i;
            }
        }
    }
    return count;
}

#endif /* CONDCACHE_UNIT_SF_REF_H */
