/* unit/fuzz_fields.c: libFuzzer target for cc_fields.c, the integrity
 * fields (RFC 9530) and the Want- fields that choose them.
 *
 * Build: clang -fsanitize=fuzzer,address,undefined (see unit/unit.mk),
 * linked with cc_fields.c only.
 *
 * The input is a Want-Repr-Digest / Want-Unencoded-Digest field value.
 * cc_fields_choose() takes a C string, so it gets the input in a heap
 * block of exactly its length + 1 with a NUL at the end (an input with a
 * NUL byte is cut there, as a C string is); the configured names come in
 * exact-size blocks too, so a read past any of them is a crash.  With 1
 * and 2 configured names (in both orders, and two short names that
 * mutated keys hit more easily) it asserts:
 *   - the count is between 0 and n, every index is below n, none twice,
 *     and nothing is written past chosen[n - 1];
 *   - the answer is what unit/sf_ref.h, a strict RFC dictionary parser of
 *     the test's own, says it should be.  The reference follows RFC 9651
 *     (dates and display strings included) and, like cc_fields.c, takes
 *     a byte sequence by its alphabet;
 *   - an absent field (NULL) gives the configured set.
 * Then it formats 0 to 2 digests derived from the input (lengths 0 to 64
 * bytes, exact-size blocks) and asserts that the value is shorter than
 * CC_FIELDS_VALUE_MAX, that the returned length is its strlen, that
 * nothing is written past the NUL, and that it reads back (strict RFC
 * 9651, canonical base64) as the names and bytes given.
 */
#include "cc_fields.h"
#include "sf_ref.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_PROGRAM "fuzz_fields"
#include "fuzz_assert.h"

static char *exact(const void *data, size_t len)
{
    char *c = malloc(len + 1);

    if (!c) {
        abort();
    }
    memcpy(c, data, len);
    c[len] = '\0';
    return c;
}

static void check_choose(const char *want, const char *const *cfg, int n)
{
    char *names[CC_FIELDS_MAX];
    int chosen[CC_FIELDS_MAX + 2], ref[SF_REF_NAMES_MAX];
    int count, rcount, i, j;

    for (i = 0; i < n; i++) {
        names[i] = exact(cfg[i], strlen(cfg[i]));
    }
    for (i = 0; i < CC_FIELDS_MAX + 2; i++) {
        chosen[i] = -77;
    }
    count = cc_fields_choose(want, (const char *const *)names, n, chosen);
    FUZZ_ASSERT(count >= 0 && count <= n, "count %d of %d", count, n);
    for (i = 0; i < count; i++) {
        FUZZ_ASSERT(chosen[i] >= 0 && chosen[i] < n, "index %d of %d",
                    chosen[i], n);
        for (j = 0; j < i; j++) {
            FUZZ_ASSERT(chosen[j] != chosen[i], "index %d twice", chosen[i]);
        }
    }
    for (i = n; i < CC_FIELDS_MAX + 2; i++) {
        FUZZ_ASSERT(chosen[i] == -77, "chosen[%d] written, n %d", i, n);
    }
    rcount = sf_ref_choose(want, cfg, n, SF_DATES_DISPLAY, ref);
    FUZZ_ASSERT(rcount == count && memcmp(ref, chosen, sizeof(int) *
                                          (size_t)count) == 0,
                "with %d names (%s ...): %d chosen (%d %d), the reference "
                "%d (%d %d)", n, cfg[0], count, count > 0 ? chosen[0] : -1,
                count > 1 ? chosen[1] : -1, rcount, rcount > 0 ? ref[0] : -1,
                rcount > 1 ? ref[1] : -1);
    if (!want) {
        FUZZ_ASSERT(count == n, "absent field: %d of %d", count, n);
        for (i = 0; i < n; i++) {
            FUZZ_ASSERT(chosen[i] == i, "absent field: chosen[%d] = %d", i,
                        chosen[i]);
        }
    }
    for (i = 0; i < n; i++) {
        free(names[i]);
    }
}

/* What the syntax check saw. */
static uint64_t mix(uint64_t x)
{
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

static void check_format(const uint8_t *data, size_t size)
{
    static const char *const all_names[] = { "sha-256", "sha-512" };
    uint64_t h = UINT64_C(0x1234567);
    unsigned char *bytes[CC_FIELDS_MAX];
    const char *names[CC_FIELDS_MAX];
    apr_size_t lens[CC_FIELDS_MAX], len, j;
    char *buf = malloc(CC_FIELDS_VALUE_MAX);
    sf_bytes_seen_t s;
    int n, i;

    if (!buf) {
        abort();
    }
    for (j = 0; j < size; j++) {
        h = mix(h ^ data[j]);
    }
    n = (int)(h % 3);
    for (i = 0; i < n; i++) {
        h = mix(h);
        /* the usual lengths, often; any length up to 64, sometimes */
        lens[i] = (h >> 8) % 4 == 0 ? (apr_size_t)((h >> 16) % 65)
                : (h >> 8) % 4 == 1 ? 32 : 64;
        names[i] = all_names[(h >> 24) & 1];
        bytes[i] = malloc(lens[i] ? lens[i] : 1);
        if (!bytes[i]) {
            abort();
        }
        for (j = 0; j < lens[i]; j++) {
            /* the input's bytes where there are some, else the hash's */
            bytes[i][j] = j < size ? data[(j + (size_t)i * 7) % size]
                                   : (unsigned char)(mix(h + j) >> 17);
        }
    }
    memset(buf, 0xA5, CC_FIELDS_VALUE_MAX);
    len = cc_fields_format(names, (const unsigned char *const *)bytes, lens,
                           n, buf);
    FUZZ_ASSERT(len < CC_FIELDS_VALUE_MAX, "length %zu", (size_t)len);
    FUZZ_ASSERT(buf[len] == '\0' && strlen(buf) == len, "returned %zu, "
                "strlen %zu", (size_t)len, strlen(buf));
    for (j = len + 1; j < CC_FIELDS_VALUE_MAX; j++) {
        FUZZ_ASSERT((unsigned char)buf[j] == 0xA5, "byte %zu past the NUL "
                    "written", (size_t)j);
    }
    FUZZ_ASSERT((n == 0) == (len == 0), "%d digests, length %zu", n,
                (size_t)len);
    memset(&s, 0, sizeof(s));
    FUZZ_ASSERT(sf_parse_dictionary(buf, len, SF_B64_CANONICAL,
                                    sf_bytes_note, &s)
                && s.bad == 0 && s.count == n,
                "\"%s\" is no dictionary of %d byte sequences (%d read, %d "
                "bad)", buf, n, s.count, s.bad);
    for (i = 0; i < n; i++) {
        FUZZ_ASSERT(strcmp(s.key[i], names[i]) == 0 && s.len[i] == lens[i]
                    && memcmp(s.bytes[i], bytes[i], lens[i]) == 0,
                    "member %d of \"%s\" is not %s of the %zu bytes given",
                    i, buf, names[i], (size_t)lens[i]);
        free(bytes[i]);
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const cfg_a[] = { "sha-256", "sha-512" };
    static const char *const cfg_b[] = { "sha-512", "sha-256" };
    static const char *const cfg_c[] = { "a", "b" };
    char *want = exact(data, size);        /* cut at a NUL, as C strings are */

    check_choose(want, cfg_a, 2);
    check_choose(want, cfg_b, 2);
    check_choose(want, cfg_a, 1);
    check_choose(want, cfg_b, 1);
    check_choose(want, cfg_c, 2);
    check_choose(want, cfg_c, 0);
    check_choose(NULL, cfg_a, 2);
    check_choose(NULL, cfg_b, 1);
    free(want);
    check_format(data, size);
    return 0;
}
