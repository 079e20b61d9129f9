"""Tag oracles: what an ETag should be, computed here without the module.

The one place the tests (and bench/run and the soak scripts) learn what a
tag should be: the module's content tags for each digest (sha1, md5,
sha256, xxh128), core's metadata tag (`FileETag MTime Size`), the forms
filters and negotiation give a tag (weak prefix, coding suffix, variant
list), the regexes of each digest's tag form, and the integrity fields
(CondCacheIntegrity: RFC 9530 `Repr-Digest` / `Unencoded-Digest` members
and the Subresource Integrity values of the same digests).  Standard
library only (libxxhash through ctypes), so bench/run can use it.
"""
import base64
import ctypes
import hashlib
import os
import re


def b64(data):
    return base64.b64encode(data).decode("ascii")


# --------------------------------------------------------------------------
# XXH3-128 from libxxhash (hashlib has no xxh3)

class _XXH128(ctypes.Structure):
    _fields_ = [("low64", ctypes.c_uint64), ("high64", ctypes.c_uint64)]


def _load_xxh3():
    for name in ("libxxhash.so.0", "libxxhash.so"):
        try:
            lib = ctypes.CDLL(name)
            fn = lib.XXH3_128bits
        except (OSError, AttributeError):
            continue
        fn.restype = _XXH128
        fn.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
        # known answer: xxh128sum of an empty file
        h = fn(b"", 0)
        if "%016x%016x" % (h.high64, h.low64) == "99aa06d3014798d86001c324468d497f":
            return fn
    return None


_xxh3_128 = _load_xxh3()


def have_xxh128():
    return _xxh3_128 is not None


def _xxh128_digest(data):
    """The canonical (big-endian) 16 bytes, as xxh128sum prints them."""
    h = _xxh3_128(data, len(data))
    return h.high64.to_bytes(8, "big") + h.low64.to_bytes(8, "big")


# --------------------------------------------------------------------------
# Content tags

def tag_from_digest(algo, digest):
    """The module's tag for a digest: sha1 base64 (core's `FileETag Digest`
    form), md5 hex, sha256 in Subresource Integrity form, xxh128 hex."""
    if algo == "sha1":
        return '"%s"' % b64(digest)
    if algo == "sha256":
        return '"sha256-%s"' % b64(digest)
    if algo in ("md5", "xxh128"):
        return '"%s"' % digest.hex()
    raise ValueError("unknown digest %r" % algo)


def content_tag(algo, data):
    """The module's tag for `data` under `algo`.  xxh128 needs libxxhash;
    None when it is not there."""
    if algo == "xxh128":
        return None if _xxh3_128 is None else \
            tag_from_digest(algo, _xxh128_digest(data))
    return tag_from_digest(algo, hashlib.new(algo, data).digest())


def sha1_tag(data):
    """core's `FileETag Digest` form: base64 (padded) of SHA-1, quoted; the
    module's default tag."""
    return content_tag("sha1", data)


def md5_tag(data):
    return content_tag("md5", data)


def sha256_tag(data):
    """Subresource Integrity form."""
    return content_tag("sha256", data)


def xxh128_tag(data):
    """`"` + canonical XXH3-128 hex + `"`; None without libxxhash."""
    return content_tag("xxh128", data)


def file_tag(algo, path):
    """content_tag of a file's bytes, read in 1 MiB blocks (the soak and
    reliability files run to hundreds of MiB)."""
    if algo == "xxh128":
        with open(path, "rb") as f:
            return content_tag(algo, f.read())
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return tag_from_digest(algo, h.digest())


# hashers of runs of zero bytes, by algorithm: (bytes fed, hasher), so
# that the tags of several sparse files cost the largest one's hash once
_zero_hashers = {}
_ZERO_BLOCK = bytes(1 << 22)


def zeros_tag(algo, size):
    """content_tag of `size` zero bytes (a sparse file made with
    make_big_file(random_bytes=False)) without holding them in memory:
    one hash per algorithm, extended as bigger sizes are asked for.
    Not xxh128 (its one-shot ctypes call has no streaming form here)."""
    if algo == "xxh128":
        raise ValueError("zeros_tag: no streaming xxh128")
    done, h = _zero_hashers.get(algo, (0, None))
    if h is None or done > size:
        done, h = 0, hashlib.new(algo)
    while done < size:
        n = min(len(_ZERO_BLOCK), size - done)
        h.update(_ZERO_BLOCK if n == len(_ZERO_BLOCK)
                 else memoryview(_ZERO_BLOCK)[:n])
        done += n
    _zero_hashers[algo] = (done, h)
    return tag_from_digest(algo, h.copy().digest())


# the form of each digest's tag, as the module sends it
TAG_RES = {
    "sha1": re.compile(r'^"[A-Za-z0-9+/]{27}="$'),
    "md5": re.compile(r'^"[0-9a-f]{32}"$'),
    "sha256": re.compile(r'^"sha256-[A-Za-z0-9+/]{43}="$'),
    "xxh128": re.compile(r'^"[0-9a-f]{32}"$'),
}


# --------------------------------------------------------------------------
# Integrity fields (CondCacheIntegrity): RFC 9530's Repr-Digest and
# Unencoded-Digest, and the Subresource Integrity form of the same digests

# field algorithm name (RFC 9530's registry) -> hashlib name
INTEGRITY_HASHES = {"sha-256": "sha256", "sha-512": "sha512"}


def integrity_digest(algo, data):
    """The digest bytes of `data` for a field algorithm ("sha-256")."""
    return hashlib.new(INTEGRITY_HASHES[algo], data).digest()


def integrity_member(algo, data):
    """One dictionary member, as the module writes it:
    `sha-256=:<base64>:`."""
    return "%s=:%s:" % (algo, b64(integrity_digest(algo, data)))


def integrity_field(data, algos):
    """The whole field value for `algos` in that order (RFC 9651
    dictionary, members joined by ", ")."""
    return ", ".join(integrity_member(a, data) for a in algos)


def sri_value(algo, data):
    """The Subresource Integrity value (`integrity=` attribute) of the same
    digest: `sha256-<base64>`."""
    return "%s-%s" % (INTEGRITY_HASHES[algo], b64(integrity_digest(algo, data)))


# --------------------------------------------------------------------------
# core's metadata tag

def core_meta_tag(path, inode=False):
    """core's metadata ETag for the default `FileETag MTime Size`:
    "size-mtime" in hex, mtime in microseconds (ap_make_etag_ex)."""
    st = os.stat(path)
    mtime_us = st.st_mtime_ns // 1000
    if inode:
        return '"%x-%x-%x"' % (st.st_ino, st.st_size, mtime_us)
    return '"%x-%x"' % (st.st_size, mtime_us)


# --------------------------------------------------------------------------
# What filters and negotiation do to a tag

def strip_weak(tag):
    return tag[2:] if tag and tag.startswith("W/") else tag


def with_suffix(tag, suffix):
    """`"abc"` + "gzip" -> `"abc-gzip"` (what mod_deflate/mod_brotli do)."""
    assert tag.endswith('"')
    return tag[:-1] + "-" + suffix + '"'


def split_tag(tag):
    """A tag without W/, quotes and the parts filters and negotiation add:
    (base, suffix) where suffix is ';vlv', '-gzip', '-br' or '' (a variant
    list tag may carry a coding suffix too).  (None, None) for no tag."""
    if tag is None:
        return None, None
    t = strip_weak(tag)
    inner = t[1:-1] if len(t) >= 2 and t[0] == t[-1] == '"' else t
    suffix = ""
    m = re.search(r"(-gzip|-br)$", inner)
    if m:
        suffix = m.group(1)
        inner = inner[:m.start()]
    if ";" in inner:
        inner, vlv = inner.split(";", 1)
        suffix = ";" + vlv + suffix
    return inner, suffix
