"""``dtb data fetch`` against a local HTTP server serving a small OpenNeuro-like tree.

All traffic stays on 127.0.0.1; the server runs in a thread for one test and is stopped after it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

import h5py
import numpy as np
import pytest

from dtb.data.fetch import FetchError, FetchResult, fetch
from dtb.data.manifest import (
    SCHEMA_VERSION,
    load_manifest,
    manifest_totals,
    select_entries,
    validate_manifest,
)
from dtb.layout import FACES, H5_KEY, REST, STROOP, events_relpath, timeseries_relpath
from dtb.provenance import sha256_file

SUBS = ("sub-NDARINVAA111AAA", "sub-NDARINVBB222BBB")
PREFIX = "/ds005237/"
H5_REL = timeseries_relpath(SUBS[0], REST)
#: An events file the test manifests list without a checksum (as the real one does for some).
UNV_REL = events_relpath(SUBS[1], FACES)
FAST = {"progress": False, "retry_wait": 0.0, "timeout": 5.0}


@dataclass
class Remote:
    """What the test server serves, and what it saw."""

    root: Path
    base_url: str = ""
    hits: Counter = field(default_factory=Counter)
    #: path -> "always" (every request is cut halfway) or "once" (only the first one is)
    drop: dict[str, str] = field(default_factory=dict)
    #: path -> bytes served instead of the file (a corrupted copy on the server)
    override: dict[str, bytes] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def requests(self, rel: str | None = None) -> int:
        with self.lock:
            return self.hits[rel] if rel is not None else sum(self.hits.values())


def _handler(remote: Remote) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            path = unquote(urlparse(self.path).path)
            rel = path[len(PREFIX) :] if path.startswith(PREFIX) else ""
            with remote.lock:
                remote.hits[rel] += 1
                n = remote.hits[rel]
            src = remote.root / rel
            if not rel or ".." in rel or not src.is_file():
                self.send_error(404)
                return
            data = remote.override.get(rel, src.read_bytes())
            mode = remote.drop.get(rel)
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if mode == "always" or (mode == "once" and n == 1):
                # promise the whole body, send half, hang up
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    return Handler


def _make_tree(root: Path) -> None:
    rng = np.random.default_rng(0)
    root.mkdir(parents=True)
    lines = ["participant_id\tspecies\tage\tsex\tSite\tGroup"]
    lines += [f"{s}\thomo sapiens\t30.0\tF\t1\tControl" for s in SUBS]
    (root / "participants.tsv").write_text("\n".join(lines) + "\n")
    for sub in SUBS:
        for run in (FACES, STROOP):
            f = root / events_relpath(sub, run)
            f.parent.mkdir(parents=True, exist_ok=True)
            rows = ["onset\tduration\ttrial_type\tresponse_time\taccuracy_binarized"]
            rows += [f"{2.0 * i:.1f}\t1.0\tface\t{rng.uniform(0.4, 1.2):.3f}\t1" for i in range(6)]
            f.write_text("\n".join(rows) + "\n")
    h5 = root / H5_REL
    h5.parent.mkdir(parents=True)
    with h5py.File(h5, "w") as f:
        f.create_dataset(H5_KEY, data=rng.standard_normal((434, 30)))  # ~100 kB: several chunks


def _manifest_for(root: Path, base_url: str, unknown: tuple[str, ...] = ()) -> dict:
    """A manifest of the tree under ``root``, in the format of data-manifest/ds005237.json.

    The events files named in ``unknown`` are listed without size and hash (checksum unknown).
    """
    files = []
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = f.relative_to(root).as_posix()
        if rel == "participants.tsv":
            kind, sub, run = "participants", None, None
        elif rel.endswith("_events.tsv"):
            kind, sub = "events", rel.split("/")[0]
            run = "hammerAP_run-01" if "hammerAP" in rel else "stroopAP_run-01"
        else:
            kind, sub, run = "timeseries", SUBS[0], "restAP_run-01"
        known = rel not in unknown
        files.append(
            {
                "path": rel,
                "size": f.stat().st_size if known else None,
                "sha256": sha256_file(f) if known else None,
                "checksum": "sha256" if known else "unknown",
                "kind": kind,
                "participant": sub,
                "run": run,
                "url": base_url + rel,
            }
        )
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "dataset": {
            "id": "ds005237",
            "name": "test tree",
            "doi": "10.18112/openneuro.ds005237",
            "version": "1.1.3",
            "licence": "CC0",
            "landing_page": "https://openneuro.org/datasets/ds005237",
        },
        "citations": [
            {"key": k, "role": r, "text": "t", "doi": d}
            for k, r, d in (
                ("a", "dataset", "10.18112/openneuro.ds005237"),
                ("b", "data descriptor", "10.1101/2024.06.18.24309054"),
                ("c", "paper", "10.34133/bmef.0231"),
            )
        ],
        "base_url": base_url,
        "source": {"index": "test", "index_sha256": "0" * 64, "text_files": "test"},
        "totals": manifest_totals(files),
        "files": files,
    }
    validate_manifest(manifest, name="test manifest")
    return manifest


@pytest.fixture
def remote(tmp_path, monkeypatch) -> Iterator[Remote]:
    """A threaded HTTP server on 127.0.0.1 (ephemeral port) serving a small tree."""
    for var in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    r = Remote(tmp_path / "remote")
    _make_tree(r.root)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(r))
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    r.base_url = f"http://127.0.0.1:{server.server_address[1]}{PREFIX}"
    try:
        yield r
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def entries(remote) -> list[dict]:
    """Entries whose urls point at a host that does not exist: tests pass base_url explicitly."""
    return _manifest_for(remote.root, "https://openneuro.invalid/ds005237/")["files"]


@pytest.fixture
def mixed(remote) -> list[dict]:
    """Entries as ``entries``, but with ``UNV_REL`` listed without size and hash."""
    return _manifest_for(remote.root, "https://openneuro.invalid/ds005237/", (UNV_REL,))["files"]


def _leftovers(dest: Path) -> list[Path]:
    return sorted(p for p in dest.rglob("*.part"))


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_fetch_downloads_and_verifies(remote, entries, tmp_path):
    dest = tmp_path / "tcp"
    paths = fetch(dest, entries, base_url=remote.base_url, **FAST)
    assert paths == [dest / e["path"] for e in entries]
    for e, p in zip(entries, paths, strict=True):
        assert p.read_bytes() == (remote.root / e["path"]).read_bytes()
        assert sha256_file(p) == e["sha256"]
    with h5py.File(dest / H5_REL, "r") as f:
        assert f[H5_KEY].shape == (434, 30)
    assert remote.requests() == len(entries)
    assert _leftovers(dest) == []


def test_fetch_uses_manifest_urls_end_to_end(remote, tmp_path):
    """A manifest file whose base_url is the server: load, select, fetch without overrides."""
    mpath = tmp_path / "manifest.json"
    mpath.write_text(json.dumps(_manifest_for(remote.root, remote.base_url)))
    chosen = select_entries(load_manifest(mpath), participants=["NDAR_INVBB222BBB"])
    assert {e["path"] for e in chosen} == {"participants.tsv"} | {
        events_relpath(SUBS[1], r) for r in (FACES, STROOP)
    }
    dest = tmp_path / "tcp"
    fetch(dest, chosen, **FAST)
    assert (dest / events_relpath(SUBS[1], STROOP)).is_file()
    assert not (dest / H5_REL).exists()
    assert remote.requests() == 3


def test_second_fetch_skips_present_files(remote, entries, tmp_path, caplog):
    dest = tmp_path / "tcp"
    fetch(dest, entries, base_url=remote.base_url, **FAST)
    first = remote.requests()
    with caplog.at_level(logging.INFO, logger="dtb.data.fetch"):
        paths = fetch(dest, entries, base_url=remote.base_url, **FAST)
    assert remote.requests() == first  # nothing requested again
    assert paths == [dest / e["path"] for e in entries]
    assert sum("skipped" in r.getMessage() for r in caplog.records) == len(entries)


def test_present_file_with_wrong_hash_is_downloaded_again(remote, entries, tmp_path, caplog):
    dest = tmp_path / "tcp"
    fetch(dest, entries, base_url=remote.base_url, **FAST)
    target = dest / H5_REL
    data = bytearray(target.read_bytes())
    data[100] ^= 0xFF  # same size, different content
    target.write_bytes(bytes(data))
    before = remote.requests(H5_REL)
    with caplog.at_level(logging.WARNING, logger="dtb.data.fetch"):
        fetch(dest, entries, base_url=remote.base_url, **FAST)
    assert remote.requests(H5_REL) == before + 1
    assert remote.requests() == len(entries) + 1
    assert target.read_bytes() == (remote.root / H5_REL).read_bytes()
    assert any("present but wrong" in r.getMessage() for r in caplog.records)


def test_hash_mismatch_names_file_and_hashes_and_keeps_nothing(remote, entries, tmp_path):
    good = (remote.root / H5_REL).read_bytes()
    bad = bytearray(good)
    bad[len(bad) // 3] ^= 0x01
    remote.override[H5_REL] = bytes(bad)
    expected = sha256_file(remote.root / H5_REL)
    got = hashlib.sha256(bytes(bad)).hexdigest()
    dest = tmp_path / "tcp"
    with pytest.raises(FetchError) as info:
        fetch(dest, entries, base_url=remote.base_url, retries=3, **FAST)
    msg = str(info.value)
    assert H5_REL in msg and expected in msg and got in msg
    assert isinstance(info.value, ValueError)
    assert not (dest / H5_REL).exists()
    assert _leftovers(dest) == []
    assert remote.requests(H5_REL) == 1  # a complete file with a wrong hash is not retried


def test_wrong_local_file_is_not_trusted_when_the_server_copy_is_bad(remote, entries, tmp_path):
    dest = tmp_path / "tcp"
    (dest / H5_REL).parent.mkdir(parents=True)
    (dest / H5_REL).write_bytes(b"not the file")
    remote.override[H5_REL] = b"also not the file"
    with pytest.raises(FetchError, match="SHA-256 mismatch") as info:
        fetch(dest, entries, base_url=remote.base_url, retries=1, **FAST)
    assert hashlib.sha256(b"also not the file").hexdigest() in str(info.value)
    assert sha256_file(remote.root / H5_REL) in str(info.value)
    assert not (dest / H5_REL).exists()
    assert _leftovers(dest) == []


def test_connection_dropped_every_time_is_retried_then_reported(remote, entries, tmp_path):
    remote.drop[H5_REL] = "always"
    dest = tmp_path / "tcp"
    with pytest.raises(FetchError) as info:
        fetch(dest, entries, base_url=remote.base_url, retries=2, **FAST)
    msg = str(info.value)
    assert H5_REL in msg and "download failed after 3 attempt" in msg
    assert remote.requests(H5_REL) == 3  # first try + 2 retries
    assert not (dest / H5_REL).exists()
    assert _leftovers(dest) == []


def test_connection_dropped_once_succeeds_after_retry(remote, entries, tmp_path, caplog):
    remote.drop[H5_REL] = "once"
    dest = tmp_path / "tcp"
    with caplog.at_level(logging.WARNING, logger="dtb.data.fetch"):
        fetch(dest, entries, base_url=remote.base_url, retries=2, **FAST)
    assert remote.requests(H5_REL) == 2
    assert (dest / H5_REL).read_bytes() == (remote.root / H5_REL).read_bytes()
    assert any("retrying" in r.getMessage() for r in caplog.records)
    assert _leftovers(dest) == []


def test_no_retries_means_one_attempt(remote, entries, tmp_path):
    remote.drop[H5_REL] = "once"
    with pytest.raises(FetchError, match="1 attempt"):
        fetch(tmp_path / "tcp", entries, base_url=remote.base_url, retries=0, **FAST)
    assert remote.requests(H5_REL) == 1


def test_missing_file_on_server_is_reported_without_retries(remote, entries, tmp_path):
    (remote.root / H5_REL).unlink()
    with pytest.raises(FetchError, match=r"HTTP 404"):
        fetch(tmp_path / "tcp", entries, base_url=remote.base_url, retries=3, **FAST)
    assert remote.requests(H5_REL) == 1


def test_stale_partial_files_are_cleaned(remote, entries, tmp_path):
    dest = tmp_path / "tcp"
    stale = (dest / H5_REL).parent / f".{Path(H5_REL).name}.abc123.part"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half a file")
    fetch(dest, entries, base_url=remote.base_url, **FAST)
    assert _leftovers(dest) == []


@pytest.mark.parametrize("bad", ["../outside.tsv", "/etc/passwd", "a/../../b.tsv"])
def test_paths_leaving_dest_are_refused(entries, tmp_path, bad):
    e = dict(entries[0], path=bad)
    with pytest.raises(ValueError, match="not a path inside the dataset"):
        fetch(tmp_path / "tcp", [e], base_url="http://127.0.0.1:9/", **FAST)
    assert not (tmp_path / "outside.tsv").exists()


def test_bad_arguments(entries, tmp_path):
    with pytest.raises(ValueError, match="retries"):
        fetch(tmp_path / "tcp", entries, retries=-1, progress=False)
    with pytest.raises(ValueError, match="listed twice"):
        fetch(tmp_path / "tcp", entries[:1] * 2, base_url="http://127.0.0.1:9/", progress=False)
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ValueError, match="not a folder"):
        fetch(f, entries, progress=False)


def test_cli_fetch(remote, tmp_path, capsys):
    """``dtb data fetch`` with a manifest file and a base URL override."""
    from dtb.cli import main

    mpath = tmp_path / "manifest.json"
    mpath.write_text(json.dumps(_manifest_for(remote.root, "https://openneuro.invalid/ds005237/")))
    dest = tmp_path / "tcp"
    argv = [
        "data",
        "fetch",
        str(dest),
        "--manifest",
        str(mpath),
        "--base-url",
        remote.base_url,
        "--n",
        "1",
        "--quiet",
    ]
    assert main(argv) == 0
    assert (dest / H5_REL).is_file() and (dest / events_relpath(SUBS[0], FACES)).is_file()
    assert not (dest / events_relpath(SUBS[1], FACES)).exists()
    assert "present and verified" in capsys.readouterr().out


# --- entries without a checksum ------------------------------------------------------------


def test_unverified_entry_is_downloaded_and_named_in_a_warning(remote, mixed, tmp_path, caplog):
    dest = tmp_path / "tcp"
    with caplog.at_level(logging.INFO, logger="dtb.data.fetch"):
        paths = fetch(dest, mixed, base_url=remote.base_url, **FAST)
    assert isinstance(paths, FetchResult)
    assert paths == [dest / e["path"] for e in mixed]
    assert paths.unverified == [dest / UNV_REL]
    assert dest / UNV_REL not in paths.verified and len(paths.verified) == len(mixed) - 1
    assert (dest / UNV_REL).read_bytes() == (remote.root / UNV_REL).read_bytes()
    warnings = _warnings(caplog)
    named = [w for w in warnings if UNV_REL in w and "UNVERIFIED" in w]
    assert len(named) == 1 and sha256_file(remote.root / UNV_REL) in named[0]
    assert warnings[-1].startswith(f"1 of {len(mixed)} file(s) could not be verified")
    assert not [w for w in warnings if any(e["path"] in w for e in mixed if e["path"] != UNV_REL)]
    assert _leftovers(dest) == []


def test_unverified_entry_with_connection_dropped_leaves_nothing(remote, mixed, tmp_path, caplog):
    remote.drop[UNV_REL] = "always"
    dest = tmp_path / "tcp"
    with (
        caplog.at_level(logging.WARNING, logger="dtb.data.fetch"),
        pytest.raises(FetchError) as info,
    ):
        fetch(dest, mixed, base_url=remote.base_url, retries=2, **FAST)
    assert UNV_REL in str(info.value) and "download failed after 3 attempt" in str(info.value)
    assert remote.requests(UNV_REL) == 3  # retried like any other file
    assert not (dest / UNV_REL).exists()  # half a body is never kept, even without a hash
    assert _leftovers(dest) == []
    assert sum("retrying" in w for w in _warnings(caplog)) == 2


def test_unverified_entry_with_connection_dropped_once_is_retried(remote, mixed, tmp_path):
    remote.drop[UNV_REL] = "once"
    dest = tmp_path / "tcp"
    paths = fetch(dest, mixed, base_url=remote.base_url, retries=1, **FAST)
    assert remote.requests(UNV_REL) == 2
    assert (dest / UNV_REL).read_bytes() == (remote.root / UNV_REL).read_bytes()
    assert paths.unverified == [dest / UNV_REL]
    assert _leftovers(dest) == []


def test_unverified_entry_with_empty_body_is_not_kept(remote, mixed, tmp_path):
    remote.override[UNV_REL] = b""
    dest = tmp_path / "tcp"
    with pytest.raises(FetchError, match="empty"):
        fetch(dest, mixed, base_url=remote.base_url, retries=1, **FAST)
    assert not (dest / UNV_REL).exists()
    assert _leftovers(dest) == []


def test_present_unverified_file_is_skipped_only_if_not_empty(remote, mixed, tmp_path, caplog):
    dest = tmp_path / "tcp"
    fetch(dest, mixed, base_url=remote.base_url, **FAST)
    first = remote.requests()
    (dest / UNV_REL).write_text("edited locally\n")  # cannot be told from the right file
    with caplog.at_level(logging.WARNING, logger="dtb.data.fetch"):
        paths = fetch(dest, mixed, base_url=remote.base_url, **FAST)
    assert remote.requests() == first
    assert (dest / UNV_REL).read_text() == "edited locally\n"
    assert paths.unverified == [dest / UNV_REL]
    assert any(UNV_REL in w and "present" in w and "UNVERIFIED" in w for w in _warnings(caplog))
    (dest / UNV_REL).write_bytes(b"")  # an empty one is fetched again
    fetch(dest, mixed, base_url=remote.base_url, **FAST)
    assert remote.requests(UNV_REL) == 2
    assert (dest / UNV_REL).read_bytes() == (remote.root / UNV_REL).read_bytes()


def test_verified_only_leaves_out_unknown_checksums(remote, mixed, tmp_path, caplog):
    dest = tmp_path / "tcp"
    with caplog.at_level(logging.WARNING, logger="dtb.data.fetch"):
        paths = fetch(dest, mixed, base_url=remote.base_url, verified_only=True, **FAST)
    assert paths == [dest / e["path"] for e in mixed if e["path"] != UNV_REL]
    assert paths.unverified == []
    assert not (dest / UNV_REL).exists() and remote.requests(UNV_REL) == 0
    assert _warnings(caplog) == []


def test_select_verified_only_with_a_manifest_file(remote, tmp_path):
    mpath = tmp_path / "manifest.json"
    mpath.write_text(json.dumps(_manifest_for(remote.root, remote.base_url, (UNV_REL,))))
    manifest = load_manifest(mpath)
    assert manifest["totals"]["unverified"] == 1
    chosen = select_entries(manifest, participants=[SUBS[1]])
    assert UNV_REL in {e["path"] for e in chosen}
    verified = select_entries(manifest, participants=[SUBS[1]], verified_only=True)
    assert {e["path"] for e in verified} == {"participants.tsv", events_relpath(SUBS[1], STROOP)}
    paths = fetch(tmp_path / "tcp", chosen, **FAST)
    assert paths.unverified == [tmp_path / "tcp" / UNV_REL]


def test_entry_claiming_a_checksum_without_one_is_refused(entries, tmp_path):
    e = dict(entries[0], sha256=None)
    with pytest.raises(ValueError, match="no size or SHA-256"):
        fetch(tmp_path / "tcp", [e], base_url="http://127.0.0.1:9/", **FAST)


def test_unverified_body_shorter_than_content_length_is_not_kept(
    remote, mixed, tmp_path, monkeypatch
):
    """A body cut short without the transport noticing is caught by the announced length."""
    import pooch

    real = pooch.HTTPDownloader.__call__

    def short(self, url, output_file, pooch_, check_only=False):
        real(self, url, output_file, pooch_, check_only)
        if url.endswith(UNV_REL):
            Path(output_file).write_bytes(Path(output_file).read_bytes()[:10])

    monkeypatch.setattr(pooch.HTTPDownloader, "__call__", short)
    dest = tmp_path / "tcp"
    with pytest.raises(FetchError, match=r"received 10 of the \d+ bytes announced") as info:
        fetch(dest, mixed, base_url=remote.base_url, retries=1, **FAST)
    assert UNV_REL in str(info.value)
    assert remote.requests(UNV_REL) == 2
    assert not (dest / UNV_REL).exists()
    assert _leftovers(dest) == []


def test_announced_length_ignores_encoded_bodies():
    from dtb.data.fetch import _Headers

    h = _Headers()
    assert h.expected_length() is None
    h.headers = {"Content-Length": "42"}
    assert h.expected_length() == 42
    h.headers = {"content-length": "42", "Content-Encoding": "gzip"}
    assert h.expected_length() is None  # the length of the compressed body, not of the file
    h.headers = {"Transfer-Encoding": "chunked"}
    assert h.expected_length() is None
