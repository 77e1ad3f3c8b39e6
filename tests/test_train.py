import numpy as np
import pytest
import torch

import dtb.train as train_mod
from dtb.cli import main
from dtb.data.prepare import prepare
from dtb.train import TrainConfig, TrainingDiverged, load_checkpoint, train

# 6 participants: the pca encoder keeps 2 components (a fold of 3 can fit them)
FAST = dict(max_epochs=2, checkpoint_every=1, fc_components=2, participants_per_batch=6)


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
    assert cfg.ema_decay > 0  # the moving average resumes too
    _assert_same(
        load_checkpoint(full / "checkpoint.pt")["ema"],
        load_checkpoint(part / "checkpoint.pt")["ema"],
    )
    log_full = (full / "log.tsv").read_text().splitlines()
    log_part = (part / "log.tsv").read_text().splitlines()
    # identical losses step by step (the elapsed-seconds column differs)
    assert [r.split("\t")[:6] for r in log_full] == [r.split("\t")[:6] for r in log_part]


def test_the_evaluated_weights_are_the_moving_average_of_the_trained_ones(cache, tmp_path):
    decay = 0.7
    cfg = TrainConfig.for_profile("quick", **FAST, ema_decay=decay)
    run, trained, averaged = tmp_path / "ema", [], []
    for k in (1, 2, 3):  # the weights after each step, read from the checkpoint
        train(cache, run, cfg, device="cpu", progress=False, max_steps=k, resume=k > 1)
        blob = load_checkpoint(run / "checkpoint.pt")
        assert blob["state"]["step"] == k
        trained.append(blob["model"])
        averaged.append(
            {n[len("module.") :]: v for n, v in blob["ema"].items() if n != "n_averaged"}
        )
        if blob["state"]["batch"] == 0:  # an epoch has just ended: best.pt is its average
            _assert_same(load_checkpoint(run / "best.pt")["model"], averaged[-1])
    assert load_checkpoint(run / "best.pt")["state"]["step"] == 2  # the first epoch's 2 steps
    name = "core.hyper.fc2.weight"
    # the first step is copied, then average <- decay * average + (1 - decay) * weights
    want = decay**2 * trained[0][name] + (1 - decay) * (decay * trained[1][name] + trained[2][name])
    torch.testing.assert_close(averaged[2][name], want)
    assert not torch.allclose(want, trained[2][name])
    off = TrainConfig.for_profile("quick", **FAST, ema_decay=0.0)
    off_run = train(cache, tmp_path / "off", off, device="cpu", progress=False, max_steps=1)
    assert load_checkpoint(off_run / "checkpoint.pt")["ema"] is None
    with pytest.raises(ValueError, match=r"ema_decay must be in \[0, 1\); got 1.0"):
        TrainConfig.for_profile("quick", ema_decay=1.0).validate()


def test_checkpoint_from_another_config_or_cohort_is_refused(cache, synth_copy, tmp_path, capsys):
    cfg = TrainConfig.for_profile("quick", max_epochs=1, fc_components=2)
    run = train(cache, tmp_path / "r", cfg, device="cpu", progress=False, max_steps=1)
    with pytest.raises(ValueError, match=r"another train config \(lr: 0.002 -> 0.005"):
        train(
            cache,
            run,
            TrainConfig.for_profile("quick", max_epochs=1, lr=5e-3, fc_components=2),
            device="cpu",
            progress=False,
            resume=True,
        )
    dense = TrainConfig.for_profile("quick", fc_encoder="dense", max_epochs=1, fc_components=2)
    with pytest.raises(ValueError, match=r"fc_encoder: 'pca' -> 'dense'"):
        train(cache, run, dense, device="cpu", progress=False, resume=True)
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
    argv = ["train", str(changed), "--out", str(run), "--resume", "--fc-components", "2"]
    assert main([*argv, "--quiet"]) == 1
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
        "quick",
        protocol=protocol,
        control=control,
        n_folds=3,
        shuffle_shift=2,
        max_epochs=1,
        fc_components=2,
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


@pytest.mark.parametrize("val_fraction", [0.2, 0.0])
def test_zero_shot_fits_the_fc_encoder_on_its_training_participants_only(
    cache, tmp_path, val_fraction
):
    """Held-out participants never reach the fit; validation participants neither, when any."""
    from sklearn.decomposition import PCA

    from dtb.data.prepare import load_prepared
    from dtb.evaluate import evaluate
    from dtb.protocols import held_out_participants, training_split

    cfg = TrainConfig.for_profile(
        "quick",
        protocol="zero-shot",
        n_folds=3,
        max_epochs=1,
        fc_components=2,
        val_participants=val_fraction,
    )
    run = train(cache, tmp_path / "zs", cfg, device="cpu", progress=False)
    blob = load_checkpoint(run / "checkpoint.pt")
    cohort = load_prepared(cache)
    n = len(cohort.participants)
    held = held_out_participants(n, fold=0, n_folds=3, seed=0)
    _, val = training_split("zero-shot", n, fold=0, n_folds=3, seed=0, val_fraction=val_fraction)
    val = [] if val is None else list(val)
    fitted = blob["fitted_on"]
    assert not set(fitted) & {cohort.participants[i] for i in (*held, *val)}
    assert len(fitted) == n - len(held) - len(val) == (3 if val_fraction else 4)
    # the components are scikit-learn's PCA of exactly those participants' normalised FC
    x = cohort["fc"][[cohort.participants.index(p) for p in fitted]].astype(np.float64)
    z = (x - x.mean(0)) / np.maximum(x.std(0, ddof=1), 1e-6)
    ref = PCA(n_components=2).fit(z).components_
    got = blob["model"]["core.hyper.encoder.components"].double().numpy()
    np.testing.assert_allclose(np.abs(np.sum(ref * got, axis=1)), 1.0, atol=1e-4)
    # a checkpoint whose fit set was changed is refused by name
    blob["fitted_on"] = [cohort.participants[i] for i in held] + fitted[1:]
    torch.save(blob, run / "best.pt")
    with pytest.raises(ValueError, match=r"best.pt: the FC normalisation and encoder were fitted"):
        evaluate([run], tmp_path / "ev", device="cpu", progress=False)


def test_a_fold_too_small_for_the_components_is_refused_by_name(cache, tmp_path):
    cfg = TrainConfig.for_profile(
        "quick", protocol="zero-shot", n_folds=3, fold=1, max_epochs=1, val_participants=0.2
    )
    with pytest.raises(ValueError, match=r"zero-shot run, fold 1: 3 training participants are too"):
        train(cache, tmp_path / "small", cfg, device="cpu", progress=False)
    assert not (tmp_path / "small").exists()
