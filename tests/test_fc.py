import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dtb.data.fc import correlation_matrix, fc_vector, fisher_z, n_edges, vector_to_matrix


def test_paper_feature_count():
    assert n_edges(434) == 93_961


@st.composite
def timeseries(draw):
    n_regions = draw(st.integers(2, 12))
    n_times = draw(st.integers(5, 40))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    # shared signal makes correlations non-trivial, private noise keeps every region non-constant
    shared = rng.normal(size=n_times)
    return rng.normal(size=(n_regions, 1)) * shared + rng.normal(size=(n_regions, n_times))


@settings(max_examples=60, deadline=None)
@given(timeseries())
def test_correlation_is_symmetric_with_unit_diagonal(ts):
    c = correlation_matrix(ts)
    np.testing.assert_allclose(c, c.T, atol=1e-12)
    np.testing.assert_allclose(np.diag(c), 1.0)
    assert np.all(np.abs(c) <= 1 + 1e-12)


@settings(max_examples=60, deadline=None)
@given(timeseries())
def test_fc_vector_matches_scipy_pearson_and_round_trips(ts):
    from scipy.stats import pearsonr

    v = fc_vector(ts)
    n = ts.shape[0]
    assert v.shape == (n * (n - 1) // 2,)
    assert np.isfinite(v).all()
    # independent reference: scipy's pearsonr, edge by edge, then arctanh
    i, j = np.triu_indices(n, k=1)
    ref = np.array(
        [
            np.arctanh(np.clip(pearsonr(ts[a], ts[b]).statistic, -1 + 1e-7, 1 - 1e-7))
            for a, b in zip(i, j, strict=True)
        ]
    )
    np.testing.assert_allclose(v, ref, atol=1e-9)
    m = vector_to_matrix(v, n)
    np.testing.assert_allclose(m, m.T)
    np.testing.assert_allclose(m[i, j], v)


@given(arrays(float, st.integers(1, 50), elements=st.floats(-1, 1)))
def test_fisher_z_is_finite_odd_and_monotone(r):
    z = fisher_z(r)
    assert np.isfinite(z).all()
    np.testing.assert_allclose(fisher_z(-r), -z)
    order = np.argsort(r, kind="stable")
    assert np.all(np.diff(z[order]) >= 0)
    np.testing.assert_allclose(np.tanh(z), np.clip(r, -1 + 1e-7, 1 - 1e-7), atol=1e-12)


def test_duplicated_region_stays_finite_and_constant_region_is_refused():
    rng = np.random.default_rng(0)
    ts = rng.normal(size=(3, 50))
    ts[2] = ts[0]
    assert np.isfinite(fc_vector(ts)).all()
    ts[1] = 4.0
    with pytest.raises(ValueError, match=r"constant signal in region\(s\) \[1\]"):
        fc_vector(ts)


def test_vector_to_matrix_rejects_wrong_length():
    with pytest.raises(ValueError, match="does not match 5 regions"):
        vector_to_matrix(np.zeros(9), 5)
