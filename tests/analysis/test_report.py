"""Exact references of the analysis report: free fermions for open TFIM chains of any length,
ED for other small systems, none otherwise; what analyze_run refuses before its estimators run."""
import numpy as np
import pytest

from tfqsr import exact
from tfqsr.analysis.report import EXACT_MAX_SITES, _exact_references
from tfqsr.operators import ModifiedHaldaneShastry, TransverseFieldIsing
from tfqsr.vmc.config import VMCConfig


def test_open_tfim_chain_of_any_length_gets_free_fermion_references():
    n = 3 * EXACT_MAX_SITES
    references = _exact_references(TransverseFieldIsing(n, h=0.8), order=3)
    free = exact.tfim_open_chain_correlations(n, h=0.8)
    np.testing.assert_array_equal(references["zz"], free["zz"])
    np.testing.assert_array_equal(references["zz_connected"], free["zz"])  # <Z_i> = 0
    np.testing.assert_array_equal(references["entropy"], exact.tfim_open_chain_renyi_entropies(n, 3, h=0.8))


def test_small_systems_get_ed_references():
    op = ModifiedHaldaneShastry(8)
    references = _exact_references(op, order=2)
    psi = exact.ground_state(op)[1]
    z = exact.magnetization_z(psi, 8)
    np.testing.assert_allclose(references["zz_connected"], exact.correlations_zz(psi, 8) - np.outer(z, z))
    np.testing.assert_allclose(references["entropy"][3], exact.renyi_entropy_exact(psi, 8, range(4), 2))


def test_large_systems_without_a_closed_form_get_none():
    assert _exact_references(TransverseFieldIsing(EXACT_MAX_SITES + 2, pbc=True), order=2) is None


def test_degenerate_open_tfim_chain_falls_back_to_ed_or_none():
    assert _exact_references(TransverseFieldIsing(EXACT_MAX_SITES + 2, h=0.0), order=2) is None
    assert _exact_references(TransverseFieldIsing(6, h=0.0), order=2)["entropy"].shape == (5,)


def test_a_model_without_saliency_maps_is_refused_before_the_estimators_run(monkeypatch):
    from tfqsr.analysis import report
    from tfqsr.validation import ConfigError

    class NoAttention:  # an autoregressive model without embed/decode (e.g. an RNN)
        n_sites = 4

    def estimator_ran(*args, **kwargs):
        raise AssertionError("an estimator ran before the check")

    monkeypatch.setattr(report, "load_run", lambda run_dir: (VMCConfig(system_size=4), NoAttention()))
    monkeypatch.setattr(report, "draw_samples", estimator_ran)
    with pytest.raises(ConfigError, match="no saliency maps: NoAttention has no embed"):
        report.analyze_run("unused")


@pytest.mark.parametrize("field,value", [("offdiagonal_samples", 5), ("saliency_samples", 2)])
def test_a_share_too_small_for_a_rank_is_refused_before_the_estimators_run(monkeypatch, field, value):
    import dataclasses
    from tfqsr.analysis import report
    from tfqsr.validation import ConfigError

    class ThreeRanks:
        size, rank, is_chief = 3, 0, True

    transformer = type("Transformer", (), {"embed": None, "decode": None})()
    monkeypatch.setattr(report, "load_run", lambda run_dir: (VMCConfig(system_size=4), transformer))
    options = dataclasses.replace(report.AnalysisOptions(), **{field: value})
    with pytest.raises(ConfigError, match=f"--{field} must be an integer >= "):
        report.analyze_run("unused", options, distributed=ThreeRanks())
