"""Data-parallel training: 2 gloo processes follow the one-process loss curve."""

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from dtb.distributed import Context, shard
from dtb.network import load_checkpoint


def test_shard_deals_whole_groups_round_robin():
    batch = np.arange(5 * 4)  # five groups of four windows
    a = shard(batch, 4, Context(0, 2))
    b = shard(batch, 4, Context(1, 2))
    assert a.tolist() == [*range(0, 4), *range(8, 12), *range(16, 20)]
    assert b.tolist() == [*range(4, 8), *range(12, 16)]
    assert shard(batch[:4], 4, Context(1, 2)).size == 0
    with pytest.raises(ValueError, match="groups of 4"):
        shard(batch[:6], 4, Context(0, 2))


def _train(args, env_extra=None, torchrun=False):
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env_extra or {})}
    cmd = [sys.executable, "-m", "dtb", "train", *args]
    if torchrun:
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
        cmd = [*launcher, "--nproc_per_node", "2", "-m", "dtb", "train", *args]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]


@pytest.mark.slow
def test_two_gloo_processes_follow_the_one_process_loss_curve(synth_root, tmp_path):
    from dtb.data.prepare import prepare

    cache = prepare(synth_root, tmp_path / "cache", progress=False)
    common = [str(cache), "--profile", "quick", "--max-steps", "6", "--quiet", "--device", "cpu"]
    common += ["--fc-components", "2"]
    _train([*common, "--out", str(tmp_path / "one")])
    _train([*common, "--out", str(tmp_path / "two")], torchrun=True)
    one = pd.read_csv(tmp_path / "one" / "log.tsv", sep="\t")
    two = pd.read_csv(tmp_path / "two" / "log.tsv", sep="\t")
    assert len(one) == len(two) == 6
    # same global batches, same dropout, gradients summed over ranks: equal up to the order of
    # floating-point sums (float32)
    for col in ("loss", "action", "bold"):
        np.testing.assert_allclose(two[col], one[col], rtol=2e-4, err_msg=col)
    assert one["loss"].iloc[-1] < one["loss"].iloc[0]  # it is a learning curve, not a constant
    w1 = load_checkpoint(tmp_path / "one" / "checkpoint.pt")["model"]
    w2 = load_checkpoint(tmp_path / "two" / "checkpoint.pt")["model"]
    for name in w1:
        torch.testing.assert_close(w2[name], w1[name], rtol=1e-3, atol=1e-5, msg=name)
    assert not (tmp_path / "two" / "rank1").exists()
