"""The real downloader against a real loopback HTTP server."""

from __future__ import annotations

import hashlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate

import pytest

from cosmoalign.sources.http import (
    USER_AGENT,
    ChecksumError,
    Downloader,
    DownloadError,
    FetchRequest,
)
from tests.fixtures.loopback import LoopbackServer

BODY = bytes(range(256)) * 4096  # 1 MiB
SHA = hashlib.sha256(BODY).hexdigest()


@pytest.fixture
def downloader(tmp_path) -> Downloader:
    return Downloader(tmp_path / "cache", backoff=0.001, retries=3, timeout=5, progress=False)


def test_download_verifies_and_sends_user_agent(loopback, downloader, tmp_path):
    url = loopback.add("/data.bin", BODY)
    dest = downloader.download([url], tmp_path / "out" / "data.bin", sha256=SHA.upper())
    assert dest.read_bytes() == BODY
    assert loopback.requests[0].headers["User-Agent"] == USER_AGENT
    assert not dest.with_name("data.bin.part").exists()
    downloader.download([url], dest, sha256=SHA)  # present and verified: no second request
    assert loopback.hits["/data.bin"] == 1


def test_server_errors_are_retried(loopback, downloader, tmp_path):
    url = loopback.add("/flaky.bin", BODY)
    loopback.fail("/flaky.bin", 500, 500)
    assert downloader.download(url, tmp_path / "flaky.bin", SHA).read_bytes() == BODY
    assert loopback.hits["/flaky.bin"] == 3


def test_resumes_a_partial_file_with_a_range_request(loopback, downloader, tmp_path):
    url = loopback.add("/big.bin", BODY)
    dest = tmp_path / "big.bin"
    dest.with_name("big.bin.part").write_bytes(BODY[:1000])
    assert downloader.download(url, dest, SHA).read_bytes() == BODY
    assert loopback.requests[0].headers["Range"] == "bytes=1000-"
    assert loopback.hits["/big.bin"] == 1


def test_a_dropped_connection_resumes_where_it_stopped(loopback, downloader, tmp_path):
    url = loopback.add("/big.bin", BODY)
    loopback.fail("/big.bin", "drop")
    assert downloader.download(url, tmp_path / "big.bin", SHA).read_bytes() == BODY
    first, second = loopback.requests
    assert "Range" not in first.headers
    assert second.headers["Range"].startswith("bytes=") and second.headers["Range"] != "bytes=0-"


def test_restarts_when_the_server_ignores_ranges(tmp_path, downloader):
    with LoopbackServer({"/f.bin": BODY}, ranges=False) as server:
        dest = tmp_path / "f.bin"
        dest.with_name("f.bin.part").write_bytes(b"stale bytes")
        assert downloader.download(server.url("/f.bin"), dest, SHA).read_bytes() == BODY


def test_restarts_when_the_partial_file_is_too_long(loopback, downloader, tmp_path):
    url = loopback.add("/f.bin", BODY)
    dest = tmp_path / "f.bin"
    dest.with_name("f.bin.part").write_bytes(BODY + b"junk")
    assert downloader.download(url, dest, SHA).read_bytes() == BODY
    assert loopback.hits["/f.bin"] == 2  # 416, then the whole file


def test_checksum_mismatch_raises_and_leaves_no_file(loopback, downloader, tmp_path):
    url = loopback.add("/f.bin", BODY)
    dest = tmp_path / "f.bin"
    with pytest.raises(ChecksumError) as caught:
        downloader.download(url, dest, sha256="0" * 64)
    message = str(caught.value)
    assert str(dest) in message and "0" * 64 in message and SHA in message
    assert not any(tmp_path.glob("f.bin*"))


def test_falls_back_to_a_mirror(loopback, downloader, tmp_path):
    primary = loopback.add("/primary.bin", BODY)
    mirror = loopback.add("/mirror.bin", BODY)
    loopback.fail("/primary.bin", *[503] * 10)
    assert downloader.download([primary, mirror], tmp_path / "f.bin", SHA).read_bytes() == BODY
    assert loopback.hits["/primary.bin"] == downloader.retries + 1
    assert loopback.hits["/mirror.bin"] == 1


def test_client_errors_are_not_retried_and_name_url_and_status(loopback, downloader, tmp_path):
    url = loopback.url("/missing.bin")
    with pytest.raises(DownloadError) as caught:
        downloader.download(url, tmp_path / "missing.bin")
    assert caught.value.status == 404 and url in str(caught.value) and "404" in str(caught.value)
    assert loopback.hits["/missing.bin"] == 1
    assert not any(tmp_path.glob("missing.bin*"))


def test_gives_up_after_the_retries(loopback, downloader, tmp_path):
    url = loopback.add("/down.bin", BODY)
    loopback.fail("/down.bin", *[502] * 10)
    with pytest.raises(DownloadError, match="502"):
        downloader.download(url, tmp_path / "down.bin")
    assert loopback.hits["/down.bin"] == downloader.retries + 1


def test_retry_after_is_honoured_when_small(loopback, tmp_path):
    downloader = Downloader(backoff=30.0, retries=1, progress=False)  # backoff alone would stall
    url = loopback.add("/api", b"ok")
    loopback.fail("/api", 429, retry_after=0.01)
    assert downloader.fetch(url) == b"ok"


def test_fetch_caches_by_url_and_sorted_params(loopback, downloader):
    url = loopback.add("/api", lambda query: f"{query['a']}-{query['b']}".encode())
    assert downloader.fetch(url, {"a": 1, "b": 2}) == b"1-2"
    assert downloader.fetch(url, {"b": 2, "a": 1}) == b"1-2"
    assert loopback.hits["/api"] == 1
    assert downloader.fetch(url, {"a": 1, "b": 3}) == b"1-3"
    assert loopback.hits["/api"] == 2
    request = FetchRequest.of(url, {"a": 1, "b": 2}, ".txt")
    assert request.cache_path(downloader.cache_dir).name == request.key + ".txt"


def test_fetch_retries_and_does_not_cache_failures(loopback, downloader):
    url = loopback.add("/api", b"payload")
    loopback.fail("/api", 500, 500)
    assert downloader.fetch(url) == b"payload"
    loopback.fail("/api", *[500] * 10)
    assert downloader.fetch(url) == b"payload"  # cached: the failing server is not asked
    assert loopback.hits["/api"] == 3


def test_fetch_many_keeps_order_bounds_concurrency_and_reports_errors(tmp_path):
    def answer(query: dict[str, str]) -> bytes | int:
        return 404 if query["i"] == "3" else query["i"].encode()

    downloader = Downloader(tmp_path, backoff=0.001, retries=1, max_workers=3, progress=False)
    with LoopbackServer({"/item": answer}, delay=0.02) as server:
        requests = [FetchRequest.of(server.url("/item"), {"i": i}) for i in range(12)]
        results = list(downloader.fetch_many(requests))
    assert [request for request, _ in results] == requests
    assert [r for _, r in results if not isinstance(r, Exception)] == [
        str(i).encode() for i in range(12) if i != 3
    ]
    error = results[3][1]
    assert isinstance(error, DownloadError) and error.status == 404
    assert 1 < server.max_in_flight <= 3


def test_min_interval_spaces_requests_across_threads(loopback, tmp_path):
    downloader = Downloader(tmp_path, min_interval=0.05, max_workers=4, progress=False)
    url = loopback.add("/item", lambda query: b"x")
    list(downloader.fetch_many(FetchRequest.of(url, {"i": i}) for i in range(5)))
    times = sorted(request.time for request in loopback.requests)
    # Arrival times jitter by a connection set-up on a busy machine; the span cannot: unthrottled,
    # four workers' requests arrive within milliseconds, throttled the fifth starts 0.2 s in.
    assert times[-1] - times[0] >= 0.15


def test_auth_is_sent_but_never_logged(caplog, tmp_path):
    downloader = Downloader(backoff=0.001, retries=0, progress=False)
    with LoopbackServer({"/secret": b"s"}, auth=("user", "s3cr3t-key")) as server:
        url = server.url("/secret")
        assert downloader.download(url, tmp_path / "ok", auth=("user", "s3cr3t-key")).exists()
        with caplog.at_level(logging.DEBUG), pytest.raises(DownloadError) as caught:
            downloader.download(url, tmp_path / "denied", auth=("user", "wrong-key"))
    assert caught.value.status == 401
    assert "wrong-key" not in str(caught.value) and "wrong-key" not in caplog.text


def test_a_short_body_with_content_length_is_never_accepted(loopback, tmp_path):
    url = loopback.add("/short.bin", BODY)
    loopback.fail("/short.bin", "drop", "drop")
    downloader = Downloader(backoff=0.001, retries=1, progress=False)
    with pytest.raises(DownloadError, match="gave up after 2 attempts"):
        downloader.download(url, tmp_path / "short.bin")
    assert not (tmp_path / "short.bin").exists()


def test_a_body_cut_short_without_length_fails_its_pinned_size_and_resumes(tmp_path):
    downloader = Downloader(backoff=0.001, retries=2, progress=False)
    with LoopbackServer({"/cut.bin": BODY}, lengths=False) as server:
        server.fail("/cut.bin", "drop")
        dest = downloader.download(server.url("/cut.bin"), tmp_path / "cut.bin", size=len(BODY))
        assert dest.read_bytes() == BODY
        first, second = server.requests
        assert "Range" not in first.headers
        assert second.headers["Range"] == f"bytes={len(BODY) // 2}-"
        assert second.headers["If-Range"].startswith('"')  # the ETag of the first answer


def test_a_body_cut_short_without_length_fails_its_pinned_checksum(tmp_path):
    downloader = Downloader(backoff=0.001, retries=0, progress=False)
    with LoopbackServer({"/cut.bin": BODY}, lengths=False) as server:
        server.fail("/cut.bin", "drop")
        with pytest.raises(ChecksumError):
            downloader.download(server.url("/cut.bin"), tmp_path / "cut.bin", sha256=SHA)
    assert not list(tmp_path.iterdir())


def test_a_size_the_server_contradicts_fails_without_retrying(loopback, downloader, tmp_path):
    url = loopback.add("/sized.bin", BODY)
    with pytest.raises(DownloadError, match=f"sends {len(BODY)} bytes, pinned 10"):
        downloader.download(url, tmp_path / "sized.bin", size=10)
    assert loopback.hits["/sized.bin"] == 1


@pytest.mark.parametrize("etags", [True, False], ids=["etag", "last-modified"])
def test_a_stale_partial_file_restarts_when_upstream_changed(tmp_path, etags):
    """If-Range carries the validator of the answer that started the .part: the server answers
    200 with the whole new version instead of splicing its tail onto the old head."""
    old, new = BODY, bytes(reversed(BODY))
    downloader = Downloader(backoff=0.001, retries=0, progress=False)
    dest = tmp_path / "f.bin"
    with LoopbackServer(etags=etags) as server:
        url = server.add("/f.bin", old, modified=1_000_000_000)
        server.fail("/f.bin", "drop")
        with pytest.raises(DownloadError):
            downloader.download(url, dest)
        assert dest.with_name("f.bin.part").stat().st_size == len(old) // 2
        server.add("/f.bin", new, modified=1_000_000_100)
        assert downloader.download(url, dest).read_bytes() == new
        _, second = server.requests
        assert second.headers["Range"] == f"bytes={len(old) // 2}-"
        old_etag = f'"{hashlib.sha256(old).hexdigest()[:16]}"'
        old_modified = formatdate(1_000_000_000, usegmt=True)
        assert second.headers["If-Range"] == (old_etag if etags else old_modified)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.bin"]


def test_an_unchanged_partial_file_resumes_under_if_range(loopback, tmp_path):
    downloader = Downloader(backoff=0.001, retries=0, progress=False)
    url = loopback.add("/same.bin", BODY)
    loopback.fail("/same.bin", "drop")
    with pytest.raises(DownloadError):
        downloader.download(url, tmp_path / "same.bin")
    assert downloader.download(url, tmp_path / "same.bin").read_bytes() == BODY
    resumed = loopback.requests[-1].headers
    assert (resumed["Range"], resumed["If-Range"]) == (
        f"bytes={len(BODY) // 2}-",
        loopback._validators("/same.bin", BODY)["ETag"],
    )


def test_a_trickling_server_fails_at_the_deadline(loopback, tmp_path):
    url = loopback.add("/slow.bin", b"x" * 2000)
    loopback.trickle("/slow.bin", 0.02)  # 40 s for the whole body
    downloader = Downloader(
        backoff=0.001, retries=3, timeout=5, deadline=0.5, fetch_deadline=0.5, progress=False
    )
    started = time.monotonic()
    with pytest.raises(DownloadError, match="deadline passed"):
        downloader.download(url, tmp_path / "slow.bin")
    with pytest.raises(DownloadError, match="deadline passed"):
        downloader.fetch(url)
    assert time.monotonic() - started < 5
    assert not (tmp_path / "slow.bin").exists()


def test_md5_pins_are_verified(loopback, downloader, tmp_path):
    url = loopback.add("/pinned.bin", BODY)
    md5 = hashlib.md5(BODY).hexdigest()
    assert downloader.download(url, tmp_path / "ok.bin", md5=md5).read_bytes() == BODY
    with pytest.raises(ChecksumError) as caught:
        downloader.download(url, tmp_path / "bad.bin", md5="0" * 32)
    assert (caught.value.algorithm, caught.value.actual) == ("md5", md5)
    assert not (tmp_path / "bad.bin").exists()


def test_two_downloads_of_one_file_at_once_send_one_request(tmp_path):
    """Shard runs share a cache folder: the second waits for the first and keeps its file."""
    with LoopbackServer(delay=0.3) as server:
        url = server.add("/shared.bin", BODY)
        dest = tmp_path / "cache" / "shared.bin"
        downloaders = [Downloader(tmp_path / "c", progress=False) for _ in range(2)]
        with ThreadPoolExecutor(2) as pool:
            paths = list(pool.map(lambda d: d.download([url], dest, sha256=SHA), downloaders))
        assert paths == [dest, dest] and dest.read_bytes() == BODY
        assert server.hits["/shared.bin"] == 1
