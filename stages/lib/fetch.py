"""Download a file over HTTP(S): streamed to disk, resumed after a dropped connection, retried with backoff,
verified against its SHA-256 before anyone uses it.

The partial download lives in `<dest>.part` and is only renamed to `dest` once its checksum matches, so a
cache directory never holds a file that looks complete but is not.
"""
from __future__ import annotations

import http.client
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from stages.lib.files import sha256_file

CHUNK = 1 << 20
TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}


class DownloadError(RuntimeError):
    """A download failed for good (after retries, or on a non-transient error)."""


class _Transient(Exception):
    """A failure worth another attempt."""


def fetch(url: str, dest: Path | str, sha256: str, *, retries: int = 4, timeout: float = 60.0,
          backoff: float = 1.0, progress: bool = True) -> Path:
    """Return `dest` holding the bytes of `url` whose SHA-256 is `sha256`, downloading only what is missing."""
    dest = Path(dest)
    if dest.exists() and sha256_file(dest) == sha256.lower():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    for attempt in range(retries + 1):
        try:
            _stream(url, part, timeout, progress)
            break
        except _Transient as e:
            if attempt == retries:
                raise DownloadError(f"{url}: giving up after {retries + 1} attempts: {e}") from None
            time.sleep(backoff * 2 ** attempt)
    actual = sha256_file(part)
    if actual != sha256.lower():
        part.unlink()
        raise DownloadError(f"{url}: SHA-256 mismatch: expected {sha256.lower()}, got {actual}; "
                            "the file was deleted (check the URL and checksum in params.yaml)")
    os.replace(part, dest)
    return dest


def _stream(url: str, part: Path, timeout: float, progress: bool) -> None:
    """Append the rest of `url` to `part`, asking with a Range header for what is already there."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # we already hold every byte; the checksum will say if they are right
            return
        if e.code in TRANSIENT_STATUS:
            raise _Transient(f"HTTP {e.code} {e.reason}") from None
        raise DownloadError(f"{url}: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError) as e:
        raise _Transient(f"cannot connect: {getattr(e, 'reason', e)}") from None

    with response:
        if response.status != 206:  # the server ignored the Range header: start again from zero
            have = 0
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        mode = "ab" if have else "wb"
        with part.open(mode) as f, tqdm(total=total, initial=have, unit="B", unit_scale=True,
                                        desc=Path(url).name, disable=not progress) as bar:
            try:
                while block := response.read(CHUNK):
                    f.write(block)
                    bar.update(len(block))
            except (http.client.IncompleteRead, OSError) as e:
                raise _Transient(f"connection dropped after {f.tell()} bytes: {e}") from None
            if total is not None and f.tell() < total:
                raise _Transient(f"connection dropped after {f.tell()} of {total} bytes")
