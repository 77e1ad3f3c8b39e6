"""The data manifest of OpenNeuro ds005237: every file dtb uses, with its size and SHA-256.

The manifest is a JSON document built by ``data-manifest/build_manifest.py`` from the dataset's
own index of large files and from the small text files themselves. It lists facts only (paths,
sizes, hashes, download addresses); ``dtb data fetch`` downloads and verifies what it lists.

Every entry says whether its file can be verified: ``"checksum": "sha256"`` (size and SHA-256
known) or ``"checksum": "unknown"`` (``size`` and ``sha256`` are ``null``). Only events files are
ever unverified: the dataset has an events file for every task run it has a BOLD image of, but the
events files the build did not have at hand are listed by path alone.

Layout of the document (see :data:`SCHEMA` for the full JSON Schema)::

    {
      "schema_version": "1.1",
      "dataset": {"id": "ds005237", "doi": ..., "version": ..., "licence": "CC0", ...},
      "citations": [{"key": ..., "text": ..., "doi": ...}, ...],
      "base_url": "https://s3.amazonaws.com/openneuro.org/ds005237/",
      "source": {...},
      "totals": {"files": int, "bytes": int, "unverified": int, "participants": int,
                 "kinds": {...}},
      "files": [{"path", "size", "sha256", "checksum", "kind", "participant", "run", "url"}, ...]
    }

``bytes`` totals count the files of known size only.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema

from dtb.layout import bids_id

#: The manifest shipped in the source tree (``data-manifest/ds005237.json``). When dtb is installed
#: without the source tree, :func:`load_manifest` falls back to the copy packaged as
#: ``dtb/resources/ds005237.json``.
MANIFEST_PATH = Path(__file__).resolve().parents[2] / "data-manifest" / "ds005237.json"
#: Name of the packaged copy inside ``dtb.resources``.
RESOURCE_NAME = "ds005237.json"
#: Version of the manifest format written by the build script and accepted by the loader
#: (1.1 added the per-entry ``checksum`` and the ``unverified`` totals).
SCHEMA_VERSION = "1.1"
#: File kinds, in the order summaries list them.
KINDS: tuple[str, ...] = ("participants", "events", "timeseries", "motion", "phenotype")
#: Kinds whose files belong to one participant (the others are shared by the whole dataset).
PARTICIPANT_KINDS: frozenset[str] = frozenset({"events", "timeseries"})
#: Values of an entry's ``checksum``: ``"sha256"`` (size and SHA-256 known, the file is verified
#: on download) or ``"unknown"`` (``size`` and ``sha256`` are null; the file cannot be verified).
CHECKSUMS: tuple[str, ...] = ("sha256", "unknown")
#: The only kinds whose entries may have ``"checksum": "unknown"``.
UNVERIFIABLE_KINDS: frozenset[str] = frozenset({"events"})
#: Run labels used in the manifest (BIDS task with phase-encoding direction, and run index).
RUN_LABELS: tuple[str, ...] = (
    "restAP_run-01",
    "restAP_run-02",
    "hammerAP_run-01",
    "stroopAP_run-01",
)

_SHA256 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_COUNT = {"type": "integer", "minimum": 0}
_KIND_TOTAL = {
    "type": "object",
    "additionalProperties": False,
    "required": ["files", "bytes", "unverified"],
    "properties": {"files": _COUNT, "bytes": _COUNT, "unverified": _COUNT},
}

#: JSON Schema (draft 2020-12) of the manifest. ``data-manifest/schema.json`` is written from this
#: dictionary by the build script, so the two never drift apart (a test compares them).
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "urn:dtb:data-manifest:ds005237",
    "title": "dtb data manifest of OpenNeuro ds005237 (Transdiagnostic Connectome Project)",
    "description": (
        "Every ds005237 file the dtb companion uses: dataset-relative path, size in bytes, "
        "SHA-256, kind, participant, run and public download URL. Events entries with checksum "
        "'unknown' have a null size and SHA-256 and cannot be verified."
    ),
    "type": "object",
    "additionalProperties": False,
    "required": [
        "schema_version",
        "dataset",
        "citations",
        "base_url",
        "source",
        "totals",
        "files",
    ],
    "properties": {
        "schema_version": {"type": "string", "const": SCHEMA_VERSION},
        "dataset": {
            "type": "object",
            "additionalProperties": False,
            "required": ["id", "name", "doi", "version", "licence", "landing_page"],
            "properties": {
                "id": {"type": "string", "const": "ds005237"},
                "name": {"type": "string", "minLength": 1},
                "doi": {"type": "string", "pattern": "^10\\.18112/openneuro\\.ds005237$"},
                "version": {"type": "string", "pattern": "^[0-9]+\\.[0-9]+\\.[0-9]+$"},
                "licence": {"type": "string", "const": "CC0"},
                "landing_page": {"type": "string", "pattern": "^https://"},
            },
        },
        "citations": {
            "type": "array",
            "minItems": 3,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["key", "role", "text", "doi"],
                "properties": {
                    "key": {"type": "string", "pattern": "^[a-z0-9_]+$"},
                    "role": {"enum": ["dataset", "data descriptor", "paper"]},
                    "text": {"type": "string", "minLength": 1},
                    "doi": {"type": "string", "pattern": "^10\\.[0-9]{4,9}/\\S+$"},
                },
            },
        },
        "base_url": {"type": "string", "pattern": "^https?://\\S+/$"},
        "source": {
            "type": "object",
            "additionalProperties": False,
            "required": ["index", "index_sha256", "text_files"],
            "properties": {
                "index": {"type": "string", "minLength": 1},
                "index_sha256": _SHA256,
                "text_files": {"type": "string", "minLength": 1},
            },
        },
        "totals": {
            "type": "object",
            "additionalProperties": False,
            "required": ["files", "bytes", "unverified", "participants", "kinds"],
            "properties": {
                "files": _COUNT,
                "bytes": _COUNT,
                "unverified": _COUNT,
                "participants": _COUNT,
                "kinds": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": list(KINDS),
                    "properties": {k: _KIND_TOTAL for k in KINDS},
                },
            },
        },
        "files": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": [
                    "path",
                    "size",
                    "sha256",
                    "checksum",
                    "kind",
                    "participant",
                    "run",
                    "url",
                ],
                "properties": {
                    "path": {"type": "string", "pattern": "^[A-Za-z0-9_-][A-Za-z0-9._/-]*$"},
                    "size": {"type": ["integer", "null"], "minimum": 0},
                    "sha256": {"type": ["string", "null"], "pattern": _SHA256["pattern"]},
                    "checksum": {"enum": list(CHECKSUMS)},
                    "kind": {"enum": list(KINDS)},
                    "participant": {
                        "type": ["string", "null"],
                        "pattern": "^sub-NDARINV[A-Z0-9]+$",
                    },
                    "run": {"enum": [*RUN_LABELS, None]},
                    "url": {"type": "string", "pattern": "^https?://\\S+$"},
                },
                # size and sha256 may be null only in an events entry whose checksum is unknown
                "if": {"required": ["checksum"], "properties": {"checksum": {"const": "unknown"}}},
                "then": {
                    "properties": {
                        "kind": {"enum": sorted(UNVERIFIABLE_KINDS)},
                        "size": {"type": "null"},
                        "sha256": {"type": "null"},
                    },
                },
                "else": {"properties": {"size": _COUNT, "sha256": _SHA256}},
            },
        },
    },
}


def load_manifest(path: Path | str | None = None) -> dict:
    """Read, validate and return a data manifest.

    Parameters
    ----------
    path : Path or str, optional
        Manifest file. Default: :data:`MANIFEST_PATH` in a source checkout, else the copy packaged
        with dtb (``dtb/resources/ds005237.json``).

    Returns
    -------
    dict
        The manifest, as described by :data:`SCHEMA`; ``manifest["files"]`` is a list of entries
        (dicts with ``path``, ``size``, ``sha256``, ``checksum``, ``kind``, ``participant``,
        ``run``, ``url``; ``size`` and ``sha256`` are ``None`` where ``checksum`` is
        ``"unknown"``, see :func:`is_verified`).

    Raises
    ------
    ValueError
        If the file is missing, is not JSON, does not satisfy the schema, or is inconsistent
        (duplicate paths, ``url`` not ``base_url + path``, a per-participant kind without a
        participant, totals that do not add up). The message names the file.
    """
    if path is None:
        if MANIFEST_PATH.is_file():
            name, text = str(MANIFEST_PATH), MANIFEST_PATH.read_text(encoding="utf-8")
        else:
            res = resources.files("dtb.resources").joinpath(RESOURCE_NAME)
            if not res.is_file():
                raise ValueError(
                    f"no data manifest found: neither {MANIFEST_PATH} nor the packaged "
                    f"dtb/resources/{RESOURCE_NAME} exists"
                )
            name, text = f"dtb/resources/{RESOURCE_NAME}", res.read_text(encoding="utf-8")
    else:
        p = Path(path)
        if not p.is_file():
            raise ValueError(f"{p}: data manifest not found")
        name, text = str(p), p.read_text(encoding="utf-8")
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{name}: not a JSON data manifest ({exc})") from exc
    validate_manifest(manifest, name=name)
    return manifest


def validate_manifest(manifest: Any, name: str = "<manifest>") -> None:
    """Check a manifest against :data:`SCHEMA` and its internal consistency.

    Parameters
    ----------
    manifest : dict
        The parsed manifest.
    name : str
        How to name the manifest in error messages (usually its file path).

    Raises
    ------
    ValueError
        On the first problem found, naming ``name`` and, for an entry, its path.
    """
    validator = jsonschema.Draft202012Validator(SCHEMA)
    errors = sorted(
        validator.iter_errors(manifest), key=lambda e: [str(x) for x in e.absolute_path]
    )
    if errors:
        err = errors[0]
        where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
        entry = _entry_path_of(manifest, list(err.absolute_path))
        what = f" (file {entry})" if entry else ""
        raise ValueError(
            f"{name}: invalid data manifest at {where}{what}: {err.message}"
            + (f" [{len(errors) - 1} more problem(s)]" if len(errors) > 1 else "")
        )
    base = manifest["base_url"]
    seen: set[str] = set()
    for e in manifest["files"]:
        p = e["path"]
        if ".." in PurePosixPath(p).parts:
            raise ValueError(f"{name}: entry {p!r} leaves the dataset root")
        if p in seen:
            raise ValueError(f"{name}: duplicate entry {p}")
        seen.add(p)
        if e["url"] != base + p:
            raise ValueError(f"{name}: entry {p} has url {e['url']!r}, expected {base + p!r}")
        per_participant = e["kind"] in PARTICIPANT_KINDS
        if per_participant != (e["participant"] is not None):
            raise ValueError(
                f"{name}: entry {p} of kind {e['kind']} "
                + ("lacks a participant" if per_participant else "must not name a participant")
            )
    totals = manifest_totals(manifest["files"])
    if totals != manifest["totals"]:
        raise ValueError(
            f"{name}: totals {manifest['totals']} do not match the files listed ({totals})"
        )


def is_verified(entry: dict) -> bool:
    """Whether a fetch can verify the entry's file (its size and SHA-256 are known).

    Parameters
    ----------
    entry : dict
        A manifest entry. Its ``checksum`` decides (``"sha256"``: yes, ``"unknown"``: no); an
        entry without the field is verifiable if it has a ``sha256``.

    Returns
    -------
    bool
    """
    checksum = entry.get("checksum")
    if checksum is None:
        return entry.get("sha256") is not None
    return checksum == "sha256"


def select_entries(
    manifest: dict,
    participants: Sequence[str] | None = None,
    n: int | None = None,
    kinds: Iterable[str] | None = None,
    verified_only: bool = False,
) -> list[dict]:
    """Choose the manifest entries to fetch.

    Parameters
    ----------
    manifest : dict
        A manifest from :func:`load_manifest`.
    participants : sequence of str, optional
        Participant ids in any spelling :func:`dtb.layout.bids_id` accepts (``sub-NDARINV<ID>``,
        ``NDARINV<ID>``, ``NDAR_INV<ID>``). Mutually exclusive with ``n``.
    n : int, optional
        Take the first ``n`` participants of the manifest in sorted order of their BIDS id.
    kinds : iterable of str, optional
        Keep only these kinds (of :data:`KINDS`). ``participants.tsv`` is always kept, since
        every TCP-layout root needs it.
    verified_only : bool
        Leave out the entries whose file cannot be verified (``"checksum": "unknown"``: events
        files listed without size and SHA-256), so that everything selected is checked on
        download.

    Returns
    -------
    list of dict
        The selected entries (copies), in manifest order. Files shared by the whole dataset
        (``participants.tsv``, motion, phenotype) are included whatever the participant selection;
        with neither ``participants`` nor ``n`` every participant is included.

    Raises
    ------
    ValueError
        For an id that is not a TCP id or not in the manifest (named), an unknown kind, ``n`` < 1 or
        larger than the number of participants, or both ``participants`` and ``n`` given.
    """
    if participants is not None and n is not None:
        raise ValueError("give either participants or n, not both")
    files: list[dict] = manifest["files"]
    known = sorted({e["participant"] for e in files if e["participant"] is not None})
    chosen: set[str] | None = None
    if participants is not None:
        ids = [bids_id(p) for p in participants]
        if not ids:
            raise ValueError("participants is empty: give at least one participant id")
        missing = [orig for orig, b in zip(participants, ids, strict=True) if b not in known]
        if missing:
            raise ValueError(
                f"participant(s) not in the data manifest: {', '.join(missing)} "
                f"({len(known)} participants listed)"
            )
        chosen = set(ids)
    elif n is not None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        if n > len(known):
            raise ValueError(f"n = {n}, but the data manifest lists only {len(known)} participants")
        chosen = set(known[:n])
    wanted: set[str] | None = None
    if kinds is not None:
        wanted = set(kinds)
        unknown = sorted(wanted - set(KINDS))
        if unknown:
            raise ValueError(
                f"unknown file kind(s): {', '.join(unknown)} (known: {', '.join(KINDS)})"
            )
        wanted.add("participants")
    out = []
    for e in files:
        if wanted is not None and e["kind"] not in wanted:
            continue
        if chosen is not None and e["participant"] is not None and e["participant"] not in chosen:
            continue
        if verified_only and not is_verified(e):
            continue
        out.append(copy.deepcopy(e))
    return out


def summary(entries: Iterable[dict]) -> dict:
    """Count and size of a list of entries, in total and per kind.

    Parameters
    ----------
    entries : iterable of dict
        Manifest entries.

    Returns
    -------
    dict
        ``{"count": int, "bytes": int, "unverified": int, "kinds": {kind: {"count": int,
        "bytes": int, "unverified": int}}}``; ``kinds`` lists only the kinds present, in the
        order of :data:`KINDS`. ``unverified`` counts the entries :func:`is_verified` rejects;
        ``bytes`` sums the known sizes (an unverified entry's size is unknown, counted as 0).
    """
    per: dict[str, dict[str, int]] = {}
    for e in entries:
        k = per.setdefault(e["kind"], {"count": 0, "bytes": 0, "unverified": 0})
        k["count"] += 1
        if e.get("size") is not None:
            k["bytes"] += int(e["size"])
        if not is_verified(e):
            k["unverified"] += 1
    order = [k for k in KINDS if k in per] + sorted(k for k in per if k not in KINDS)
    kinds = {k: per[k] for k in order}
    return {
        "count": sum(v["count"] for v in kinds.values()),
        "bytes": sum(v["bytes"] for v in kinds.values()),
        "unverified": sum(v["unverified"] for v in kinds.values()),
        "kinds": kinds,
    }


def manifest_totals(files: list[dict]) -> dict:
    """The ``totals`` block for a list of entries (used by the build script).

    Parameters
    ----------
    files : list of dict
        Manifest entries.

    Returns
    -------
    dict
        ``{"files", "bytes", "unverified", "participants", "kinds": {kind: {"files", "bytes",
        "unverified"}}}`` with every kind of :data:`KINDS` listed; ``bytes`` counts the files
        of known size, ``unverified`` the entries with ``"checksum": "unknown"``.
    """
    s = summary(files)
    return {
        "files": s["count"],
        "bytes": s["bytes"],
        "unverified": s["unverified"],
        "participants": len({e["participant"] for e in files if e["participant"] is not None}),
        "kinds": {
            k: {
                "files": s["kinds"].get(k, {}).get("count", 0),
                "bytes": s["kinds"].get(k, {}).get("bytes", 0),
                "unverified": s["kinds"].get(k, {}).get("unverified", 0),
            }
            for k in KINDS
        },
    }


def _entry_path_of(manifest: Any, location: list) -> str | None:
    """The ``path`` of the entry an error location points into, if any."""
    if len(location) >= 2 and location[0] == "files" and isinstance(location[1], int):
        try:
            path = manifest["files"][location[1]].get("path")
        except (AttributeError, IndexError, KeyError, TypeError):
            return None
        return path if isinstance(path, str) else None
    return None
