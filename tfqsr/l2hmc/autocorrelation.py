"""Integrated autocorrelation times from several independent chains.

For a series a_t (t = 1..N) in each of C chains, the effective sample size of
``tfp.mcmc.effective_sample_size`` with the chains as ``cross_chain_dims`` (its autocorrelation
uses the between-chain variance too, so a chain stuck in one topological sector counts as
correlated rather than as exact) and Geyer's initial positive sequence truncation gives

    tau_int = N C / ESS      (in trajectories; 1 for independent samples),

and ``tau_int * gradient_evaluations`` is its cost in force evaluations, the unit in which HMC
and L2HMC compare at equal cost. The error is the spread over G disjoint groups of chains:
std(tau_g) / sqrt(G). A series that never changes (every chain frozen in one sector, no
variance) has tau_int = inf; the error is inf when a group of chains is frozen.
"""
import numpy as np


def integrated_autocorrelation_time(series, *, groups=4):
    """(tau_int, error) of ``series`` [steps, chains] (module docstring)."""
    import tensorflow as tf
    import tensorflow_probability as tfp

    series = np.asarray(series, np.float64)
    steps, chains = series.shape

    def tau(block):
        if np.var(block) == 0:
            return np.inf
        logger = tf.get_logger()
        level = logger.level
        logger.setLevel("ERROR")  # TFP's FFT casts complex to real: a warning per call
        try:
            ess = tfp.mcmc.effective_sample_size(
                tf.constant(block), filter_beyond_positive_pairs=True,
                cross_chain_dims=1 if block.shape[1] > 1 else None)
        finally:
            logger.setLevel(level)
        return float(block.size / np.sum(ess.numpy()))

    total = tau(series)
    groups = min(groups, chains // 2)
    if groups < 2:
        return total, np.nan
    parts = [tau(block) for block in np.array_split(series, groups, axis=1)]
    if not np.isfinite(parts).all():
        return total, np.inf
    return total, float(np.std(parts, ddof=1) / np.sqrt(groups))


def autocorrelation_function(series, max_lag):
    """rho(t) for t = 0..max_lag of ``series`` [steps, chains], about the mean over all chains
    and normalized by the variance over all chains (numpy; for plots)."""
    series = np.asarray(series, np.float64)
    centered = series - series.mean()
    variance = np.mean(centered ** 2)
    if variance == 0:
        return np.ones(max_lag + 1)
    steps = series.shape[0]
    return np.array([np.mean(centered[: steps - t] * centered[t:]) for t in range(max_lag + 1)]) / variance
