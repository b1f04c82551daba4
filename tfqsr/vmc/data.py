"""Data-enhanced VMC: measurement snapshots, their log-likelihood, and exact snapshots.

With snapshots s_1..s_M drawn from a distribution q (projective measurements of the ground
state in the computational basis, q(s) = |<s|psi_0>|^2), the KL divergence of the model
p = |psi|^2 from q is

    KL(q || p) = sum_s q(s) log q(s) - sum_s q(s) log p(s)
               = -H(q) + E_q[-log p(s)],

so up to the constant entropy H(q) it is the negative log-likelihood NLL = -mean_m log p(s_m)
of the data. The data term of the loss is ``kl * NLL`` of a minibatch of snapshots
(``--kl``, ``--data``), and pretraining minimizes the NLL alone (``--pretrain_steps``).

Snapshots are stored as ``.npz`` files holding one 0/1 integer array [M, N] (key ``samples``,
or the only array of the file). ``exact_snapshots`` draws them from an exact ground state of a
small array (``python -m tfqsr.vmc.snapshots``).
"""
import numpy as np

from tfqsr.validation import ConfigError

SAMPLES_KEY = "samples"


def load_snapshots(path, n_sites=None):
    """The snapshots int32 [M, N] of the .npz file ``path``; ConfigError naming ``--data`` when
    the file is missing or unreadable, has no single array or key ``samples``, or its array is
    not a non-empty 0/1 array of ``n_sites`` columns."""
    try:
        with np.load(path) as archive:
            names = list(archive.files)
            if SAMPLES_KEY not in names and len(names) != 1:
                raise ConfigError(f"--data must be an .npz file with one array or an array named "
                                  f"{SAMPLES_KEY!r}, got arrays {names} in {path!r}")
            samples = archive[SAMPLES_KEY if SAMPLES_KEY in names else names[0]]
    except (OSError, ValueError) as error:
        if isinstance(error, ConfigError):
            raise
        raise ConfigError(f"--data must be a readable .npz file, got {path!r} ({error})") from None
    shape = f"a 0/1 array [M >= 1, {n_sites if n_sites else 'N'}]"
    if (samples.ndim != 2 or samples.shape[0] < 1 or (n_sites and samples.shape[1] != n_sites)
            or not np.isin(samples, (0, 1)).all()):
        raise ConfigError(f"--data must hold {shape}, got an array of shape {list(samples.shape)} "
                          f"and dtype {samples.dtype} in {path!r}")
    return samples.astype(np.int32)


def exact_snapshots(psi, n_samples, seed=0):
    """``n_samples`` configurations int32 [n, N] drawn from |psi|^2 of a state vector ``psi``
    over the basis of ``tfqsr.hilbert`` (site 0 the most significant bit)."""
    from tfqsr import hilbert
    probabilities = np.abs(np.asarray(psi)) ** 2
    n_sites = int(np.log2(probabilities.size))
    indices = np.random.default_rng(seed).choice(probabilities.size, size=int(n_samples),
                                                 p=probabilities / probabilities.sum())
    return hilbert.indices_to_configurations(indices, n_sites).astype(np.int32)


def save_snapshots(path, samples):
    """Write ``samples`` [M, N] to the .npz file ``path`` (key ``samples``), atomically."""
    import os
    import tempfile
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=directory, suffix=".npz", delete=False) as f:
        np.savez_compressed(f, **{SAMPLES_KEY: np.asarray(samples, np.int8)})
    os.replace(f.name, path)
    return path


def kl_divergence(q, p):
    """KL(q || p) = sum_s q(s) log(q(s) / p(s)) of two distributions over the same basis
    (terms with q(s) = 0 contribute 0)."""
    q, p = np.asarray(q, np.float64), np.asarray(p, np.float64)
    support = q > 0
    return float(np.sum(q[support] * (np.log(q[support]) - np.log(p[support]))))


def rydberg_snapshots(Lx, Ly, n_samples, seed=0, V=7.0, omega=1.0, delta=1.0):
    """``n_samples`` exact snapshots int32 [n, Lx*Ly] of the Rydberg ground state and the
    ground-state vector (float64 [2^N]) they were drawn from."""
    from tfqsr import exact, operators
    _, psi = exact.ground_state(operators.Rydberg(Lx, Ly, V=V, omega=omega, delta=delta))
    return exact_snapshots(psi, n_samples, seed), psi
