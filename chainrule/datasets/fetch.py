"""Downloading a file once into a cache folder, verifying its checksum (``download``)."""

from __future__ import annotations

import hashlib
import http.client
import os
import secrets
import urllib.error
import urllib.request


class DownloadError(OSError):
    """A file could not be fetched (offline, refused, not found) or failed its checksum."""


def data_home() -> str:
    """The cache folder for downloaded data: ``$CHAINRULE_DATA`` if set, else
    ``$XDG_CACHE_HOME/chainrule`` (default ``~/.cache/chainrule``)."""
    if os.environ.get("CHAINRULE_DATA"):
        return os.path.expanduser(os.environ["CHAINRULE_DATA"])
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "chainrule")


def file_digest(path: str, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _expected(md5, sha256):
    if sha256:
        return "sha256", sha256.lower()
    if md5:
        return "md5", md5.lower()
    return None, None


def download(url, root: str | None = None, filename: str | None = None, *, md5: str | None = None,
             sha256: str | None = None, timeout: float = 30.0) -> str:
    """Fetch ``url`` into ``root/filename`` (default: the cache folder and the URL's last
    part) unless a file with the right checksum is already there; return its path.

    ``url`` may be a list of mirrors, tried in order.  With ``sha256`` or ``md5`` the
    download is verified and a mismatching file is never kept.  The file is written to a
    temporary name and renamed, so an interrupted download leaves nothing behind.  Raises
    ``DownloadError`` with the reason when no mirror could be fetched (e.g. offline).
    """
    urls = [url] if isinstance(url, str) else list(url)
    if not urls:
        raise ValueError("download: no URL given")
    root = data_home() if root is None else os.fspath(root)
    filename = filename or urls[0].rstrip("/").rsplit("/", 1)[-1]
    dest = os.path.join(root, filename)
    algo, want = _expected(md5, sha256)
    if os.path.isfile(dest) and (algo is None or file_digest(dest, algo) == want):
        return dest
    os.makedirs(root, exist_ok=True)
    failures = []
    for u in urls:
        tmp = os.path.join(root, f".{filename}.{secrets.token_hex(6)}.part")
        try:
            got = _fetch(u, tmp, algo, timeout)
            if algo is None or got == want:
                os.replace(tmp, dest)
                return dest
            failures.append(f"{u}: {algo} is {got}, expected {want} (file not kept)")
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
            failures.append(f"{u}: {getattr(exc, 'reason', None) or exc}")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    check = f" ({algo} {want})" if algo else ""
    raise DownloadError(f"download: could not fetch {filename}: " + "; ".join(failures) +
                        f". If this machine is offline, download it elsewhere and put it at "
                        f"{dest}{check}")


def _fetch(url: str, path: str, algo, timeout: float):
    """Stream ``url`` into ``path``; the hex digest with ``algo`` (or None)."""
    h = hashlib.new(algo) if algo else None
    with urllib.request.urlopen(url, timeout=timeout) as response, open(path, "wb") as out:
        for block in iter(lambda: response.read(1 << 20), b""):
            out.write(block)
            if h is not None:
                h.update(block)
    return h.hexdigest() if h is not None else None
