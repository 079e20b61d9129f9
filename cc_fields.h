/* cc_fields.h: the integrity fields of RFC 9530 (Repr-Digest, and
 * Unencoded-Digest of draft-ietf-httpbis-unencoded-digest) made from
 * remembered digests, and the Want- fields that choose among them.
 *
 * A core unit: APR only (it knows algorithms by their field names, so it
 * needs no hashing library), no httpd header, no logging, no allocation;
 * it reads only the bytes it is given (unit/fuzz_fields.c).
 *
 * Syntax (RFC 9651 Structured Fields, dictionaries):
 *   Repr-Digest / Unencoded-Digest:  sha-256=:<base64>:, sha-512=:<base64>:
 *   Want-Repr-Digest / Want-Unencoded-Digest:  sha-256=10, sha-512=3
 *     member  = key [ "=" bare-item ] *( ";" key [ "=" bare-item ] )
 *     key     = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" )
 *   members separated by "," with optional spaces and tabs around it; a
 *   key given twice counts with its last value.
 * A Want- field that is not a valid dictionary is ignored as a whole (a
 * malformed field is never an error); a member whose value is not an
 * integer from 0 to 10 (a bare key is the Boolean true, an inner list,
 * a string ...) is no preference and ignored alone.
 */
#ifndef CONDCACHE_CC_FIELDS_H
#define CONDCACHE_CC_FIELDS_H

#include <apr.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The most integrity algorithms a scope can name. */
#define CC_FIELDS_MAX  2

/* Chooses, among the `n` configured algorithms (their field names, in the
 * configured order), those a Want- field asks for: their indices go to
 * chosen[], most preferred first (ties in configured order); returns how
 * many.  `want` NULL (no such field), malformed, or rating none of the
 * configured algorithms: all of them, as configured.  One it rates 0 is
 * left out, and so is one it does not rate when it rates another. */
int cc_fields_choose(const char *want, const char *const *names, int n,
                     int *chosen);

/* Bytes of the longest value cc_fields_format() writes, NUL included. */
#define CC_FIELDS_VALUE_MAX  256

/* Writes the dictionary `sha-256=:<base64>:, sha-512=:<base64>:` of n
 * digests (names[i], bytes[i] of lens[i] bytes, at most 64) into buf (at
 * least CC_FIELDS_VALUE_MAX bytes); returns its length (0 for n = 0). */
apr_size_t cc_fields_format(const char *const *names,
                            const unsigned char *const *bytes,
                            const apr_size_t *lens, int n, char *buf);

#ifdef __cplusplus
}
#endif

#endif /* CONDCACHE_CC_FIELDS_H */
