import numpy as np
import pytest
import torch

import dtb.train as train_mod
from dtb.cli import main
from dtb.data.prepare import prepare
from dtb.train import TrainConfig, TrainingDiverged, load_checkpoint, train

FAST = dict(max_epochs=2, checkpoint_every=1)


@pytest.fixture(scope="module")
def cache(synth_root, tmp_path_factory):
    return prepare(synth_root, tmp_path_factory.mktemp("cache"), progress=False)


def _weights(run):
    return load_checkpoint(run / "checkpoint.pt")["model"]


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)


def test_same_seed_same_weights_and_a_log_to_plot(cache, tmp_path):
    cfg = TrainConfig.for_profile("quick", **FAST)
    a = train(cache, tmp_path / "a", cfg, device="cpu", progress=False)
    b = train(cache, tmp_path / "b", cfg, device="cpu", progress=False)
    _assert_same(_weights(a), _weights(b))
    log = np.genfromtxt(a / "log.tsv", delimiter="\t", names=True)
    assert len(log) == load_checkpoint(a / "checkpoint.pt")["state"]["step"] > 0
    assert np.isfinite(log["loss"]).all() and (a / "best.pt").is_file()
    c = train(
        cache,
        tmp_path / "c",
        TrainConfig.for_profile("quick", seed=1, **FAST),
        device="cpu",
        progress=False,
    )
    assert not torch.equal(
        _weights(a)["core.hyper.fc2.weight"], _weights(c)["core.hyper.fc2.weight"]
    )


def test_resume_reaches_the_same_weights_as_an_uninterrupted_run(cache, tmp_path):
    cfg = TrainConfig.for_profile("quick", **FAST)
    full = train(cache, tmp_path / "full", cfg, device="cpu", progress=False)
    n_steps = load_checkpoint(full / "checkpoint.pt")["state"]["step"]
    assert n_steps >= 3
    part = train(cache, tmp_path / "part", cfg, device="cpu", progress=False, max_steps=n_steps - 1)
    assert load_checkpoint(part / "checkpoint.pt")["state"]["step"] == n_steps - 1
    train(cache, part, cfg, device="cpu", progress=False, resume=True)
    _assert_same(_weights(full), _weights(part))
    log_full = (full / "log.tsv").read_text().splitlines()
    log_part = (part / "log.tsv").read_text().splitlines()
    # identical losses step by step (the elapsed-seconds column differs)
    assert [r.split("\t")[:6] for r in log_full] == [r.split("\t")[:6] for r in log_part]


def test_checkpoint_from_another_config_or_cohort_is_refused(cache, synth_copy, tmp_path, capsys):
    cfg = TrainConfig.for_profile("quick", max_epochs=1)
    run = train(cache, tmp_path / "r", cfg, device="cpu", progress=False, max_steps=1)
    with pytest.raises(ValueError, match=r"another train config \(lr: 0.001 -> 0.002\)"):
        train(
            cache,
            run,
            TrainConfig.for_profile("quick", max_epochs=1, lr=2e-3),
            device="cpu",
            progress=False,
            resume=True,
        )
    with pytest.raises(ValueError, match="already holds a run"):
        train(cache, run, cfg, device="cpu", progress=False)
    other = prepare(synth_copy, tmp_path / "c2", progress=False, force=True)
    # same data, but a different path: the hash decides, not the path
    train(other, run, cfg, device="cpu", progress=False, resume=True, max_steps=2)
    (synth_copy / "participants.tsv").write_text(
        "\n".join((synth_copy / "participants.tsv").read_text().splitlines()[:-1]) + "\n"
    )
    changed = prepare(synth_copy, tmp_path / "c3", progress=False)
    with pytest.raises(ValueError, match="trained on cohort"):
        train(changed, run, cfg, device="cpu", progress=False, resume=True)
    assert main(["train", str(changed), "--out", str(run), "--resume", "--quiet"]) == 1
    assert "trained on cohort" in capsys.readouterr().err


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(cache, tmp_path, monkeypatch):
    real = train_mod.loss_fn
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += torch.is_grad_enabled()  # count training steps, not validation
        total, parts = real(*args, **kwargs)
        return (total * float("nan"), parts) if calls["n"] == 3 else (total, parts)

    monkeypatch.setattr(train_mod, "loss_fn", flaky)
    with pytest.raises(TrainingDiverged, match=r"epoch 1, step 2, batch 0"):
        train(
            cache,
            tmp_path / "nan",
            TrainConfig.for_profile("quick", **FAST),
            device="cpu",
            progress=False,
        )
    blob = load_checkpoint(tmp_path / "nan" / "checkpoint.pt")
    assert blob["state"]["step"] == 2
    assert all(torch.isfinite(v).all() for v in blob["model"].values() if v.is_floating_point())


@pytest.mark.parametrize(
    "protocol,control", [("zero-shot", "none"), ("paper", "shuffle"), ("paper", "direct-input")]
)
def test_protocols_and_controls_train_and_are_recorded(cache, tmp_path, protocol, control):
    cfg = TrainConfig.for_profile(
        "quick", protocol=protocol, control=control, n_folds=3, shuffle_shift=2, max_epochs=1
    )
    run = train(cache, tmp_path / "r", cfg, device="cpu", progress=False)
    blob = load_checkpoint(run / "checkpoint.pt")
    assert blob["train_config"]["protocol"] == protocol
    assert blob["train_config"]["control"] == control
    assert blob["state"]["step"] >= 1


def test_bad_config_and_missing_cuda(cache, tmp_path):
    with pytest.raises(ValueError, match="unknown control"):
        train(cache, tmp_path / "x", TrainConfig(control="noise"), progress=False)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            train(cache, tmp_path / "x", TrainConfig(), device="cuda", progress=False)
