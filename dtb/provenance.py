"""Hashes and version stamps that tie every cache, checkpoint and result to its inputs."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import dtb


def sha256_file(path: Path | str, chunk: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def config_dict(config: Any) -> dict:
    """A frozen dataclass config as a plain, JSON-ready dictionary."""
    if dataclasses.is_dataclass(config):
        return json.loads(json.dumps(dataclasses.asdict(config), default=str))
    return dict(config)


def hash_config(config: Any) -> str:
    """Stable SHA-256 of a config (dataclass or dict), independent of key order."""
    blob = json.dumps(config_dict(config), sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def hash_files(paths: Iterable[Path | str], root: Path | str | None = None) -> str:
    """SHA-256 over the names and contents of ``paths`` (sorted), relative to ``root`` if given.

    Content, not modification time, decides: touching a file does not invalidate a cache,
    editing it does.
    """
    h = hashlib.sha256()
    for p in sorted(Path(p) for p in paths):
        name = str(p.relative_to(root)) if root is not None else p.name
        h.update(name.encode())
        h.update(b"\0")
        h.update(sha256_file(p).encode())
    return h.hexdigest()


def code_version() -> str:
    """The package version, plus the git commit when running from a checkout."""
    version = dtb.__version__
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(dtb.__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        if rev.returncode == 0 and rev.stdout.strip():
            version += "+g" + rev.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return version
