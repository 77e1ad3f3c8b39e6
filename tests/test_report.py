"""The rules that turn results into the book's words (dtb.report)."""

from __future__ import annotations

import pandas as pd
import pytest

from dtb.report import (
    Estimate,
    build_info,
    chance_verdict,
    compare,
    effect_verdict,
    page_header,
    recovery_findings,
    recovery_verdict,
    stability_findings,
    suite_findings,
    treatment_findings,
)


def test_compare_decides_by_overlap_of_the_intervals():
    hi, lo = Estimate(0.8, 0.7, 0.9), Estimate(0.3, 0.1, 0.5)
    assert compare(hi, lo) == "above" and compare(lo, hi) == "below"
    touching = Estimate(0.55, 0.45, 0.75)
    assert compare(touching, lo) == compare(lo, touching) == "not distinguishable from"
    assert compare(Estimate(None, None, None), lo) == "not comparable with"


@pytest.mark.parametrize(
    ("low", "high", "words"),
    [
        (0.1, 0.6, "above chance"),
        (-0.2, 0.4, "not distinguishable from chance"),
        (-0.6, -0.1, "below chance"),
    ],
)
def test_chance_is_an_interval_that_excludes_zero(low, high, words):
    assert chance_verdict(Estimate((low + high) / 2, low, high)) == words


@pytest.mark.parametrize(
    ("auc", "start"),
    [
        (0.97, "recovers"),
        (0.9, "recovers"),
        (0.7, "partly recovers"),
        (0.5, "does not"),
        (0.42, "ranks the planted edges below"),
    ],
)
def test_recovery_words_follow_the_stated_thresholds(auc, start):
    words = recovery_verdict(auc)
    assert words.startswith(start)
    assert "near chance" not in words  # a below-chance map is never called near chance


def test_effects_are_named_by_sign_and_size():
    assert effect_verdict(-0.86, "RT").startswith("lowers RT (-0.86 SD")
    assert effect_verdict(0.31, "t").startswith("raises t")
    assert effect_verdict(0.05, "t").startswith("leaves t in place")
    assert "not measured" in effect_verdict(None, "t")


def _suite():
    rows = [
        # entry, design, protocol, control, r, low, high
        ("paper", "pca", "paper", "none", 0.60, 0.45, 0.72),
        ("zero-shot", "pca", "zero-shot", "none", 0.05, -0.2, 0.3),
        ("paper-shuffle-32", "pca", "paper", "shuffle", 0.58, 0.40, 0.70),
        ("zero-shot-direct-input", "pca", "zero-shot", "direct-input", 0.80, 0.62, 0.90),
        ("dense-paper", "dense", "paper", "none", 0.20, 0.0, 0.4),
        ("ridge", "ridge", "zero-shot", "none", 0.78, 0.65, 0.87),
    ]
    return pd.DataFrame(
        [
            {
                "entry": e,
                "design": d,
                "protocol": p,
                "control": c,
                "shift": 0,
                "task": "stroop",
                "r": r,
                "ci_low": lo,
                "ci_high": hi,
                "n": 39,
            }
            for e, d, p, c, r, lo, hi in rows
        ]
    )


def test_suite_findings_say_what_the_table_shows():
    baselines = {"tasks": {"stroop": {"own_mean_rt": {"r": 0.9, "ci_low": 0.85, "ci_high": 0.94}}}}
    text = "\n".join(suite_findings(_suite(), baselines, design="pca"))
    # the contradiction: a zero-shot ablation at r 0.80 does not "sit at chance"
    assert "zero-shot `zero-shot-direct-input`: r = 0.80 [0.62, 0.90, n = 39], above chance" in text
    assert "zero-shot `zero-shot`: r = 0.05 [-0.20, 0.30, n = 39], not distinguishable from" in text
    assert "below the own-mean baseline" in text
    # the shuffled FC does as well as each person's own
    assert "FC shuffle) (`paper-shuffle-32`, r = 0.58 [0.40, 0.70, n = 39]) is not " in text
    assert "the `dense` design (`dense-paper`, r = 0.20 [0.00, 0.40, n = 39]) is below" in text
    assert "the zero-shot twin (r = 0.05 [-0.20, 0.30, n = 39]) is below the ridge peer" in text


def test_the_page_label_names_synthetic_data_and_no_machine_path(tmp_path):
    info = build_info(
        data_root=tmp_path / "results" / "quick" / "data",
        cache=tmp_path / "cache" / "cohort-3f66e76b6435655e.npz",
        profile="quick",
        design="pca",
        participants=64,
        synthetic=True,
        seed=0,
        code="0.1.0+gabc",
    )
    text = page_header(info, protocol="paper")
    assert "Synthetic data" in text and "64 participants" in text and "seed 0" in text
    assert "3f66e76b6435" in text and "protocol `paper`" in text and "dtb 0.1.0+gabc" in text
    assert str(tmp_path) not in text
    real = page_header({**info, "data": {**info["data"], "kind": "real", "name": "ds005237"}})
    assert real.startswith("> **Real data**: `ds005237`") and "Synthetic" not in real


def test_recovery_and_treatment_sentences_come_from_the_summary():
    m = {"auc_abs": 0.42, "auc_signed": 0.22, "n_planted": 2305, "precision_at_k": {"2305": 0.02}}
    text = " ".join(recovery_findings("speed", {"twin": m, "ridge": {**m, "auc_abs": 0.99}}))
    assert "the twin's SmoothGrad map ranks the planted edges below" in text
    assert "precision 0.02 among the top 2,305 edges" in text and "2305.000" not in text
    assert "ridge peer's coefficient map recovers" in text
    assert "no planted truth" in recovery_findings("affect", None)[0]
    summary = {
        "indicator": "speed",
        "treatment": {"random_direction": {"speed": {"specific": -1.2}, "amygdala_t": None}},
        "fc_treatment": {
            "specific": {"speed": {"specific": -0.86}, "amygdala_t": {"specific": 0.31}}
        },
    }
    text = " ".join(treatment_findings(summary))
    assert "the FC edit of the targets lowers the twins' mean RT (-0.86 SD" in text
    assert "raises the right-amygdala face > shape t (+0.31 SD" in text
    assert "weight-space treatment lowers the twins' mean RT (-1.20" in text
    assert "weight-space treatment was not measured on the right-amygdala" in text


def test_stability_sentence_applies_the_agreement_rule():
    runs = [{"recovery": {"twin": {"auc_abs": a}}} for a in (0.99, 0.96, 0.99)]
    text = stability_findings("pca", "speed", {"runs": runs, "spearman_mean": 0.39})
    assert "recovers the planted edges (mean AUC 0.98)" in text and "do not agree" in text
    assert "agree (mean" in stability_findings(
        "pca", "speed", {"runs": runs, "spearman_mean": 0.85}
    )


def test_edit_checks_name_who_is_left_out_and_who_is_too_fast():
    from dtb.report import IMPLAUSIBLE_RT_S, edit_checks

    table = pd.DataFrame(
        {
            "participant": ["a", "b", "c"],
            "pre_speed": [0.6, 0.5, float("nan")],
            "speed": [0.15, 0.55, 0.5],
            "rt_faces": [IMPLAUSIBLE_RT_S - 0.05, 0.5, 0.5],
            "rt_stroop": [0.25, 0.6, 0.5],
        }
    )
    checks = edit_checks(table, "speed")
    assert checks["implausible"] == ["a"]
    assert [p for p, _ in checks["left_out"]] == ["c"]
    assert "before the edit" in checks["left_out"][0][1]


def test_settings_are_read_from_the_saved_configs(tmp_path):
    import json

    from dtb.config import TrainConfig
    from dtb.provenance import config_dict
    from dtb.report import settings_markdown
    from dtb.ridge import RidgeConfig

    cfg = TrainConfig.for_profile("quick", lr=0.00123)
    run = tmp_path / "run"
    run.mkdir()
    saved = {"train_config": config_dict(cfg), "model_config": config_dict(cfg.model_config(45))}
    (run / "run.json").write_text(json.dumps(saved))
    text = settings_markdown({"pca design": run}, ridge=RidgeConfig(n_folds=4))
    assert "| `lr` | 0.00123 |" in text and "| setting | pca design |" in text
    assert f"| `max_epochs` | {cfg.max_epochs} |" in text and "| `n_fc` | 45 |" in text
    assert "| `n_folds` | 4 |" in text and "glover + derivative" in text
    assert "Fisher z" in text
