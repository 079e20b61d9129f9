/* validators.h: entity tags, content codings and the preconditions of
 * RFC 9110 (section 8.8: ETag and Last-Modified are the validators).
 *
 * One of the three core units of mod_condcache (with cc_digest.h and
 * cc_table.h): APR only, no httpd header, no logging, no allocation.  It
 * decides, from the request's field values and what the module knows of
 * the file, whether the answer is the file, a 304 or a 412.
 *
 * Grammar accepted (RFC 9110 8.8.3, 13.1):
 *   entity-tag  = [ "W/" ] DQUOTE *etagc DQUOTE
 *   etagc       = %x21 / %x23-7E / %x80-FF
 *   If-Match and If-None-Match: "*" alone, or a comma-separated list of
 *   entity-tags with optional spaces and tabs; a member that is not an
 *   entity-tag (no quotes, lower-case "w/", spaces or quotes inside, a "*"
 *   among tags) is skipped and the rest of the list still read.
 *   A tag of ours with "-gzip", "-br" or "-zstd" before its closing quote
 *   (the suffixes mod_deflate and mod_brotli add, and the module gives
 *   precompressed files) matches when that coding is not refused.
 *   Dates: one HTTP-date (IMF-fixdate, RFC 850 or asctime form), nothing
 *   after it; anything else is ignored, as is a date after the present.
 *
 * Evaluation order (RFC 9110 13.2.2):
 *   1. If-Match (strong comparison), else If-Unmodified-Since: false -> 412
 *   2. If-None-Match (weak comparison), else, for GET and HEAD,
 *      If-Modified-Since: false -> 304 for GET and HEAD, 412 otherwise
 *   3. If-Range is left to httpd's byte-range filter.
 */
#ifndef CONDCACHE_VALIDATORS_H
#define CONDCACHE_VALIDATORS_H

#include <apr.h>
#include <apr_time.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    CC_COMPARE_WEAK   = 0,   /* If-None-Match: W/ is ignored on both sides */
    CC_COMPARE_STRONG = 1    /* If-Match, If-Range: both must be strong */
} cc_compare_e;

/* Does the entity-tag list `field` (the value of If-Match or If-None-Match)
 * match `etag` (a strong tag of ours, quotes included, or NULL when the
 * resource has none)?  A field that is exactly "*" matches any existing
 * resource.  Members that are not well-formed entity-tags (no quotes,
 * lower-case w/, spaces or quotes inside, a "*" inside a list) are skipped;
 * the rest of the list is still read.  A member equal to `etag` with
 * "-gzip" or "-br" before its closing quote also matches: mod_deflate and
 * mod_brotli add those suffixes to the tags of compressed responses and
 * clients send them back. */
int cc_etag_list_match(const char *field, const char *etag, cc_compare_e cmp);

/* Content codings whose ETag suffix is recognised. */
#define CC_CODING_GZIP  1u     /* "-gzip", mod_deflate */
#define CC_CODING_BR    2u     /* "-br", mod_brotli */
#define CC_CODING_ZSTD  4u     /* "-zstd" (precompressed .zst files) */

/* Which of those codings does an Accept-Encoding value not accept (q=0,
 * or not listed and no "*")?  With no Accept-Encoding at all, all of
 * them: mod_deflate and mod_brotli compress nothing then. */
unsigned cc_codings_refused(const char *accept_encoding);

/* The coding to send, among the `n` offered (CC_CODING_ bits, the
 * server's order of preference), for an Accept-Encoding value (RFC 9110
 * 12.5.3): the one with the highest qvalue above 0, the server's order
 * breaking ties; 0 for identity: no field, none acceptable, or
 * "identity" rated higher than all of them. */
unsigned cc_coding_choose(const char *accept_encoding,
                          const unsigned *offered, int n);

/* CondCacheStripCodingSuffix: writes `field` (If-None-Match or If-Match)
 * to `out` (strlen(field) + 1 bytes) with the suffix of each coding not
 * in `refused` taken off the tags that end in it ("abc-gzip" -> "abc"),
 * everything else as it was.  Returns the CC_CODING_ bits taken off. */
unsigned cc_etag_list_strip(const char *field, unsigned refused, char *out);

/* A coding's token ("gzip", "br", "zstd") and ETag suffix ("-gzip" ...);
 * NULL for anything but one CC_CODING_ bit.  From a token (any case): its
 * bit, or 0. */
const char *cc_coding_name(unsigned coding);
const char *cc_coding_suffix(unsigned coding);
unsigned cc_coding_from_name(const char *name);

/* cc_etag_list_match(), except that a suffix of a coding in `refused`
 * does not match: the client holds a variant it would not get now. */
int cc_etag_list_match_codings(const char *field, const char *etag,
                               cc_compare_e cmp, unsigned refused);

/* Is `s`, of length `len`, one well-formed entity-tag (W/ allowed)? */
int cc_etag_is_valid(const char *s, apr_size_t len);

typedef enum {
    CC_PRECOND_PASS = 0,          /* serve the selected representation */
    CC_PRECOND_NOT_MODIFIED,      /* 304 */
    CC_PRECOND_FAILED             /* 412 */
} cc_precond_e;

typedef struct {
    int         get_or_head;          /* the method is GET or HEAD */
    const char *if_match;             /* the request's field values, or NULL */
    const char *if_none_match;
    const char *if_modified_since;
    const char *if_unmodified_since;
    const char *etag;                 /* our tag, or NULL when there is none */
    apr_time_t  last_modified;        /* what Last-Modified says; 0: none */
    apr_time_t  now;                  /* the request time */
    unsigned    refused_codings;      /* CC_CODING_ bits whose suffixed
                                         tags do not match (0: none) */
} cc_precond_t;

/* Evaluates the preconditions in the order of RFC 9110 13.2.2: If-Match
 * (else If-Unmodified-Since), then If-None-Match (else, for GET and HEAD,
 * If-Modified-Since).  If-Range is left to httpd's byte-range filter.
 * Dates are compared in whole seconds; a date that does not parse, or one
 * later than `now`, is ignored. */
cc_precond_e cc_evaluate_preconditions(const cc_precond_t *p);

#ifdef __cplusplus
}
#endif

#endif /* CONDCACHE_VALIDATORS_H */
