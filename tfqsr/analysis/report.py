"""The full analysis of a training run: measure, compare with exact results, write JSON and PNGs.

    RUN/analysis/energy.json         <H> ± error from fresh samples, exact energy, relative error
    RUN/analysis/correlations.json   Z, ZZ, connected ZZ, X, XX (matrices and against distance)
    RUN/analysis/entropy.json        S_n of every cut l (A = sites 0..l-1)
    RUN/analysis/saliency.json       the three [T, T] saliency maps
    RUN/analysis/*.png               energy against step, correlations against distance,
                                     S_n against cut, saliency heatmaps

Open TFIM chains of any length (free fermions) and other systems of at most ``EXACT_MAX_SITES``
spins (the ED ground state) also get exact correlations and entropies (``tfqsr.exact``).
Everything is written into a temporary directory that then replaces ``RUN/analysis``,
by the chief process only.

Under Horovod every rank draws and evaluates its share of each sample count (``rank_share``)
with its own seed stream, and the estimates are combined exactly over ranks (``combine_*`` in
``tfqsr.analysis.statistics``); the diagonal correlations, cheap, come from all ranks' samples
gathered. In one process the numbers are those of the same seed as before.
"""
import dataclasses
import os
import time

import keras
import numpy as np
import tensorflow as tf

from tfqsr import exact
from tfqsr.analysis import plots, saliency
from tfqsr.analysis.entropy import cut_regions, entropy_from_trace, swap_estimator
from tfqsr.analysis.observables import (DEFAULT_BATCH_SIZE, PairCorrelation, correlations, energy,
                                        single_flip_ratios)
from tfqsr.analysis.statistics import (combine_energy, combine_estimates, combine_means,
                                       draw_samples, json_values, rank_share, stateless_seed)
from tfqsr.operators import TransverseFieldIsing
from tfqsr.runtime.distributed import Distributed
from tfqsr.runtime.files import staged_directory, write_json_atomic
from tfqsr.runtime.logging import read_metrics
from tfqsr.runtime.rundir import read_config
from tfqsr.validation import ConfigError, require
from tfqsr.vmc.config import VMCConfig

EXACT_MAX_SITES = 12
ANALYSIS_DIR = "analysis"
MODEL_FILE = os.path.join("export", "model.keras")


@dataclasses.dataclass(frozen=True)
class AnalysisOptions:
    """What to measure (see ``python -m tfqsr.analyze --help``).

    ``offdiagonal_samples`` of the ``n_samples`` samples feed the estimators that evaluate psi
    at other configurations (energy, X, XX, the swap estimator, whose ``renyi_order`` replicas
    are consecutive equal parts of them); ``saliency_samples`` the saliency maps.
    """
    n_samples: int = 10000
    offdiagonal_samples: int = 1000
    seed: int = 0
    saliency_samples: int = 32
    saliency_steps: int = 16
    max_distance: int = None
    xx_pairs_per_distance: int = None
    renyi_order: int = 2
    batch_size: int = DEFAULT_BATCH_SIZE


def load_run(run_dir):
    """(VMCConfig, wavefunction) of a run with an exported model."""
    import tfqsr.wavefunctions  # noqa: F401  (registers the model classes for deserialization)
    config = VMCConfig(**read_config(run_dir))
    model = keras.saving.load_model(os.path.join(run_dir, MODEL_FILE))
    return config, model


def _exact_references(hamiltonian, order):
    """Exact Z, X, ZZ, XX and S_n of every cut: free fermions for the open TFIM chain (any N,
    unique ground state), the ED ground state for other systems of at most EXACT_MAX_SITES spins,
    else None."""
    references = _open_tfim_references(hamiltonian, order)
    if references is None and hamiltonian.n_sites <= EXACT_MAX_SITES:
        references = _ed_references(hamiltonian, order)
    if references is None:
        return None
    z = references["magnetization_z"]
    references["zz_connected"] = references["zz"] - np.outer(z, z)
    return references


def _ed_references(hamiltonian, order):
    """The references of ``_exact_references`` from the ED ground state (small systems)."""
    n = hamiltonian.n_sites
    psi = exact.ground_state(hamiltonian)[1]
    return {"magnetization_z": exact.magnetization_z(psi, n),
            "magnetization_x": exact.magnetization_x(psi, n),
            "zz": exact.correlations_zz(psi, n), "xx": exact.correlations_xx(psi, n),
            "entropy": np.array([exact.renyi_entropy_exact(psi, n, range(l), order)
                                 for l in range(1, n)])}


def _open_tfim_references(hamiltonian, order):
    """Free-fermion references of an open TFIM chain, or None (another system, or a degenerate
    ground state, h = 0, whose references are not unique)."""
    if not (isinstance(hamiltonian, TransverseFieldIsing) and hamiltonian.shape is None
            and not hamiltonian.pbc):
        return None
    h, J, n = hamiltonian.h, hamiltonian.J, hamiltonian.n_sites
    try:
        references = exact.tfim_open_chain_correlations(n, h=h, J=J)
    except ValueError:
        return None
    references["entropy"] = exact.tfim_open_chain_renyi_entropies(n, order, h=h, J=J)
    return references


def _by_distance(matrix, max_distance):
    """Average of a symmetric matrix over the pairs at each distance 0..max_distance."""
    return np.array([np.mean(np.diagonal(matrix, r)) for r in range(max_distance + 1)])


class _Stages:
    """Announce each stage of the analysis and record its wall time in seconds."""

    def __init__(self, verbose):
        self.verbose, self.seconds, self._name, self._start = verbose, {}, None, None

    def __call__(self, name, text=None):
        now = time.perf_counter()
        if self._name is not None:
            self.seconds[self._name] = now - self._start
        self._name, self._start = name, now
        if self.verbose and text:
            print(text, flush=True)


def analyze_run(run_dir, options=AnalysisOptions(), *, verbose=1, distributed=None):
    """Analyze the exported model of ``run_dir``; returns the summary dict (energy.json without
    the options, plus the wall time of each stage in ``seconds``).

    ``distributed`` (default: one process) splits the samples across ranks (module docstring);
    only its chief writes ``run_dir/analysis`` and shows progress. Raises ConfigError before any
    estimator runs when the model has no saliency maps or a rank's share is too small.
    """
    distributed = distributed or Distributed(use_horovod=False)
    config, model = load_run(run_dir)
    o = options
    _check_before_estimating(model, o, distributed.size)
    hamiltonian = config.build_hamiltonian()
    verbose = verbose if distributed.is_chief else 0
    stage = _Stages(verbose)
    n_samples, n_offdiagonal, n_saliency = (rank_share(n, distributed) for n in (
        o.n_samples, o.offdiagonal_samples, o.saliency_samples))
    ranks = f" on {distributed.size} ranks" if distributed.size > 1 else ""
    stage("sampling", f"sampling {o.n_samples} configurations of {hamiltonian!r}{ranks}")
    sample_seed, pair_seed = _rank_seeds(o.seed, distributed)
    samples = draw_samples(model, n_samples, sample_seed, verbose=verbose)
    subset = samples[:n_offdiagonal]

    stage("energy", f"energy from {o.offdiagonal_samples} samples")
    e, e_error, variance, ratios = energy(model, hamiltonian, subset, batch_size=o.batch_size,
                                          verbose=verbose, return_ratios=True)
    e, e_error, variance = combine_energy(e, e_error, variance, len(subset), distributed)
    e_exact = exact.exact_energy(hamiltonian)
    summary = {"energy": e, "energy_error": e_error, "variance": variance,
               "exact_energy": e_exact, "n_samples": o.offdiagonal_samples,
               "relative_error": None if e_exact is None else abs(e - e_exact) / abs(e_exact)}

    stage("correlations", "correlations (X and XX from the off-diagonal samples; X shared with "
                          "the energy when the Hamiltonian's columns are the single flips)")
    measured = correlations(model, samples=samples, offdiagonal_samples=n_offdiagonal,
                            max_distance=o.max_distance, xx_pairs_per_distance=o.xx_pairs_per_distance,
                            seed=pair_seed, batch_size=o.batch_size, verbose=verbose,
                            x_flip_ratios=single_flip_ratios(hamiltonian, ratios))
    if distributed.size > 1:
        measured = _combine_correlations(model, measured, samples, n_offdiagonal, o, distributed)

    per_replica = len(subset) // o.renyi_order
    stage("entropy", f"Rényi S_{o.renyi_order} of every cut from {o.renyi_order} x "
                     f"{o.offdiagonal_samples // o.renyi_order} samples")
    replicas = subset[:per_replica * o.renyi_order].reshape(o.renyi_order, per_replica, -1)
    entropy, trace = swap_estimator(model, replicas, cut_regions(model.n_sites),
                                    batch_size=o.batch_size, verbose=verbose)
    if distributed.size > 1:
        entropy = entropy_from_trace(combine_estimates(trace, per_replica, distributed), o.renyi_order)

    stage("saliency", f"saliency from {o.saliency_samples} samples, {o.saliency_steps} Riemann steps")
    maps = saliency.saliency_maps(model, samples[:n_saliency], steps=o.saliency_steps, verbose=verbose)
    maps = {name: combine_means(matrix, n_saliency, distributed) for name, matrix in maps.items()}
    stage("exact")
    reference = _exact_references(hamiltonian, o.renyi_order)
    stage("writing")
    if distributed.is_chief:
        _write(run_dir, o, summary, measured, entropy, maps, reference)
    stage(None)
    summary["seconds"] = stage.seconds
    return summary


def _check_before_estimating(model, options, ranks):
    """ConfigError unless the model has the saliency maps' interface and every rank gets a
    replica tuple of the swap estimator and a saliency sample."""
    try:
        saliency.require_gradient_saliency(model)
    except TypeError as error:
        raise ConfigError(f"the model of --run_dir has no saliency maps: {error}") from None
    order = options.renyi_order
    require(options.offdiagonal_samples >= order * ranks, "offdiagonal_samples",
            f"an integer >= --renyi_order x ranks = {order * ranks} (a replica tuple per rank)",
            options.offdiagonal_samples)
    require(options.saliency_samples >= ranks, "saliency_samples",
            f"an integer >= the number of ranks, {ranks}", options.saliency_samples)


def _rank_seeds(seed, distributed):
    """This rank's (sampler seed, seed of the XX pair draws): ``seed`` itself in one process,
    else streams of its own (the sampler's folded with the rank)."""
    if distributed.size == 1:
        return seed, seed
    return distributed.fold_rank(stateless_seed(seed)), [seed, distributed.rank]


def _combine_correlations(model, measured, samples, n_offdiagonal, options, distributed):
    """The correlations of all ranks: Z, ZZ and connected ZZ from the gathered samples (exactly
    those of one process holding them), X and XX combined over ranks."""
    gathered = np.asarray(distributed.allgather(tf.constant(samples)))
    diagonal = correlations(model, samples=gathered, offdiagonal_samples=0,
                            max_distance=options.max_distance, batch_size=options.batch_size)

    def combine(estimate):
        return None if estimate is None else combine_estimates(estimate, n_offdiagonal, distributed)

    xx = measured.xx
    return dataclasses.replace(
        diagonal, magnetization_x=combine(measured.magnetization_x),
        xx=PairCorrelation(combine(xx.matrix), combine(xx.by_distance)))


def _write(run_dir, options, summary, measured, entropy, maps, reference):
    target = os.path.join(run_dir, ANALYSIS_DIR)
    with staged_directory(target) as tmp:
        _write_files(tmp, run_dir, options, summary, measured, entropy, maps, reference)
    return target


def _write_files(tmp, run_dir, options, summary, measured, entropy, maps, reference):
    cuts = np.arange(1, len(entropy.value) + 1)
    correlation_json = measured.to_json()
    if reference is not None:
        correlation_json["exact"] = {k: json_values(v) for k, v in reference.items() if k != "entropy"}
    files = {
        "energy.json": {**summary, "options": dataclasses.asdict(options)},
        "correlations.json": correlation_json,
        "entropy.json": {"order": options.renyi_order, "cuts": cuts.tolist(), **entropy.to_json(),
                         "exact": None if reference is None else json_values(reference["entropy"])},
        "saliency.json": {"steps": options.saliency_steps, "n_samples": options.saliency_samples,
                          **{name: json_values(matrix) for name, matrix in maps.items()}},
    }
    for name, content in files.items():
        write_json_atomic(os.path.join(tmp, name), content)

    rows = [r for r in read_metrics(run_dir) if r.get("energy") is not None]
    if rows:
        plots.plot_energy([r["step"] for r in rows], [r["energy"] for r in rows],
                          [r.get("energy_error") or 0.0 for r in rows],
                          os.path.join(tmp, "energy.png"), exact_energy=summary["exact_energy"])
    curves = {}
    for name, label in (("zz_connected", "<ZZ> - <Z><Z>"), ("zz", "<ZZ>"), ("xx", "<XX>")):
        pair = getattr(measured, name)
        if pair is None:
            continue
        exact_curve = None
        if reference is not None and name in reference:
            exact_curve = _by_distance(reference[name], pair.distances[-1])
        curves[label] = (pair.distances, pair.by_distance.value, pair.by_distance.error, exact_curve)
    plots.plot_correlations(curves, os.path.join(tmp, "correlations.png"))
    plots.plot_entropy(cuts, entropy.value, entropy.error, os.path.join(tmp, "entropy.png"),
                       exact=None if reference is None else reference["entropy"],
                       order=options.renyi_order)
    plots.plot_saliency(maps, os.path.join(tmp, "saliency.png"), titles={
        "spin_flip": "spin-flip propagation (JSD, nats)",
        "input_x_gradient": "input x gradient",
        "integrated_attention_gradient": f"integrated attention x gradient ({options.saliency_steps} steps)"})
