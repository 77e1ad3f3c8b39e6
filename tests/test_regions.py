import numpy as np
import pandas as pd
import pytest

from dtb.data.regions import RIGHT_AMYGDALA_PARCELS, region_signals, target_index, target_regions


def test_twenty_targets_ten_regions_both_hemispheres():
    t = target_regions()
    assert len(t) == 20
    assert all(sorted(g) == ["L", "R"] for _, g in t.groupby("region")["hemisphere"])
    assert t["region"].nunique() == 10
    assert t.loc[target_index("AMY_R"), "parcels"] == RIGHT_AMYGDALA_PARCELS


def test_parcel_labels_agree_with_the_dataset_atlas(tcp_root):
    atlas = pd.read_csv(tcp_root / "atlas" / "region_labels_434.tsv", sep="\t")
    for row in target_regions().itertuples():
        labels = row.parcel_labels.split(",")
        assert atlas.loc[list(row.parcels), "label"].tolist() == labels
        hemi_tag = {"L": ("_LH_", "-lh"), "R": ("_RH_", "-rh")}[row.hemisphere]
        assert all(any(tag in lab for tag in hemi_tag) for lab in labels), row.target


def test_region_signals_are_parcel_means():
    rng = np.random.default_rng(0)
    ts = rng.normal(size=(434, 7))
    sig = region_signals(ts)
    assert sig.shape == (20, 7)
    np.testing.assert_allclose(sig[target_index("AMY_R")], ts[[402, 403]].mean(axis=0))
    with pytest.raises(ValueError, match=r"\(434, n_times\)"):
        region_signals(ts[:100])
