"""Seed agreement of edge maps: Spearman r and Jaccard against direct computation; refusals."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from dtb.cli import main
from dtb.stability import jaccard, target_stability


def _intervention(
    folder, scores, *, seed, key="a" * 64, indicator="speed", encoder="pca", direction="ridge"
):
    folder.mkdir(parents=True)
    z = (scores - scores.mean()) / scores.std()
    target = np.where(z > 2.0, "strengthen", np.where(z < -2.0, "weaken", ""))
    pd.DataFrame({"edge": np.arange(len(scores)), "score": scores, "target": target}).to_csv(
        folder / "edges.tsv", sep="\t", index=False
    )
    summary = {
        "config": {"indicator": indicator, "direction": direction},
        "indicator": indicator,
        "run": {
            "path": f"/runs/seed-{seed}",
            "data_key": key,
            "train_config": {"seed": seed, "fc_encoder": encoder, "profile": "quick"},
        },
        "recovery": None,
    }
    (folder / "intervention.json").write_text(json.dumps(summary))
    return folder, {(e, t) for e, t in enumerate(target) if t}


def test_pairwise_agreement_equals_a_direct_computation(tmp_path):
    rng = np.random.default_rng(0)
    common = rng.normal(size=2000)
    maps = [common + rng.normal(scale=s, size=2000) for s in (0.3, 0.5, 2.0)]
    made = [_intervention(tmp_path / f"s{k}", m, seed=k) for k, m in enumerate(maps)]
    out = tmp_path / "out"
    r = target_stability([f for f, _ in made], out)
    assert [(p["a"], p["b"]) for p in r["pairs"]] == [(0, 1), (0, 2), (1, 2)]
    for p in r["pairs"]:
        want = stats.spearmanr(maps[p["a"]], maps[p["b"]]).statistic
        assert p["spearman"] == pytest.approx(want)
        a, b = made[p["a"]][1], made[p["b"]][1]
        assert p["jaccard"] == pytest.approx(len(a & b) / len(a | b))
    assert r["pairs"][0]["spearman"] > r["pairs"][1]["spearman"]  # less noise, more agreement
    assert (out / "stability.json").is_file() and len(pd.read_csv(out / "pairs.tsv", sep="\t")) == 3


def test_maps_of_other_cohorts_designs_or_seeds_are_refused(tmp_path, capsys):
    rng = np.random.default_rng(1)
    a, _ = _intervention(tmp_path / "a", rng.normal(size=100), seed=0)
    b, _ = _intervention(tmp_path / "b", rng.normal(size=100), seed=1, key="b" * 64)
    c, _ = _intervention(tmp_path / "c", rng.normal(size=100), seed=2, encoder="dense")
    d, _ = _intervention(tmp_path / "d", rng.normal(size=100), seed=0)
    e, _ = _intervention(tmp_path / "e", rng.normal(size=100), seed=3, direction="pls")
    with pytest.raises(ValueError, match=r"b: its run /runs/seed-1 has another cohort"):
        target_stability([a, b])
    with pytest.raises(ValueError, match="another design"):
        target_stability([a, c])
    with pytest.raises(ValueError, match="another weight-space direction"):
        target_stability([a, e])
    with pytest.raises(ValueError, match="distinct seeds"):
        target_stability([a, d])
    with pytest.raises(ValueError, match="at least 2"):
        target_stability([a])
    assert main(["targets-stability", str(a), str(b), "--out", str(tmp_path / "o")]) == 1
    assert "another cohort" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    assert np.isnan(jaccard(set(), set())) and jaccard({1, 2}, {2, 3}) == pytest.approx(1 / 3)
