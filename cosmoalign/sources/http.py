"""Polite, resumable, verified HTTP downloads and a cached client for small API responses.

One :class:`Downloader` holds the policy every survey source shares: retries with exponential
backoff on connection errors and 5xx/408/429 answers (honouring a short ``Retry-After``), a
minimum interval between requests across threads, bounded concurrency, mirrors, resumable
``.part`` files (resumed only with ``If-Range`` on the validator that started them, or under a
checksum), length checks, a total deadline per file, sha256/md5/size pins and atomic renames.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlencode

import requests
import urllib3
from requests.adapters import HTTPAdapter
from tqdm.auto import tqdm

from cosmoalign import __version__
from cosmoalign.files import atomic_write, file_digests

logger = logging.getLogger(__name__)

T = TypeVar("T")
USER_AGENT = f"cosmoalign/{__version__}"
_STREAM_CHUNK = 1 << 16  # small, so a dropped connection loses little of what it sent
_RETRY_STATUS = frozenset({408, 425, 429})
_NETWORK_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    urllib3.exceptions.HTTPError,  # bodies are read from the raw stream: short reads, timeouts
)


class DownloadError(Exception):
    """A URL could not be fetched; ``status`` is the last HTTP status seen (None if no answer)."""

    def __init__(self, url: str, status: int | None, reason: str) -> None:
        answer = f"last HTTP status {status}" if status else "no HTTP answer"
        super().__init__(f"{url}: {reason} ({answer})")
        self.url = url
        self.status = status


class ChecksumError(Exception):
    """A downloaded file's digest is not the pinned one; the file has been deleted."""

    def __init__(
        self, url: str, path: Path, expected: str, actual: str, algorithm: str = "sha256"
    ) -> None:
        super().__init__(
            f"{path}: {algorithm} is {actual}, expected {expected} (downloaded from {url})"
        )
        self.url = url
        self.path = path
        self.expected = expected
        self.actual = actual
        self.algorithm = algorithm


@dataclass(frozen=True)
class Pins:
    """What a downloaded file must be: its sha256 and/or md5 (lower-case hex) and/or size."""

    sha256: str | None = None
    md5: str | None = None
    size: int | None = None

    @property
    def digests(self) -> dict[str, str]:
        """The pinned digests by hashlib algorithm name."""
        pinned = {"sha256": self.sha256, "md5": self.md5}
        return {name: value.lower() for name, value in pinned.items() if value}

    def mismatch(self, path: Path) -> tuple[str, str, str] | None:
        """``(algorithm, expected, actual)`` of the first digest ``path`` fails, else None."""
        if not self.digests:
            return None
        actual = file_digests(path, tuple(self.digests))
        for name, expected in self.digests.items():
            if actual[name] != expected:
                return name, expected, actual[name]
        return None


class _Transient(Exception):
    """A failure worth retrying: a 5xx/408/429 answer, a dropped or refused connection."""

    def __init__(self, status: int | None, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.retry_after = retry_after


@dataclass(frozen=True)
class FetchRequest:
    """A GET request for a small response, identified by its URL and sorted query parameters."""

    url: str
    params: tuple[tuple[str, str], ...] = ()
    suffix: str = ""

    @classmethod
    def of(
        cls, url: str, params: Mapping[str, object] | None = None, suffix: str = ""
    ) -> FetchRequest:
        """A request with ``params`` stringified and sorted, so equal queries share a key."""
        items = tuple(sorted((str(k), str(v)) for k, v in (params or {}).items()))
        return cls(url, items, suffix)

    @property
    def full_url(self) -> str:
        """The URL with its query string."""
        return f"{self.url}?{urlencode(self.params)}" if self.params else self.url

    @property
    def key(self) -> str:
        """sha256 hex digest of the URL and its sorted query."""
        return hashlib.sha256(f"{self.url}?{urlencode(self.params)}".encode()).hexdigest()

    def cache_path(self, cache_dir: Path) -> Path:
        """Where the response body is cached under ``cache_dir``."""
        return Path(cache_dir) / self.key[:2] / f"{self.key}{self.suffix}"


class _Throttle:
    """Spaces request starts at least ``interval`` seconds apart, across threads."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._lock = threading.Lock()
        self._next = 0.0

    def wait(self) -> None:
        if self._interval <= 0:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self._interval
        if start > now:
            time.sleep(start - now)


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``lock_path``, removed on release (and released if the process
    dies). A waiter that wakes on a lock file already removed takes a fresh one."""
    while True:
        handle = lock_path.open("a")
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            if os.stat(lock_path).st_ino == os.fstat(handle.fileno()).st_ino:
                break
        except FileNotFoundError:
            pass
        handle.close()
    try:
        yield
    finally:
        lock_path.unlink(missing_ok=True)
        handle.close()  # releases the lock


class Downloader:
    """HTTP client with retries, mirrors, resume, checksums, a request cache and a polite rate.

    ``retries`` is the number of retries after the first attempt; the n-th retry waits
    ``backoff * 2**(n-1)`` seconds (at most ``max_backoff``), or the server's ``Retry-After`` when
    that is at most ``max_retry_after``. ``timeout`` bounds the wait for each read; ``deadline``
    bounds one :meth:`download` in all (every attempt and mirror) and ``fetch_deadline`` one
    :meth:`fetch`, so a server that trickles bytes fails with :class:`DownloadError`.
    ``min_interval`` spaces all requests of this downloader (every thread) that many seconds
    apart; ``max_workers`` bounds :meth:`fetch_many`. ``cache_dir`` is the default cache of
    :meth:`fetch`; without one, fetches are not cached.
    """

    def __init__(
        self,
        cache_dir: Path | None = None,
        *,
        retries: int = 4,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        max_retry_after: float = 60.0,
        timeout: float = 60.0,
        deadline: float = 4 * 3600.0,
        fetch_deadline: float = 300.0,
        min_interval: float = 0.0,
        max_workers: int = 8,
        session: requests.Session | None = None,
        progress: bool = True,
    ) -> None:
        if retries < 0 or max_workers < 1:
            raise ValueError("retries must be >= 0 and max_workers >= 1")
        if deadline <= 0 or fetch_deadline <= 0:
            raise ValueError("deadline and fetch_deadline must be positive")
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_retry_after = max_retry_after
        self.timeout = timeout
        self.deadline = deadline
        self.fetch_deadline = fetch_deadline
        self.max_workers = max_workers
        self.progress = progress
        self.session = session or _pooled_session(max_workers)
        self._throttle = _Throttle(min_interval)

    def download(
        self,
        urls: str | Sequence[str],
        dest: Path,
        sha256: str | None = None,
        label: str | None = None,
        auth: tuple[str, str] | None = None,
        *,
        md5: str | None = None,
        size: int | None = None,
    ) -> Path:
        """Download the first URL (then each mirror in turn) that works to ``dest``.

        ``sha256``, ``md5`` and ``size`` pin the file. An existing ``dest`` that matches its
        pins (or any, without pins) is kept and no request is sent. Bytes land in ``dest.part``
        first; an interrupted download resumes from it with ``Range`` and ``If-Range`` (the
        ``ETag`` or ``Last-Modified`` of the answer that started it), so a file changed upstream
        restarts from zero; without a validator it resumes only under a digest pin. A body
        shorter than its ``Content-Length``, its ``Content-Range`` total or the pinned size is
        never accepted. On a digest mismatch the file is deleted and the next mirror tried; the
        last failure is raised (:class:`DownloadError` or :class:`ChecksumError`).
        """
        urls = [urls] if isinstance(urls, str) else list(urls)
        if not urls:
            raise ValueError(f"no URL to download {dest} from")
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        # One downloader per file at a time, across processes (shard runs share a cache folder):
        # the next one waits, then finds the file complete and verified.
        with _exclusive(dest.with_name(dest.name + ".lock")):
            return self._download_locked(urls, dest, Pins(sha256, md5, size), label, auth)

    def _download_locked(
        self,
        urls: list[str],
        dest: Path,
        pins: Pins,
        label: str | None,
        auth: tuple[str, str] | None,
    ) -> Path:
        if dest.exists():
            if pins.mismatch(dest) is None and pins.size in (None, dest.stat().st_size):
                return dest
            logger.warning("%s does not match its pinned checksum or size; downloading again", dest)
            dest.unlink()
        part = dest.with_name(dest.name + ".part")
        deadline = time.monotonic() + self.deadline
        error: DownloadError | ChecksumError | None = None
        for url in urls:
            try:
                self._retrying(
                    url,
                    lambda url=url: self._stream_to(url, part, pins, deadline, label, auth),
                )
                mismatch = pins.mismatch(part)
                if mismatch is not None:
                    _discard(part)
                    raise ChecksumError(url, dest, mismatch[1], mismatch[2], mismatch[0])
                part.replace(dest)
                _validators_path(part).unlink(missing_ok=True)
                return dest
            except (DownloadError, ChecksumError) as exc:
                logger.warning("download failed: %s", exc)
                error = exc
        assert error is not None
        raise error

    def fetch(
        self,
        url: str,
        params: Mapping[str, object] | None = None,
        *,
        cache_dir: Path | None = None,
        suffix: str = "",
    ) -> bytes:
        """GET a small response; cached on disk (under ``cache_dir`` or the downloader's) by URL
        and sorted params, so asking again reads the cache and sends no request."""
        return self._fetch(FetchRequest.of(url, params, suffix), cache_dir)

    def fetch_many(
        self, fetch_requests: Iterable[FetchRequest], cache_dir: Path | None = None
    ) -> Iterator[tuple[FetchRequest, bytes | Exception]]:
        """Fetch requests on ``max_workers`` threads; yield ``(request, body or error)`` in input
        order. Only a bounded window of requests is in flight or buffered at any time."""
        window: deque[tuple[FetchRequest, Future[bytes]]] = deque()
        pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="cosmoalign-fetch")
        try:
            for request in fetch_requests:
                window.append((request, pool.submit(self._fetch, request, cache_dir)))
                if len(window) >= 2 * self.max_workers:
                    yield _outcome(*window.popleft())
            while window:
                yield _outcome(*window.popleft())
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _fetch(self, request: FetchRequest, cache_dir: Path | None) -> bytes:
        root = cache_dir if cache_dir is not None else self.cache_dir
        path = request.cache_path(root) if root is not None else None
        if path is not None and path.is_file():
            return path.read_bytes()
        deadline = time.monotonic() + self.fetch_deadline
        data = self._retrying(request.full_url, lambda: self._get_bytes(request, deadline))
        if path is not None:
            atomic_write(path, data)
        return data

    def _get_bytes(self, request: FetchRequest, deadline: float) -> bytes:
        url = request.full_url
        with self._get(request.url, deadline, url, params=request.params, stream=True) as response:
            _raise_for_status(url, response)
            chunks: list[bytes] = []
            self._read_body(response, chunks.append, deadline, url, decode=True)
            return b"".join(chunks)

    def _stream_to(
        self,
        url: str,
        part: Path,
        pins: Pins,
        deadline: float,
        label: str | None,
        auth: tuple[str, str] | None,
    ) -> None:
        offset, validator = _resume_point(part, url, pins)
        headers = {"Accept-Encoding": "identity"}  # bytes on disk are the bytes on the wire
        if offset:
            headers["Range"] = f"bytes={offset}-"
            if validator:
                headers["If-Range"] = validator
        with self._get(url, deadline, url, headers=headers, stream=True, auth=auth) as response:
            if offset and response.status_code == 416:
                _discard(part)
                raise _Transient(416, "the server cannot resume the partial file; restarting")
            _raise_for_status(url, response)
            resume = offset > 0 and response.status_code == 206
            if resume and _range_start(response) != offset:
                _discard(part)
                raise _Transient(206, "the server resumed at the wrong offset; restarting")
            start = offset if resume else 0
            total = _announced_total(response, start)
            if pins.size is not None and total is not None and total != pins.size:
                raise DownloadError(
                    url, response.status_code, f"the server sends {total} bytes, pinned {pins.size}"
                )
            if not resume:
                started = json.dumps(_validators(url, response)).encode()
                atomic_write(_validators_path(part), started)
            expected = total if total is not None else pins.size
            with (
                part.open("ab" if resume else "wb") as out,
                tqdm(
                    total=expected,
                    initial=start,
                    desc=label or part.name.removesuffix(".part"),
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    leave=False,
                    disable=not self.progress,
                ) as bar,
            ):

                def write(block: bytes) -> None:
                    out.write(block)
                    bar.update(len(block))

                self._read_body(response, write, deadline, url, decode=False)
                out.flush()
                os.fsync(out.fileno())
            got = part.stat().st_size
            if expected is not None and got != expected:
                if got > expected:
                    _discard(part)
                reason = "cut short" if got < expected else "longer than announced; restarting"
                raise _Transient(response.status_code, f"body {reason}: {got} of {expected} bytes")

    def _read_body(
        self,
        response: requests.Response,
        write: Callable[[bytes], object],
        deadline: float,
        url: str,
        decode: bool,
    ) -> None:
        """Copy the body to ``write`` as it arrives, failing once ``deadline`` has passed.

        ``read1`` returns whatever one socket read brings, so the deadline is checked between
        reads of a trickling server too (a plain ``read(n)`` waits for ``n`` bytes).
        """
        while block := response.raw.read1(_STREAM_CHUNK, decode_content=decode):
            write(block)
            self._check_deadline(deadline, url, response.status_code)

    def _check_deadline(self, deadline: float, url: str, status: int | None = None) -> None:
        if time.monotonic() > deadline:
            raise DownloadError(
                url, status, "the deadline passed before the body was complete (a stalled server)"
            )

    def _get(
        self,
        url: str,
        deadline: float,
        shown_url: str,
        *,
        params: Sequence[tuple[str, str]] = (),
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        auth: tuple[str, str] | None = None,
    ) -> requests.Response:
        self._throttle.wait()
        self._check_deadline(deadline, shown_url)
        return self.session.get(
            url,
            params=list(params),
            headers={"User-Agent": USER_AGENT, **(headers or {})},
            stream=stream,
            auth=auth,
            timeout=min(self.timeout, max(deadline - time.monotonic(), 0.001)),
        )

    def _retrying(self, url: str, attempt: Callable[[], T]) -> T:
        """Run ``attempt`` until it succeeds, retrying transient failures with backoff."""
        failure: _Transient | None = None
        for retry in range(self.retries + 1):
            if failure is not None:
                delay = self._delay(retry, failure.retry_after)
                logger.info("%s: %s; retry %d in %.3g s", url, failure.reason, retry, delay)
                time.sleep(delay)
            try:
                return attempt()
            except _Transient as exc:
                failure = exc
            except _NETWORK_ERRORS as exc:
                failure = _Transient(None, f"{type(exc).__name__}: {exc}")
        assert failure is not None
        raise DownloadError(
            url, failure.status, f"gave up after {self.retries + 1} attempts: {failure.reason}"
        )

    def _delay(self, retry: int, retry_after: float | None) -> float:
        if retry_after is not None and retry_after <= self.max_retry_after:
            return retry_after
        return min(self.backoff * 2 ** (retry - 1), self.max_backoff)


def _pooled_session(max_workers: int) -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=max_workers, pool_maxsize=max_workers)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _raise_for_status(url: str, response: requests.Response) -> None:
    status = response.status_code
    if status < 400:
        return
    reason = f"HTTP {status} {response.reason}"
    if status >= 500 or status in _RETRY_STATUS:
        raise _Transient(status, reason, _retry_after(response))
    raise DownloadError(url, status, reason)


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    try:
        return max(0.0, float(value))
    except ValueError:  # absent, or an HTTP date: fall back to exponential backoff
        return None


def _range_start(response: requests.Response) -> int | None:
    """The first byte offset of a ``Content-Range: bytes N-M/T`` answer."""
    value = response.headers.get("Content-Range", "")
    unit, _, spec = value.partition(" ")
    start = spec.partition("-")[0]
    return int(start) if unit == "bytes" and start.isdigit() else None


def _outcome(
    request: FetchRequest, future: Future[bytes]
) -> tuple[FetchRequest, bytes | Exception]:
    try:
        return request, future.result()
    except (DownloadError, OSError) as exc:
        return request, exc


def _validators_path(part: Path) -> Path:
    """Where the validators of the answer that started ``part`` are kept."""
    return part.with_name(part.name + ".json")


def _validators(url: str, response: requests.Response) -> dict[str, str | None]:
    """The URL and what identifies this version of the file: a strong ``ETag`` (weak ones may
    not be used in ``If-Range``) and ``Last-Modified``."""
    etag = response.headers.get("ETag")
    return {
        "url": url,
        "etag": etag if etag and not etag.startswith("W/") else None,
        "last_modified": response.headers.get("Last-Modified"),
    }


def _resume_point(part: Path, url: str, pins: Pins) -> tuple[int, str | None]:
    """Where to resume ``part`` from and the ``If-Range`` validator to send.

    A partial file resumes with the validator of the answer that started it, from the same URL;
    without one it resumes only under a digest pin (which catches a splice), else restarts.
    """
    if not part.exists():
        return 0, None
    try:
        started = json.loads(_validators_path(part).read_text())
    except (OSError, ValueError):
        started = {}
    validator = None
    if isinstance(started, dict) and started.get("url") == url:
        validator = started.get("etag") or started.get("last_modified")
    if validator is None and not pins.digests:
        return 0, None
    return part.stat().st_size, validator


def _announced_total(response: requests.Response, start: int) -> int | None:
    """The whole file's size as the answer states it: the ``Content-Range`` total of a 206, or
    ``start`` plus ``Content-Length``; None when the server does not say (a body that just ends)."""
    if response.status_code == 206:
        total = response.headers.get("Content-Range", "").rpartition("/")[2]
        if total.isdigit():
            return int(total)
    length = response.headers.get("Content-Length", "")
    return start + int(length) if length.isdigit() else None


def _discard(part: Path) -> None:
    """Delete a partial file and its validators, so the next attempt starts from zero."""
    part.unlink(missing_ok=True)
    _validators_path(part).unlink(missing_ok=True)
