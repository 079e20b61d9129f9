/* cc_variant.h: is a precompressed sidecar exactly its original,
 * compressed?  Decided once per pair of file versions, remembered in the
 * table.
 *
 * A core unit (APR, cc_table and cc_decode; no httpd header, no logging).
 * Before the module sends style.css.br for style.css it must know that
 * the sidecar decodes to exactly style.css's bytes: a stale, truncated or
 * foreign sidecar would send other content under style.css's name and tag
 * (every peer server that serves sidecars does exactly that).  The check
 * decodes the sidecar and hashes the output with the algorithm of the
 * original's digest: same digest, same bytes.
 *
 * What the sidecar decodes to is stored in the table as an entry of its
 * own, under the sidecar's key with its device number marked by the
 * coding (cc_variant_key()): a key no regular file has, since every field
 * of a key must match and real device numbers never use the top byte.
 * The entry holds the digest of the decoded bytes when they are the
 * original's, else a digest no content has (every byte 0xff: "does not
 * decode to it").  The pair
 * is thus decided by two lookups, the original's and the sidecar's; a new
 * version of the sidecar has a new key, and is decided again.  A sidecar
 * found to decode to another version of its original (the original
 * changed since) is stale: that is said once (*decided) and its entry
 * becomes "does not decode".  Nothing is stored for a sidecar changed too
 * recently (cc_key_settled()).
 */
#ifndef CONDCACHE_CC_VARIANT_H
#define CONDCACHE_CC_VARIANT_H

#include <apr.h>
#include <apr_errno.h>

#include "cc_decode.h"
#include "cc_digest.h"
#include "cc_table.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The table key that remembers what the sidecar of key `sidecar` decodes
 * to with `coding`. */
void cc_variant_key(const cc_file_key_t *sidecar, cc_decode_e coding,
                    cc_file_key_t *out);

typedef enum {
    CC_VARIANT_SAME = 0,       /* decodes to exactly the original */
    CC_VARIANT_OTHER,          /* does not: stale, foreign, corrupt */
    CC_VARIANT_NEED_FILE,      /* not known yet (lookup only, fd < 0) */
    CC_VARIANT_UNKNOWN         /* could not be decided now: a read error,
                                  or a sidecar bigger than max_decode */
} cc_variant_e;

/* Is the sidecar of key `sidecar` (open as `fd`, or -1 to look the table
 * up only) the original of digest `original` and `original_size` bytes,
 * compressed with `coding`?  A sidecar bigger than `max_decode` bytes is
 * not decoded (UNKNOWN).  *decided is set when this call decoded it (and
 * so found it OTHER for the first time: worth a warning), or found it
 * stale for the first time. */
cc_variant_e cc_variant_check(cc_table_t *t, int fd,
                              const cc_file_key_t *sidecar,
                              cc_decode_e coding,
                              const cc_digest_t *original,
                              apr_int64_t original_size,
                              apr_int64_t max_decode, apr_time_t now,
                              int *decided, apr_status_t *err);

#ifdef __cplusplus
}
#endif

#endif /* CONDCACHE_CC_VARIANT_H */
