"""Download files listed in the data manifest into a TCP-layout folder, verified by SHA-256.

``fetch`` keeps each file's dataset-relative path under the destination, so the destination becomes
a root that :mod:`dtb.layout` and the loaders read directly. Each file is streamed (with pooch's
HTTP downloader) into a temporary file beside its final path, checked for size and SHA-256, and
only then renamed into place: a partial or corrupt download never sits at the path a loader reads.
Files already present with the right hash are skipped, so an interrupted fetch resumes where it
stopped; a file present with a wrong hash is removed and downloaded again, never trusted.

Entries with ``"checksum": "unknown"`` (events files the manifest lists without size and hash) are
downloaded the same way, through a temporary file renamed into place only once the whole body has
arrived (its length must match the server's ``Content-Length`` when one is sent), but their content
cannot be checked: each is named in a warning, and :attr:`FetchResult.unverified` lists them. Such
a file already present is kept if it is not empty, though nothing can tell whether it is the right
one; remove it to download it again. ``verified_only=True`` leaves these entries out.
"""

from __future__ import annotations

import http.client
import logging
import time
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from urllib.parse import quote

import pooch
import requests
import urllib3.exceptions

from dtb.data.manifest import is_verified
from dtb.fileio import atomic_path
from dtb.progress import tqdm
from dtb.provenance import sha256_file

log = logging.getLogger(__name__)

#: Bytes read per chunk while streaming a download.
CHUNK_SIZE = 1 << 16

#: Transfer errors worth another attempt (dropped connections, timeouts, truncated bodies).
_TRANSIENT = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
)


class FetchError(ValueError):
    """A file could not be downloaded and verified; the message names the file."""


class _Incomplete(Exception):
    """An unverified file's body is shorter than announced, or empty (a failed transfer)."""


class FetchResult(list):
    """Final paths of the fetched entries (a ``list`` of :class:`~pathlib.Path`, in the order
    given), with the ones that could not be verified.

    Attributes
    ----------
    unverified : list of Path
        Paths among them whose entry has no checksum (``"checksum": "unknown"``): downloaded or
        found present, but not checked against a size and SHA-256.
    """

    def __init__(self, paths: Iterable[Path] = (), unverified: Iterable[Path] = ()) -> None:
        super().__init__(paths)
        self.unverified: list[Path] = list(unverified)

    @property
    def verified(self) -> list[Path]:
        """Paths whose size and SHA-256 were checked."""
        skip = set(self.unverified)
        return [p for p in self if p not in skip]


class _WrongSize(Exception):
    """The body received has the wrong size (a transfer cut short unnoticed, or another file)."""

    def __init__(self, size: int, sha256: str) -> None:
        super().__init__(f"received {size} bytes (SHA-256 {sha256})")
        self.size = size
        self.sha256 = sha256


class _FileProgress:
    """Per-file progress object for :class:`pooch.HTTPDownloader` feeding one overall byte bar.

    Pooch sets ``total``, calls ``update`` per chunk, then ``reset``, ``update(total)`` and
    ``close`` at the end of a file; the bytes of this file are tracked so that a failed attempt
    can be taken back off the overall bar.
    """

    def __init__(self, bar: tqdm) -> None:
        self.bar = bar
        self.total = 0
        self.done = 0

    def update(self, n: int) -> None:
        self.done += n
        self.bar.update(n)

    def reset(self) -> None:
        self.bar.update(-self.done)
        self.done = 0

    def close(self) -> None:
        """Nothing to close: the overall bar lives on."""

    def settle(self, size: int) -> None:
        """Count exactly ``size`` bytes for the finished file and start afresh for the next."""
        self.bar.update(size - self.done)
        self.done = 0

    def grow(self, size: int) -> None:
        """Add a file of size unknown beforehand (an unverified entry) to the overall total."""
        if self.bar.total is not None:
            self.bar.total += size
            self.bar.refresh()


class _Headers:
    """Response hook for requests: keeps the headers of the last response of a download."""

    def __init__(self) -> None:
        self.headers: dict[str, str] | None = None

    def __call__(self, response: requests.Response, *args: object, **kwargs: object) -> None:
        self.headers = dict(response.headers)

    def expected_length(self) -> int | None:
        """The body length the server announced (``Content-Length`` of an unencoded body)."""
        if not self.headers:
            return None
        h = {k.lower(): v for k, v in self.headers.items()}
        if h.get("content-encoding", "identity").lower() not in ("", "identity"):
            return None  # the length of the encoded body, not of the file written
        length = h.get("content-length", "")
        return int(length) if length.strip().isdigit() else None


def fetch(
    dest: Path | str,
    entries: Iterable[dict],
    *,
    base_url: str | None = None,
    progress: bool = True,
    retries: int = 3,
    timeout: float = 60.0,
    retry_wait: float = 1.0,
    verified_only: bool = False,
) -> FetchResult:
    """Download manifest entries into ``dest``, verifying each file's size and SHA-256.

    Parameters
    ----------
    dest : Path or str
        Destination folder; created if needed. Each entry lands at ``dest / entry["path"]``.
    entries : iterable of dict
        Manifest entries (see :func:`dtb.data.manifest.select_entries`), each with ``path``
        (dataset-relative, POSIX), ``size`` (bytes), ``sha256`` (hex), ``url`` and optionally
        ``checksum``. An entry with ``"checksum": "unknown"`` (``size`` and ``sha256`` null) is
        downloaded without verification and named in a warning.
    base_url : str, optional
        Download from ``base_url + path`` instead of each entry's ``url`` (a mirror, or a local
        server in tests).
    progress : bool
        Show one progress bar over the total bytes.
    retries : int
        Further attempts after a failed transfer (dropped connection, timeout, truncated body,
        HTTP 5xx). A complete file with the wrong hash and an HTTP 4xx answer are not retried.
    timeout : float
        Seconds to wait for the server to connect or to send more data.
    retry_wait : float
        Seconds to wait before retry ``k`` is ``retry_wait * k``.
    verified_only : bool
        Leave out the entries that cannot be verified (``"checksum": "unknown"``).

    Returns
    -------
    FetchResult
        Final paths of the entries fetched, in the order given (a list of Path); each is
        present, and verified unless listed in ``.unverified`` (entries without a checksum,
        which are also named in warnings and counted at the end).

    Raises
    ------
    FetchError
        If a file's SHA-256 does not match the manifest (the message names the file and both
        hashes), if the server refuses it, or if the transfer keeps failing after ``retries``
        retries (a body shorter than its ``Content-Length`` counts as a failed transfer). No
        partial file, and no file failing its check, is left at the final path.
    ValueError
        For invalid arguments or entries (a path that leaves ``dest``, a duplicate, a missing
        field).
    """
    _check_transfer_args(retries, timeout, retry_wait)
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise ValueError(f"{dest}: destination exists and is not a folder")
    entries = _selected(list(entries), verified_only)
    items = _plan(dest, entries, base_url)
    dest.mkdir(parents=True, exist_ok=True)

    total = sum(int(e["size"]) for e, _, _ in items if is_verified(e))
    bar = tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc="ds005237",
        disable=not progress,
        dynamic_ncols=True,
    )
    file_bar = _FileProgress(bar)
    headers = _Headers()
    downloader = pooch.HTTPDownloader(
        progressbar=file_bar,
        chunk_size=CHUNK_SIZE,
        timeout=timeout,
        hooks={"response": [headers]},
    )
    result = FetchResult()
    n_skipped = n_downloaded = 0
    try:
        for entry, final, url in items:
            bar.set_postfix_str(PurePosixPath(entry["path"]).name, refresh=False)
            if _fetch_item(entry, final, url, downloader, headers, file_bar, retries, retry_wait):
                n_downloaded += 1
            else:
                n_skipped += 1
            result.append(final)
            if not is_verified(entry):
                result.unverified.append(final)
        if result.unverified:
            bar.set_postfix_str(f"{len(result.unverified)} unverified", refresh=True)
    finally:
        bar.close()
    log.info("%d file(s) downloaded, %d already present, under %s", n_downloaded, n_skipped, dest)
    if result.unverified:
        log.warning(
            "%d of %d file(s) could not be verified (no checksum in the manifest; each "
            "is named above)",
            len(result.unverified),
            len(result),
        )
    return result


def _check_transfer_args(retries: int, timeout: float, retry_wait: float) -> None:
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be a non-negative integer, got {retries!r}")
    if timeout <= 0 or retry_wait < 0:
        raise ValueError(f"timeout must be > 0 and retry_wait >= 0, got {timeout}, {retry_wait}")


def _selected(entries: list[dict], verified_only: bool) -> list[dict]:
    """The entries to fetch: all, or only those with a checksum."""
    if not verified_only:
        return entries
    left_out = [e for e in entries if not is_verified(e)]
    if left_out:
        log.info(
            "left out %d entr%s without a checksum (verified_only)",
            len(left_out),
            "y" if len(left_out) == 1 else "ies",
        )
    return [e for e in entries if is_verified(e)]


def _fetch_item(
    entry: dict,
    final: Path,
    url: str,
    downloader: pooch.HTTPDownloader,
    headers: _Headers,
    file_bar: _FileProgress,
    retries: int,
    retry_wait: float,
) -> bool:
    """Keep a present, valid file or download it; return True when it was downloaded."""
    rel, verified = entry["path"], is_verified(entry)
    if _present_and_valid(final, entry):
        size = final.stat().st_size
        if verified:
            log.info("skipped %s (present, SHA-256 verified)", rel)
        else:
            file_bar.grow(size)
            log.warning(
                "%s: present (%d bytes) and kept UNVERIFIED: the manifest has no "
                "checksum for it, so it cannot be checked",
                rel,
                size,
            )
        file_bar.bar.update(size)
        return False
    size, got = _download(downloader, headers, file_bar, url, final, entry, retries, retry_wait)
    if verified:
        log.info("downloaded %s (%d bytes, SHA-256 verified)", rel, size)
    else:
        log.warning(
            "%s: downloaded UNVERIFIED (%d bytes, SHA-256 %s): the manifest has no checksum for it",
            rel,
            size,
            got,
        )
    return True


def _plan(dest: Path, entries: list[dict], base_url: str | None) -> list[tuple[dict, Path, str]]:
    """Check the entries and pair each with its final path and download URL."""
    out: list[tuple[dict, Path, str]] = []
    seen: set[str] = set()
    for e in entries:
        missing = [k for k in ("path", "size", "sha256") if k not in e]
        if missing or (base_url is None and "url" not in e):
            name = e.get("path", "<no path>")
            raise ValueError(f"manifest entry {name} lacks {', '.join(missing) or 'url'}")
        if is_verified(e) and (e["size"] is None or e["sha256"] is None):
            raise ValueError(
                f"manifest entry {e['path']} has checksum 'sha256' but no size or SHA-256"
            )
        rel = PurePosixPath(e["path"])
        if rel.is_absolute() or ".." in rel.parts or not rel.parts or "\\" in e["path"]:
            raise ValueError(f"manifest entry {e['path']!r} is not a path inside the dataset")
        if e["path"] in seen:
            raise ValueError(f"manifest entry {e['path']} is listed twice")
        seen.add(e["path"])
        url = e["url"] if base_url is None else base_url.rstrip("/") + "/" + quote(e["path"])
        out.append((e, dest.joinpath(*rel.parts), url))
    return out


def _present_and_valid(final: Path, entry: dict) -> bool:
    """Whether ``final`` holds the entry's file; a wrong file there is removed (never trusted).

    For an entry without a checksum only emptiness can be checked: a non-empty file is kept as it
    is (it cannot be verified), an empty one is removed.
    """
    if not final.exists():
        return False
    if not final.is_file():
        raise FetchError(f"{final}: exists and is not a file; remove it to fetch {entry['path']}")
    size = final.stat().st_size
    if not is_verified(entry):
        if size > 0:
            return True
        log.warning("%s is present but empty: removing it and downloading again", final)
        final.unlink()
        return False
    if size == int(entry["size"]):
        got = sha256_file(final)
        if got == entry["sha256"]:
            return True
        why = f"SHA-256 {got}, expected {entry['sha256']}"
    else:
        why = f"{size} bytes, expected {entry['size']}"
    log.warning("%s is present but wrong (%s): removing it and downloading again", final, why)
    final.unlink()
    return False


def _download(
    downloader: pooch.HTTPDownloader,
    headers: _Headers,
    file_bar: _FileProgress,
    url: str,
    final: Path,
    entry: dict,
    retries: int,
    retry_wait: float,
) -> tuple[int, str]:
    """Stream ``url`` into a temporary file, verify it, and rename it onto ``final``.

    An entry without a checksum is checked only for completeness (the length the server
    announced, and not empty). Returns the size and SHA-256 of the file kept.
    """
    rel = entry["path"]
    verified = is_verified(entry)
    size = int(entry["size"]) if verified else None
    expected = entry["sha256"] if verified else None
    _remove_stale_parts(final)
    attempts = retries + 1
    last = ""
    wrong: _WrongSize | None = None
    for attempt in range(1, attempts + 1):
        headers.headers = None
        try:
            with atomic_path(final) as tmp:
                downloader(url, str(tmp), None)
                got_size = tmp.stat().st_size
                got = sha256_file(tmp)
                if verified:
                    if got_size != size:
                        raise _WrongSize(got_size, got)
                    if got != expected:
                        raise FetchError(
                            f"{rel}: SHA-256 mismatch: expected {expected}, got {got} "
                            f"(from {url}); the file was not kept"
                        )
                else:
                    announced = headers.expected_length()
                    if announced is not None and got_size != announced:
                        raise _Incomplete(f"received {got_size} of the {announced} bytes announced")
                    if got_size == 0:
                        raise _Incomplete("received an empty body")
            if not verified:
                file_bar.grow(got_size)
            file_bar.settle(got_size)
            return got_size, got
        except _Incomplete as exc:
            last, wrong = str(exc), None
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else None
            if status is not None and status < 500 and status not in (408, 429):
                file_bar.reset()
                raise FetchError(f"{rel}: the server refused it (HTTP {status}) at {url}") from exc
            last, wrong = f"HTTP {status}", None
        except _WrongSize as exc:
            last, wrong = f"{exc} instead of {size}", exc
        except _TRANSIENT as exc:
            last, wrong = f"{type(exc).__name__}: {exc}", None
        file_bar.reset()
        if attempt < attempts:
            log.warning("%s: attempt %d of %d failed (%s); retrying", rel, attempt, attempts, last)
            time.sleep(retry_wait * attempt)
    if wrong is not None:
        raise FetchError(
            f"{rel}: SHA-256 mismatch after {attempts} attempt(s): expected {expected} "
            f"({size} bytes), got {wrong.sha256} ({wrong.size} bytes) from {url}; "
            "the file was not kept"
        )
    raise FetchError(
        f"{rel}: download failed after {attempts} attempt(s) from {url}; last error: {last}. "
        "Nothing was kept at the final path; run the fetch again to resume."
    )


def _remove_stale_parts(final: Path) -> None:
    """Remove temporary files of ``final`` left by an earlier, killed fetch."""
    if final.parent.is_dir():
        for stale in final.parent.glob(f".{final.name}.*.part"):
            log.debug("removing stale partial download %s", stale)
            stale.unlink(missing_ok=True)
