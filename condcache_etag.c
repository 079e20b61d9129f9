/* condcache-etag: print what mod_condcache sends for each file.
 *
 *   condcache-etag [--digest sha1|sha256|md5|xxh128] FILE...
 *   condcache-etag --integrity[=sha-256[,sha-512]] FILE...
 *
 * Without --integrity, one line per file: the tag exactly as it appears
 * in the ETag header, quotes included, two spaces, the file name (the
 * layout of sha1sum).  With it, one line per file and algorithm: the
 * member of Repr-Digest / Unencoded-Digest (RFC 9530), two spaces, the
 * Subresource Integrity value for an integrity= attribute, two spaces,
 * the file name:
 *
 *   sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:  sha256-47DE...=  app.js
 *
 * Built from the module's cc_digest.c and cc_fields.c, so it cannot
 * disagree with the server.  For deploy pipelines, CDN pre-warming,
 * integrity= attributes and checking `curl -I` by hand.
 */
#include "cc_digest.h"
#include "cc_fields.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *to)
{
    fprintf(to,
            "usage: condcache-etag [--digest sha1|sha256|md5|xxh128] FILE...\n"
            "       condcache-etag --integrity[=sha-256[,sha-512]] FILE...\n"
            "Prints the ETag mod_condcache sends for each FILE (default "
            "digest: sha1),\nor its integrity fields and Subresource "
            "Integrity values (default: sha-256).\n");
}

/* "sha-256,sha-512" into algos[]; the count, or 0 when one is unknown. */
static int parse_integrity(const char *list, cc_algo_e *algos)
{
    char buf[64], *word, *save = NULL;
    int n = 0;

    if (strlen(list) >= sizeof(buf)) {
        return 0;
    }
    strcpy(buf, list);
    for (word = strtok_r(buf, ",", &save); word;
         word = strtok_r(NULL, ",", &save)) {
        cc_algo_e a = cc_algo_from_field_name(word);
        if (a == CC_ALGO_NONE || n == CC_FIELDS_MAX) {
            return 0;
        }
        algos[n++] = a;
    }
    return n;
}

/* Hashes the file at `path` with the n algorithms, in one read of the
 * bytes its fstat announces (what the module would send).  0 on success,
 * else a message went to stderr. */
static int hash_file(const char *path, const cc_algo_e *algos, int n,
                     cc_digest_t *out)
{
    struct stat st;
    apr_status_t rv;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        fprintf(stderr, "condcache-etag: %s: %s\n", path, strerror(errno));
        return -1;
    }
    /* the size the module hashes: fstat's, as a response sends it */
    rv = fstat(fd, &st) != 0 ? errno
       : !S_ISREG(st.st_mode) ? APR_EINVAL
       : cc_digest_fd_multi(fd, (apr_int64_t)st.st_size, algos, n, out, NULL,
                            NULL);
    close(fd);
    if (rv != APR_SUCCESS) {
        fprintf(stderr, "condcache-etag: %s: %s\n", path,
                rv == APR_EINVAL ? "not a regular file"
                : rv == APR_INCOMPLETE ? "its length is not its size "
                  "(changing, or not a disk file)" : strerror(rv));
        return -1;
    }
    return 0;
}

static void print_integrity(const char *path, const cc_digest_t *d)
{
    const char *name = cc_algo_field_name(d->algo);
    const unsigned char *bytes = d->bytes;
    apr_size_t len = cc_algo_size(d->algo);
    char field[CC_FIELDS_VALUE_MAX], sri[CC_ETAG_MAX];
    apr_size_t n;

    cc_fields_format(&name, &bytes, &len, 1, field);
    n = cc_etag_format(d, sri);          /* "sha256-<base64>", quoted */
    sri[n - 1] = '\0';
    printf("%s  %s  %s\n", field, sri + 1, path);
}

int main(int argc, char **argv)
{
    cc_algo_e algos[CC_DIGEST_MULTI_MAX] = { CC_ALGO_SHA1 };
    int i, j, n = 1, integrity = 0, failed = 0;

    for (i = 1; i < argc; i++) {
        const char *arg = argv[i];

        if (strcmp(arg, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strncmp(arg, "--digest=", 9) == 0 || strcmp(arg, "--digest") == 0
            || strcmp(arg, "-d") == 0) {
            const char *name = arg[1] == '-' && arg[8] == '=' ? arg + 9
                             : (i + 1 < argc ? argv[++i] : NULL);
            algos[0] = cc_algo_from_name(name);
            if (!cc_algo_for_etag(algos[0])) {
                fprintf(stderr, "condcache-etag: unknown digest '%s'; use "
                        "sha1, sha256, md5 or xxh128\n", name ? name : "");
                return 2;
            }
            continue;
        }
        if (strcmp(arg, "--integrity") == 0
            || strncmp(arg, "--integrity=", 12) == 0) {
            integrity = 1;
            algos[0] = CC_ALGO_SHA256;
            n = arg[11] == '=' ? parse_integrity(arg + 12, algos) : 1;
            if (n == 0) {
                fprintf(stderr, "condcache-etag: --integrity takes sha-256, "
                        "sha-512 or sha-256,sha-512, not '%s'\n", arg + 12);
                return 2;
            }
            continue;
        }
        if (arg[0] == '-' && arg[1] != '\0') {
            fprintf(stderr, "condcache-etag: unknown option '%s'\n", arg);
            usage(stderr);
            return 2;
        }
        break;
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    for (; i < argc; i++) {
        cc_digest_t digests[CC_DIGEST_MULTI_MAX];

        if (hash_file(argv[i], algos, n, digests) != 0) {
            failed = 1;
            continue;
        }
        if (integrity) {
            for (j = 0; j < n; j++) {
                print_integrity(argv[i], &digests[j]);
            }
        }
        else {
            char tag[CC_ETAG_MAX];
            cc_etag_format(&digests[0], tag);
            printf("%s  %s\n", tag, argv[i]);
        }
    }
    return failed ? 1 : 0;
}
