import numpy as np
import pytest

from dtb.protocols import (
    fc_source,
    fold_assignment,
    held_out_participants,
    standard_shifts,
    training_participants,
)


@pytest.mark.parametrize("n,k", [(10, 5), (11, 3), (228, 5)])
def test_folds_partition_the_cohort_in_balanced_parts(n, k):
    folds = fold_assignment(n, k, seed=0)
    counts = np.bincount(folds, minlength=k)
    assert counts.sum() == n and counts.max() - counts.min() <= 1
    seen = np.concatenate([held_out_participants(n, fold=f, n_folds=k, seed=0) for f in range(k)])
    assert sorted(seen) == list(range(n))
    for f in range(k):
        train = training_participants("zero-shot", n, fold=f, n_folds=k, seed=0)
        held = held_out_participants(n, fold=f, n_folds=k, seed=0)
        assert not set(train) & set(held) and len(train) + len(held) == n


def test_shuffle_is_a_cyclic_shift_without_fixed_points():
    n = 12
    for s in standard_shifts(n):
        src = fc_source("shuffle", n, s)
        assert sorted(src) == list(range(n)) and not np.any(src == np.arange(n))
    assert standard_shifts(12) == (1, 4, 6)
    np.testing.assert_array_equal(fc_source("none", n, 3), np.arange(n))
    with pytest.raises(ValueError, match="multiple of n"):
        fc_source("shuffle", n, 12)


def test_bad_protocol_and_fold():
    with pytest.raises(ValueError, match="unknown control"):
        fc_source("random", 10, 1)
    with pytest.raises(ValueError, match="unknown protocol"):
        training_participants("loo", 10, fold=0, n_folds=5, seed=0)
    with pytest.raises(ValueError, match="fold must be"):
        training_participants("zero-shot", 10, fold=5, n_folds=5, seed=0)
    with pytest.raises(ValueError, match="n_folds"):
        fold_assignment(3, 5, 0)
