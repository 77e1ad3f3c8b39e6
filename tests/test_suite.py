import pandas as pd
import pytest

from dtb.data.prepare import prepare
from dtb.suite import Entry, run_suite, suite_entries


def test_suite_entries_cover_every_protocol_and_control():
    names = [e.name for e in suite_entries(228, "paper")]
    assert names[:2] == ["paper", "zero-shot"]
    assert {"zero-shot-shuffle-1", "zero-shot-shuffle-76", "zero-shot-shuffle-114"} <= set(names)
    assert {"zero-shot-direct-input", "paper-direct-input", "paper-shuffle-114"} <= set(names)
    quick = suite_entries(40, "quick")
    assert [(e.protocol, e.shift) for e in quick if e.control == "shuffle"] == [("paper", 20)]
    assert not [e for e in quick if e.control == "direct-input"]
    # both designs: the paper's dense encoder beside the recommended pca one
    assert {"dense-paper", "dense-zero-shot"} <= {e.name for e in suite_entries(40, "quick")}
    assert {"pca-paper", "pca-zero-shot"} <= set(names)


def test_suite_trains_evaluates_and_reuses_finished_runs(synth_root, tmp_path):
    cache = prepare(synth_root, tmp_path / "cache", progress=False)
    entries = [Entry("paper", "paper"), Entry("zero-shot-shuffle-3", "zero-shot", "shuffle", 3)]
    table = run_suite(
        cache,
        tmp_path / "suite",
        entries=entries,
        n_folds=2,
        device="cpu",
        train_overrides={"max_epochs": 1, "fc_components": 1},
        progress=False,
    )
    assert set(table["entry"]) == {"paper", "zero-shot-shuffle-3", "ridge"}
    assert set(table["task"]) == {"faces", "stroop"}
    on_disk = pd.read_csv(tmp_path / "suite" / "suite.tsv", sep="\t")
    assert len(on_disk) == 6
    ridge = on_disk[on_disk["entry"] == "ridge"]
    assert set(ridge["protocol"]) == {"zero-shot"} and ridge["concordance"].isna().all()
    assert set(on_disk.loc[on_disk["entry"] == "paper", "design"]) == {"pca"}
    ckpt = tmp_path / "suite" / "paper" / "run" / "checkpoint.pt"
    metrics = tmp_path / "suite" / "paper" / "eval" / "metrics.json"
    mtime, evaluated = ckpt.stat().st_mtime_ns, metrics.stat().st_mtime_ns

    def again(max_epochs: int = 1):
        overrides = {"max_epochs": max_epochs, "fc_components": 1}
        run_suite(
            cache,
            tmp_path / "suite",
            entries=entries[:1],
            n_folds=2,
            device="cpu",
            train_overrides=overrides,
            progress=False,
        )

    again()
    assert ckpt.stat().st_mtime_ns == mtime  # finished run reused, not retrained
    assert metrics.stat().st_mtime_ns == evaluated  # ... and its evaluation too
    # a finished run of another configuration or another cohort is refused, never reused
    with pytest.raises(ValueError, match="another configuration"):
        again(max_epochs=2)
    from dtb.parallel import finished

    with pytest.raises(ValueError, match="trained on cohort .* not reused"):
        finished(ckpt.parent, "0" * 16)
