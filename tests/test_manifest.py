"""The ds005237 data manifest: schema, agreement with the dataset's files, selection."""

from __future__ import annotations

import copy
import csv
import importlib.util
import json
import re
from pathlib import Path

import jsonschema
import pytest

from dtb.data import manifest as mf
from dtb.data.manifest import (
    KINDS,
    MANIFEST_PATH,
    SCHEMA,
    is_verified,
    load_manifest,
    select_entries,
    summary,
    validate_manifest,
)
from dtb.layout import FACES, RUNS, STROOP, events_relpath, timeseries_relpath

REPO = Path(__file__).resolve().parent.parent
MANIFEST_DIR = REPO / "data-manifest"
TCP = REPO.parent / "shared" / "tcp"
HAVE_TCP = (TCP / "annexed_files.tsv").is_file() and (TCP / "participants.tsv").is_file()
needs_tcp = pytest.mark.skipif(
    not HAVE_TCP, reason=f"TCP small files not found at {TCP} (only in the development setup)"
)


@pytest.fixture(scope="module")
def raw() -> dict:
    """The committed manifest as plain JSON (no loader involved)."""
    return json.loads((MANIFEST_DIR / "ds005237.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def manifest() -> dict:
    return load_manifest()


@pytest.fixture(scope="module")
def index() -> dict[str, tuple[int, str]]:
    if not HAVE_TCP:
        pytest.skip(f"TCP small files not found at {TCP}")
    with open(TCP / "annexed_files.tsv", newline="") as f:
        return {r["path"]: (int(r["size"]), r["sha256"]) for r in csv.DictReader(f, delimiter="\t")}


def _build_script():
    path = MANIFEST_DIR / "build_manifest.py"
    spec = importlib.util.spec_from_file_location("build_manifest", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- the committed files -------------------------------------------------------------------


def test_committed_manifest_satisfies_the_schema_file(raw):
    schema = json.loads((MANIFEST_DIR / "schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(raw, schema, cls=jsonschema.Draft202012Validator)


def test_schema_file_is_the_schema_the_loader_uses():
    assert json.loads((MANIFEST_DIR / "schema.json").read_text(encoding="utf-8")) == SCHEMA


def test_default_manifest_is_the_committed_one(raw, manifest):
    assert MANIFEST_PATH == MANIFEST_DIR / "ds005237.json"
    assert manifest == raw


def test_packaged_copy_matches_and_loads_without_the_source_tree(monkeypatch, raw):
    packaged = REPO / "dtb" / "resources" / "ds005237.json"
    assert packaged.read_bytes() == (MANIFEST_DIR / "ds005237.json").read_bytes()
    monkeypatch.setattr(mf, "MANIFEST_PATH", REPO / "no-such-folder" / "ds005237.json")
    assert mf.load_manifest() == raw


def test_top_level_facts(raw):
    assert raw["dataset"]["id"] == "ds005237"
    assert raw["dataset"]["doi"] == "10.18112/openneuro.ds005237"
    assert raw["dataset"]["licence"] == "CC0"
    assert raw["base_url"] == "https://s3.amazonaws.com/openneuro.org/ds005237/"
    dois = {c["doi"] for c in raw["citations"]}
    assert {
        "10.18112/openneuro.ds005237",
        "10.1101/2024.06.18.24309054",
        "10.34133/bmef.0231",
    } <= dois


def test_every_url_is_base_url_plus_path(raw):
    for e in raw["files"]:
        assert e["url"] == raw["base_url"] + e["path"], e["path"]


def test_totals_add_up(raw):
    files = raw["files"]
    assert raw["totals"]["files"] == len(files) == len({e["path"] for e in files})
    assert raw["totals"]["bytes"] == sum(e["size"] or 0 for e in files)
    assert raw["totals"]["unverified"] == sum(e["checksum"] == "unknown" for e in files)
    for kind in KINDS:
        sel = [e for e in files if e["kind"] == kind]
        assert raw["totals"]["kinds"][kind] == {
            "files": len(sel),
            "bytes": sum(e["size"] or 0 for e in sel),
            "unverified": sum(e["checksum"] == "unknown" for e in sel),
        }
    assert [e["path"] for e in files] == sorted(e["path"] for e in files)


def test_only_events_entries_are_unverified(raw):
    unknown = [e for e in raw["files"] if e["checksum"] == "unknown"]
    assert unknown, "the committed manifest lists events files without a checksum"
    assert {e["kind"] for e in unknown} == {"events"}
    assert all(e["size"] is None and e["sha256"] is None for e in unknown)
    known = [e for e in raw["files"] if e["checksum"] != "unknown"]
    assert all(e["checksum"] == "sha256" for e in known)
    assert all(isinstance(e["size"], int) and isinstance(e["sha256"], str) for e in known)
    assert (
        raw["totals"]["unverified"]
        == raw["totals"]["kinds"]["events"]["unverified"]
        == len(unknown)
    )


def test_readme_states_the_totals(raw):
    text = (MANIFEST_DIR / "README.md").read_text(encoding="utf-8")
    t = raw["totals"]
    ev = t["kinds"]["events"]
    row = next(line for line in text.splitlines() if line.startswith("| events |"))
    assert f"| {ev['files']:,} |" in row and f"| {ev['unverified']:,} |" in row
    total = next(line for line in text.splitlines() if line.startswith("| **total** |"))
    assert f"**{t['files']:,}**" in total and f"**{t['unverified']:,}**" in total
    assert f"**{t['bytes']:,}**" in total


def test_entries_follow_the_layout(raw):
    runs = {f"{r.bids_task}_run-{r.run:02d}": r for r in RUNS.values()}
    for e in raw["files"]:
        if e["kind"] == "timeseries":
            assert e["path"] == timeseries_relpath(e["participant"], runs[e["run"]])
        elif e["kind"] == "events":
            assert e["path"] == events_relpath(e["participant"], runs[e["run"]])
            assert runs[e["run"]] in (FACES, STROOP)
        else:
            assert e["participant"] is None
    counts = {k: v["files"] for k, v in raw["totals"]["kinds"].items()}
    assert counts["participants"] == 1 and counts["motion"] == 4


# --- agreement with the dataset's files ----------------------------------------------------


@needs_tcp
def test_text_entries_match_the_files(raw):
    from dtb.provenance import sha256_file

    text = [e for e in raw["files"] if e["kind"] in ("participants", "events")]
    assert text
    for e in text:
        f = TCP / e["path"]
        if e["checksum"] == "unknown":  # listed from the index: absent from the folder
            assert not f.exists(), e["path"]
            continue
        assert f.stat().st_size == e["size"], e["path"]
        assert sha256_file(f) == e["sha256"], e["path"]


def _indexed_events(index) -> set[str]:
    """Events paths of the task runs whose BOLD image the index lists."""
    bold = re.compile(r"^(sub-[A-Z0-9]+)/func/\1_task-(hammerAP|stroopAP)_run-01_bold\.nii\.gz$")
    return {p.replace("_bold.nii.gz", "_events.tsv") for p in index if bold.match(p)}


@needs_tcp
def test_events_of_every_indexed_task_run_are_listed(raw, index):
    faces = [p for p in index if re.search(r"_task-hammerAP_run-01_bold\.nii\.gz$", p)]
    stroop = [p for p in index if re.search(r"_task-stroopAP_run-01_bold\.nii\.gz$", p)]
    expected = _indexed_events(index)
    assert len(expected) == len(faces) + len(stroop)
    events = [e for e in raw["files"] if e["kind"] == "events"]
    assert {e["path"] for e in events} == expected
    local = {
        p.relative_to(TCP).as_posix()
        for task in ("hammerAP", "stroopAP")
        for p in TCP.glob(f"sub-*/func/sub-*_task-{task}_run-01_events.tsv")
    }
    unknown = {e["path"] for e in events if e["checksum"] == "unknown"}
    assert unknown == expected - local
    assert len(unknown) == len(faces) + len(stroop) - len(local & expected)
    assert {e["path"] for e in events if e["checksum"] == "sha256"} == local
    assert raw["totals"]["kinds"]["events"]["unverified"] == len(unknown)


@needs_tcp
def test_large_entries_match_the_index(raw, index):
    large = [e for e in raw["files"] if e["kind"] in ("timeseries", "motion", "phenotype")]
    assert large
    for e in large:
        assert index.get(e["path"]) == (e["size"], e["sha256"]), e["path"]


@needs_tcp
def test_manifest_is_complete(raw, index):
    paths = {e["path"] for e in raw["files"]}
    runs = (
        "task-restAP_run-01",
        "task-restAP_run-02",
        "task-hammerAP_run-01",
        "task-stroopAP_run-01",
    )
    h5 = {p for p in index if p.endswith("_parcellated.h5") and p.split("/")[-1].startswith(runs)}
    assert h5 and h5 <= paths
    pheno = {p for p in index if p.startswith("phenotype/") and p.endswith(".tsv")}
    assert pheno and pheno <= paths
    events = {
        p.relative_to(TCP).as_posix()
        for task in ("hammerAP", "stroopAP")
        for p in TCP.glob(f"sub-*/func/sub-*_task-{task}_run-01_events.tsv")
    } | _indexed_events(index)
    assert events and events <= paths
    expected = len(h5) + len(pheno) + len(events) + 1 + 4
    assert len(paths) == expected


@needs_tcp
def test_build_is_deterministic_and_reproduces_the_committed_manifest(tmp_path):
    build = _build_script()
    outs = []
    for name in ("a", "b"):
        out = tmp_path / name / "ds005237.json"
        copy_ = tmp_path / name / "packaged.json"
        assert build.main(["--tcp", str(TCP), "--out", str(out), "--package-copy", str(copy_)]) == 0
        assert copy_.read_bytes() == out.read_bytes()
        assert json.loads((out.parent / "schema.json").read_text()) == SCHEMA
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    assert outs[0] == (MANIFEST_DIR / "ds005237.json").read_bytes(), (
        "data-manifest/ds005237.json is stale: rerun data-manifest/build_manifest.py"
    )


# --- broken manifests are rejected ---------------------------------------------------------


def _write(tmp_path: Path, obj) -> Path:
    p = tmp_path / "broken.json"
    p.write_text(json.dumps(obj) if not isinstance(obj, str) else obj)
    return p


def test_missing_sha256_is_rejected(raw, tmp_path):
    bad = copy.deepcopy(raw)
    victim = bad["files"][5]
    del victim["sha256"]
    p = _write(tmp_path, bad)
    with pytest.raises(ValueError, match="sha256") as info:
        load_manifest(p)
    assert str(p) in str(info.value) and victim["path"] in str(info.value)


@pytest.mark.parametrize(
    "breakage, pattern",
    [
        (lambda m: m["files"][0].update(sha256="abc"), "sha256|pattern"),
        (lambda m: m["files"][0].update(size=-1), "minimum"),
        (lambda m: m["files"][0].update(kind="nifti"), "nifti"),
        (lambda m: m["files"][0].update(url="https://example.org/x"), "expected"),
        (lambda m: m["files"].append(dict(m["files"][0])), "duplicate"),
        (lambda m: m["totals"].update(bytes=m["totals"]["bytes"] + 1), "totals"),
        (lambda m: m["files"][0].update(participant=None), "lacks a participant"),
        (lambda m: m.pop("citations"), "citations"),
    ],
)
def test_inconsistent_manifests_are_rejected(raw, tmp_path, breakage, pattern):
    bad = copy.deepcopy(raw)
    assert bad["files"][0]["kind"] == "timeseries"
    breakage(bad)
    if pattern == "duplicate":  # keep the totals consistent so the duplicate check is what fails
        bad["totals"] = mf.manifest_totals(bad["files"])
    with pytest.raises(ValueError, match=pattern):
        load_manifest(_write(tmp_path, bad))


def _first(raw: dict, kind: str, checksum: str) -> int:
    return next(
        i for i, e in enumerate(raw["files"]) if e["kind"] == kind and e["checksum"] == checksum
    )


def test_schema_allows_null_only_for_unknown_checksum_events(raw):
    validator = jsonschema.Draft202012Validator(SCHEMA)
    i = _first(raw, "events", "unknown")
    assert raw["files"][i]["size"] is None and raw["files"][i]["sha256"] is None
    assert validator.is_valid(raw)
    for kind in KINDS:  # every other kind: size and sha256 stay required non-null
        if kind == "events":
            continue
        j = next(k for k, e in enumerate(raw["files"]) if e["kind"] == kind)
        for change in (
            {"sha256": None},
            {"size": None},
            {"size": None, "sha256": None},
            {"size": None, "sha256": None, "checksum": "unknown"},
        ):
            bad = copy.deepcopy(raw)
            bad["files"][j].update(change)
            assert not validator.is_valid(bad), (kind, change)
    j = _first(raw, "events", "sha256")
    for change in ({"sha256": None}, {"size": None}, {"size": None, "sha256": None}):
        bad = copy.deepcopy(raw)
        bad["files"][j].update(change)  # checksum still "sha256"
        assert not validator.is_valid(bad), change
    for change in ({"sha256": "0" * 64}, {"size": 10}, {"checksum": "md5"}):
        bad = copy.deepcopy(raw)
        bad["files"][i].update(change)  # "unknown" means no size or hash at all
        assert not validator.is_valid(bad), change
    bad = copy.deepcopy(raw)
    del bad["files"][i]["checksum"]
    assert not validator.is_valid(bad)


@pytest.mark.parametrize(
    "kind, change, pattern",
    [
        ("timeseries", {"sha256": None}, "sha256"),
        ("phenotype", {"size": None}, "size"),
        ("motion", {"size": None, "sha256": None, "checksum": "unknown"}, "events"),
        ("events", {"sha256": None}, "sha256"),
    ],
)
def test_null_hashes_outside_unknown_events_are_rejected(raw, tmp_path, kind, change, pattern):
    bad = copy.deepcopy(raw)
    i = _first(bad, kind, "sha256")
    bad["files"][i].update(change)
    with pytest.raises(ValueError, match=pattern) as info:
        load_manifest(_write(tmp_path, bad))
    assert bad["files"][i]["path"] in str(info.value)


def test_unreadable_manifests_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="not a JSON"):
        load_manifest(_write(tmp_path, "{not json"))
    with pytest.raises(ValueError, match="not found"):
        load_manifest(tmp_path / "absent.json")


def test_validate_accepts_the_committed_manifest(raw):
    validate_manifest(copy.deepcopy(raw), name="committed")


# --- selection and summary -----------------------------------------------------------------


def _participants(entries) -> set[str]:
    return {e["participant"] for e in entries if e["participant"] is not None}


def test_select_everything_by_default(manifest):
    assert select_entries(manifest) == manifest["files"]


def test_select_participants_in_any_spelling(manifest):
    known = sorted(_participants(manifest["files"]))
    a, b = known[3], known[10]
    spellings = [a, a[len("sub-") :], "NDAR_INV" + b[len("sub-NDARINV") :]]
    sel = select_entries(manifest, participants=spellings)
    assert _participants(sel) == {a, b}
    shared = [e for e in manifest["files"] if e["participant"] is None]
    assert all(e in sel for e in shared)  # participants.tsv, motion, phenotype always in
    assert len(sel) == len(shared) + sum(e["participant"] in (a, b) for e in manifest["files"])


def test_select_first_n_in_sorted_order(manifest):
    known = sorted(_participants(manifest["files"]))
    sel = select_entries(manifest, n=2)
    assert _participants(sel) == set(known[:2])
    assert any(e["path"] == "participants.tsv" for e in sel)


def test_select_kinds_keeps_participants_tsv(manifest):
    sel = select_entries(manifest, n=1, kinds=["timeseries"])
    assert {e["kind"] for e in sel} == {"timeseries", "participants"}
    assert 1 <= len(sel) - 1 <= 4
    assert {e["kind"] for e in select_entries(manifest, kinds=["phenotype"])} == {
        "phenotype",
        "participants",
    }


def test_select_verified_only_leaves_out_unknown_checksums(manifest):
    everything = select_entries(manifest)
    verified = select_entries(manifest, verified_only=True)
    assert verified == [e for e in everything if e["checksum"] == "sha256"]
    assert len(everything) - len(verified) == manifest["totals"]["unverified"] > 0
    assert all(is_verified(e) for e in verified)
    sub = next(e["participant"] for e in manifest["files"] if e["checksum"] == "unknown")
    events = select_entries(manifest, participants=[sub], kinds=["events"])
    assert any(not is_verified(e) for e in events)
    kept = select_entries(manifest, participants=[sub], kinds=["events"], verified_only=True)
    assert kept == [e for e in events if is_verified(e)]
    assert any(e["path"] == "participants.tsv" for e in kept)


def test_is_verified():
    assert is_verified({"checksum": "sha256", "sha256": "0" * 64})
    assert not is_verified({"checksum": "unknown", "sha256": None})
    assert is_verified({"sha256": "0" * 64})  # entries without the field: decided by the hash
    assert not is_verified({"sha256": None})


def test_select_does_not_alias_the_manifest(manifest):
    sel = select_entries(manifest, n=1)
    sel[0]["size"] = -1
    assert all(e["size"] is None or e["size"] >= 0 for e in manifest["files"])


def test_select_rejects_unknown_input(manifest):
    with pytest.raises(ValueError, match="NDARINVZZZZZZZZ"):
        select_entries(manifest, participants=["sub-NDARINVZZZZZZZZ"])
    with pytest.raises(ValueError, match="TCP participant"):
        select_entries(manifest, participants=["sub-01"])
    with pytest.raises(ValueError, match="nifti"):
        select_entries(manifest, kinds=["nifti"])
    with pytest.raises(ValueError, match="only"):
        select_entries(manifest, n=100_000)
    with pytest.raises(ValueError, match="positive"):
        select_entries(manifest, n=0)
    with pytest.raises(ValueError, match="not both"):
        select_entries(manifest, participants=["sub-NDARINVZZZZZZZZ"], n=1)


def test_summary_counts_and_bytes_per_kind(manifest):
    s = summary(manifest["files"])
    assert s["count"] == manifest["totals"]["files"]
    assert s["bytes"] == manifest["totals"]["bytes"]
    assert s["unverified"] == manifest["totals"]["unverified"]
    for kind, t in manifest["totals"]["kinds"].items():
        assert s["kinds"][kind] == {
            "count": t["files"],
            "bytes": t["bytes"],
            "unverified": t["unverified"],
        }
    h = "0" * 64
    small = summary(
        [
            {"kind": "events", "size": 3, "sha256": h, "checksum": "sha256"},
            {"kind": "events", "size": 4, "sha256": h, "checksum": "sha256"},
            {"kind": "events", "size": None, "sha256": None, "checksum": "unknown"},
            {"kind": "participants", "size": 1, "sha256": h, "checksum": "sha256"},
        ]
    )
    assert small == {
        "count": 4,
        "bytes": 8,
        "unverified": 1,
        "kinds": {
            "participants": {"count": 1, "bytes": 1, "unverified": 0},
            "events": {"count": 3, "bytes": 7, "unverified": 1},
        },
    }
    assert summary([]) == {"count": 0, "bytes": 0, "unverified": 0, "kinds": {}}
