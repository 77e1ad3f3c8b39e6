"""Shared fixtures: the real TCP events (when present) and small synthetic cohorts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TCP = REPO.parent / "shared" / "tcp"


@pytest.fixture(scope="session")
def tcp_root() -> Path:
    """The real TCP events folder beside the project; tests skip when it is absent."""
    if not (TCP / "participants.tsv").is_file():
        pytest.skip(f"real TCP events not found at {TCP} (only present in the development setup)")
    return TCP


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory) -> Path:
    """A small synthetic cohort (6 participants), shared read-only by one pytest run."""
    from dtb.data.synth import synthesize

    root = tmp_path_factory.mktemp("synth") / "ds"
    synthesize(root, 6, seed=1234)
    return root


@pytest.fixture
def synth_copy(synth_root, tmp_path) -> Path:
    """A private, writable copy of the synthetic cohort, for tests that break files."""
    dest = tmp_path / "ds"
    shutil.copytree(synth_root, dest)
    return dest
