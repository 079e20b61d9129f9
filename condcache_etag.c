/* condcache-etag: print the ETag mod_condcache sends for each file.
 *
 *   condcache-etag [--digest sha1|sha256|md5|xxh128] FILE...
 *
 * One line per file: the tag exactly as it appears in the ETag header,
 * quotes included, two spaces, the file name (the layout of sha1sum).
 * Built from the module's cc_digest.c, so it cannot disagree with the
 * server.  For
 * deploy pipelines, CDN pre-warming and checking `curl -I` by hand.
 */
#include "cc_digest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *to)
{
    fprintf(to,
            "usage: condcache-etag [--digest sha1|sha256|md5|xxh128] FILE...\n"
            "Prints the ETag mod_condcache sends for each FILE "
            "(default digest: sha1).\n");
}

int main(int argc, char **argv)
{
    cc_algo_e algo = CC_ALGO_SHA1;
    int i, failed = 0, files = 0;

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
            algo = cc_algo_from_name(name);
            if (algo == CC_ALGO_NONE) {
                fprintf(stderr, "condcache-etag: unknown digest '%s'; use "
                        "sha1, sha256, md5 or xxh128\n", name ? name : "");
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
        const char *path = argv[i];
        char tag[CC_ETAG_MAX];
        cc_digest_t digest;
        struct stat st;
        apr_status_t rv;
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        files++;
        if (fd < 0) {
            fprintf(stderr, "condcache-etag: %s: %s\n", path, strerror(errno));
            failed = 1;
            continue;
        }
        /* the size the module hashes: fstat's, as a response sends it */
        rv = fstat(fd, &st) != 0 ? errno
           : !S_ISREG(st.st_mode) ? APR_EINVAL
           : cc_digest_fd(fd, (apr_int64_t)st.st_size, algo, &digest, NULL,
                          NULL);
        close(fd);
        if (rv != APR_SUCCESS) {
            fprintf(stderr, "condcache-etag: %s: %s\n", path,
                    rv == APR_EINVAL ? "not a regular file"
                    : rv == APR_INCOMPLETE ? "its length is not its size "
                      "(changing, or not a disk file)" : strerror(rv));
            failed = 1;
            continue;
        }
        cc_etag_format(&digest, tag);
        printf("%s  %s\n", tag, path);
    }
    return failed ? 1 : 0;
}
