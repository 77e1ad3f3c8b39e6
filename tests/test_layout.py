import pytest

from dtb.layout import FACES, REST, STROOP, bids_id, events_relpath, nda_folder, timeseries_relpath


@pytest.mark.parametrize(
    "spelling",
    ["sub-NDARINVAB123CDE", "NDARINVAB123CDE", "NDAR_INVAB123CDE", " sub-NDARINVAB123CDE "],
)
def test_bids_id_accepts_every_spelling(spelling):
    assert bids_id(spelling) == "sub-NDARINVAB123CDE"
    assert nda_folder(spelling) == "NDAR_INVAB123CDE"


@pytest.mark.parametrize("bad", ["sub-01", "", "NDARINV", "ABC"])
def test_bids_id_rejects_other_ids(bad):
    with pytest.raises(ValueError, match="TCP participant"):
        bids_id(bad)


def test_paths_match_the_real_dataset_index(tcp_root):
    """Our path builders produce paths that exist in the dataset's own file index."""
    index = (tcp_root / "annexed_files.tsv").read_text().split("\n")
    paths = {line.split("\t")[0] for line in index[1:] if line}
    sub = "sub-NDARINVAG023WG3"
    for run in (REST, FACES, STROOP):
        assert timeseries_relpath(sub, run) in paths
    for run in (FACES, STROOP):
        assert (tcp_root / events_relpath(sub, run)).is_file()


def test_run_lengths():
    assert (REST.n_volumes, FACES.n_volumes, STROOP.n_volumes) == (488, 493, 510)
    assert FACES.duration == pytest.approx(394.4)
