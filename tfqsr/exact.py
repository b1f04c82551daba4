"""Exact references: ED from ``Operator.to_sparse``, closed-form ground-state energies, and
observables of a state vector.

State vectors are numpy arrays over the basis of :func:`tfqsr.hilbert.all_configurations`
(site 0 = most significant bit); all quantities are in Pauli units (``X, Y, Z`` Pauli matrices).
"""
import numpy as np
import scipy.linalg
import scipy.sparse.linalg

from tfqsr import hilbert, validation
from tfqsr.operators import HaldaneShastry, Operator, TransverseFieldIsing

# Largest number of sites handled by exact diagonalization (full space 2**20).
MAX_ED_SITES = 20
# Above this many sites, "auto" diagonalizes a conserving operator in the n_down = N // 2 sector.
MAX_AUTO_FULL_SITES = 14
# Spaces up to this dimension are diagonalized densely.
MAX_DENSE_DIMENSION = 256

_PAULI_X = np.array([[0.0, 1.0], [1.0, 0.0]])
_PAULI_Z = np.array([[1.0, 0.0], [0.0, -1.0]])


def _resolve_sector(op, n_down):
    """``None`` (full space) or the number of down spins of the sector to diagonalize in."""
    if not isinstance(op, Operator):
        raise ValueError(f"op must be a tfqsr.operators.Operator, got {type(op).__name__}")
    if op.n_sites > MAX_ED_SITES:
        raise ValueError(
            f"exact diagonalization supports n_sites <= {MAX_ED_SITES} "
            f"(full space 2**{MAX_ED_SITES}), got n_sites={op.n_sites}"
        )
    if isinstance(n_down, str) and n_down == "auto":
        if op.n_sites <= MAX_AUTO_FULL_SITES or not op.conserves_magnetization:
            return None
        return op.n_sites // 2
    return n_down


def ground_state(op, n_down="auto"):
    """Lowest eigenvalue and a normalized eigenvector of ``op`` (exact diagonalization).

    Args:
      op: an :class:`~tfqsr.operators.Operator` with ``n_sites <= 20``.
      n_down: ``None`` for the full space, an integer for the sector with that many down spins
        (requires ``op.conserves_magnetization``), or ``"auto"``: the full space when
        ``N <= 14`` or the operator does not conserve magnetization, otherwise
        ``n_down = N // 2`` (total ``Z = 0``, or ``+1`` for odd N). That sector holds a ground
        state of the antiferromagnetic Heisenberg and Haldane–Shastry chains (Marshall–Lieb–
        Mattis: total spin 0 for even N, 1/2 for odd N, so the ground multiplet has a member of
        lowest ``|S_z|``); for the modified Haldane–Shastry chain it is checked against the full
        space for N = 6, 8, 10, 12 in tests/test_exact.py.

    Returns:
      ``(energy, psi)``: float and float64 ``[2**N]`` over the full basis (a sector eigenvector is
      embedded with zeros elsewhere), normalized, sign fixed so its largest-magnitude entry is
      positive. Dense ``eigh`` (lowest pair only) up to dimension 256, else Lanczos (``eigsh``,
      ``which="SA"``); a diagonal matrix is minimized directly (a basis state).
    """
    sector = _resolve_sector(op, n_down)
    matrix = op.to_sparse(sector)
    dim = matrix.shape[0]
    diagonal = matrix.diagonal()
    if matrix.nnz == np.count_nonzero(diagonal):
        # A diagonal matrix (classical Hamiltonian, or zero): Lanczos would stall at once.
        lowest = int(np.argmin(diagonal))
        values, vectors = diagonal[[lowest]], np.eye(dim, 1, k=-lowest)
    elif dim <= MAX_DENSE_DIMENSION:
        values, vectors = scipy.linalg.eigh(matrix.toarray(), subset_by_index=[0, 0])
    else:
        # A seeded random start vector: reproducible, and not orthogonal to any symmetry sector.
        start = np.random.default_rng(0).standard_normal(dim)
        values, vectors = scipy.sparse.linalg.eigsh(matrix, k=1, which="SA", v0=start)
    vector = vectors[:, 0] / np.linalg.norm(vectors[:, 0])
    vector *= np.sign(vector[np.argmax(np.abs(vector))])
    if sector is None:
        psi = vector
    else:
        psi = np.zeros(2**op.n_sites)
        psi[hilbert.sector_indices(op.n_sites, sector)] = vector
    return float(values[0]), psi


def ground_state_energy(op, n_down="auto"):
    """Lowest eigenvalue of ``op`` by exact diagonalization (see :func:`ground_state`)."""
    return ground_state(op, n_down)[0]


def _tfim_parameters(n_sites, h, J):
    """(n_sites, h, J) of a TFIM chain, validated."""
    return validation.integer("n_sites", n_sites, minimum=2), validation.real("h", h), validation.real("J", J)


def tfim_ground_state_energy(n_sites, h=1.0, J=1.0, pbc=False):
    """Exact ground-state energy of ``H = -J sum_i Z_i Z_{i+1} - h sum_i X_i`` on a chain.

    Derivation (Pauli units). Jordan–Wigner fermions in the ``X`` basis, ``X_j = 1 - 2 n_j`` and
    ``Z_j = prod_{l<j}(1 - 2 n_l)(c_j + c_j^dag)``, turn ``H`` into the quadratic form
    ``sum_j [-J (c_j^dag - c_j)(c_{j+1}^dag + c_{j+1}) - h (1 - 2 n_j)]``.

    Open chain: by Lieb–Schultz–Mattis the quasiparticle energies are ``2 Lambda_k`` with
    ``Lambda_k`` the singular values of the N x N bidiagonal matrix with ``h`` on the diagonal and
    ``J`` on the superdiagonal, and ``E0 = -sum_k Lambda_k`` (e.g. N = 2: ``-sqrt(J^2 + 4h^2)``).
    Exact for all real ``h``, ``J``.

    Periodic chain: the boundary bond becomes ``-P J (c_{N-1}^dag - c_{N-1})(c_0^dag + c_0)``
    with the conserved parity ``P = prod_j X_j = (-1)^{N_f}``. The sector ``P = +1`` has
    antiperiodic momenta ``k = pi(2m+1)/N``, the sector ``P = -1`` periodic momenta
    ``k = 2 pi m / N``. In a sector, each pair ``(k, -k)`` with ``k != 0, pi`` has lowest energy
    ``-J cos k - eps_k`` per mode with ``eps_k = sqrt(J^2 + h^2 - 2 J h cos k)`` and even fermion
    number; an unpaired mode ``k in {0, pi}`` has energy ``-J cos k -+ (h - J cos k)`` when empty
    / occupied, lowest ``-J cos k - eps_k``, occupied iff ``h - J cos k < 0``. Since
    ``sum_k cos k = 0`` the unconstrained minimum is ``-sum_k eps_k``; if the fermion parity of
    that minimum contradicts the sector, the lowest state of the sector costs one extra
    excitation ``2 min_k eps_k``. The answer is the lower of the two sectors (checked against ED
    for N = 2..10, both signs of ``J`` and ``h``). For ``J, h >= 0``, and for all signs when N is
    even (the signs can then be gauged away), it equals the familiar ``P = +1`` result
    ``E0 = -sum_{k = pi(2m+1)/N} eps_k``. For odd N with ``J < 0`` (a frustrated ring) or ``h < 0``
    that formula is wrong: the energy is even in ``h`` (rotate every spin by ``Z``), but the formula
    is not, and the parity correction decides. For N = 2 the periodic chain has a single bond
    (bonds are distinct pairs) and equals the open chain.
    """
    n, h, J = _tfim_parameters(n_sites, h, J)
    if not pbc or n == 2:
        bidiagonal = np.diag(np.full(n, h)) + np.diag(np.full(n - 1, J), k=1)
        return float(-np.linalg.svd(bidiagonal, compute_uv=False).sum())
    sector_energies = []
    for offset, parity in ((0.5, 0), (0.0, 1)):  # (antiperiodic, P = +1), (periodic, P = -1)
        k = 2 * np.pi * (np.arange(n) + offset) / n
        eps = np.sqrt(np.maximum(J**2 + h**2 - 2 * J * h * np.cos(k), 0.0))
        unpaired = np.isclose(np.sin(k), 0.0, atol=1e-12)
        occupied = unpaired & (h - J * np.cos(k) < 0)
        energy = -eps.sum()
        if occupied.sum() % 2 != parity:
            energy += 2 * eps.min()
        sector_energies.append(energy)
    return float(min(sector_energies))


def haldane_shastry_ground_state_energy(n_sites):
    """Ground-state energy ``-(pi^2/6)(N + 5/N)`` of :class:`~tfqsr.operators.HaldaneShastry`
    for even N, Pauli units (Haldane 1988, Shastry 1988: ``-(pi^2/24)(N + 5/N)`` for
    ``sum S_i.S_j / d_ij^2`` with ``S = sigma/2``; the Pauli form is 4 times that)."""
    if not validation.is_integer(n_sites) or n_sites < 2 or n_sites % 2:
        raise ValueError(f"n_sites must be an even integer >= 2, got {n_sites!r}")
    return float(-(np.pi**2 / 6) * (n_sites + 5 / n_sites))


def exact_energy(op):
    """Exact ground-state energy of ``op``: the closed form for a TFIM chain and for the
    Haldane–Shastry chain with even N, exact diagonalization when ``n_sites <= 20``, else None."""
    if isinstance(op, TransverseFieldIsing) and op.shape is None:
        return tfim_ground_state_energy(op.n_sites, h=op.h, J=op.J, pbc=op.pbc)
    if type(op) is HaldaneShastry and op.n_sites % 2 == 0:
        return haldane_shastry_ground_state_energy(op.n_sites)
    if op.n_sites <= MAX_ED_SITES:
        return ground_state_energy(op)
    return None


def reference_energy_per_atom(op):
    """``(energy per atom, error, source)`` of the ground state of ``op``: ``exact_energy``
    (``source`` "exact", error 0) when it is known, else the operator's published value
    (``op.qmc_energy_per_atom()``, ``source`` "qmc"), else None."""
    energy = exact_energy(op)
    if energy is not None:
        return energy / op.n_sites, 0.0, "exact"
    published = getattr(op, "qmc_energy_per_atom", lambda: None)()
    return None if published is None else (*published, "qmc")


def expectation(op_or_sparse, psi):
    """``<psi|O|psi> / <psi|psi>`` of a Hermitian ``O`` given as an Operator, a scipy sparse
    matrix or a numpy array over the full basis. Returns a float; raises ValueError when the
    result has a significant imaginary part (O not Hermitian)."""
    matrix = op_or_sparse.to_sparse() if isinstance(op_or_sparse, Operator) else op_or_sparse
    psi = np.asarray(psi)
    if psi.ndim != 1 or matrix.shape != (psi.size, psi.size):
        raise ValueError(f"psi of shape {psi.shape} does not match the operator of shape {matrix.shape}")
    norm = np.vdot(psi, psi).real
    if norm == 0:
        raise ValueError("psi must not be the zero vector")
    value = np.vdot(psi, matrix @ psi) / norm
    if abs(value.imag) > 1e-10 * max(1.0, abs(value.real)):
        raise ValueError(f"expectation value {value} is not real: the operator is not Hermitian")
    return float(value.real)


def _check_sites(sites, n_sites):
    sites = list(sites)
    if not sites:
        raise ValueError("sites must not be empty")
    if not all(validation.is_integer(s) for s in sites):
        raise ValueError(f"sites must be integers, got {sites!r}")
    if any(not 0 <= s < n_sites for s in sites):
        raise ValueError(f"sites must lie in [0, n_sites={n_sites}), got {sites!r}")
    if len(set(sites)) != len(sites):
        raise ValueError(f"sites must not repeat, got {sites!r}")
    return [int(s) for s in sites]


def _bipartition(psi, n_sites, sites):
    """Normalized ``psi`` as a matrix ``[2**|A|, 2**(N-|A|)]``: rows index the sites ``A`` in the
    given order (first site = most significant bit), columns the remaining sites in order."""
    sites = _check_sites(sites, n_sites)
    tensor = hilbert.site_tensor(psi, n_sites)
    norm = np.linalg.norm(tensor)
    if norm == 0:
        raise ValueError("psi must not be the zero vector")
    rest = [s for s in range(n_sites) if s not in sites]
    return (tensor / norm).transpose(sites + rest).reshape(2 ** len(sites), -1)


def reduced_density_matrix(psi, n_sites, sites):
    """``rho_A = Tr_{not A} |psi><psi| / <psi|psi>`` for the subsystem ``A = sites``.

    Returns a ``[2**|A|, 2**|A|]`` matrix (complex if ``psi`` is) in the basis of the sites of
    ``A`` in the given order, the first listed site being the most significant bit.
    """
    matrix = _bipartition(psi, n_sites, sites)
    return matrix @ matrix.conj().T


def renyi_entropy_exact(psi, n_sites, sites, n=2):
    """Rényi entropy ``S_n(A) = log(Tr rho_A^n) / (1 - n)`` (natural log), integer ``n >= 2``.

    Uses the Schmidt coefficients of the bipartition ``A | not A`` (``Tr rho_A^n = sum_k
    s_k^(2n)``), so it costs ``O(2**N min(2**|A|, 2**(N-|A|)))``.
    """
    if not validation.is_integer(n) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    schmidt = np.linalg.svd(_bipartition(psi, n_sites, sites), compute_uv=False)
    return float(np.log(np.sum(schmidt ** (2 * n))) / (1 - n))


def _site_expectations(psi, n_sites, pauli):
    rho = [reduced_density_matrix(psi, n_sites, [i]) for i in range(n_sites)]
    return np.array([np.trace(r @ pauli).real for r in rho])


def _pair_expectations(psi, n_sites, pauli):
    pair_operator = np.kron(pauli, pauli)
    result = np.eye(n_sites)
    for i in range(n_sites):
        for j in range(i + 1, n_sites):
            rho = reduced_density_matrix(psi, n_sites, [i, j])
            result[i, j] = result[j, i] = np.trace(rho @ pair_operator).real
    return result


def magnetization_z(psi, n_sites):
    """``[N]`` array of ``<Z_i>`` (``Z = +1`` for ``x_i = 0``) in the normalized ``psi``."""
    return _site_expectations(psi, n_sites, _PAULI_Z)


def magnetization_x(psi, n_sites):
    """``[N]`` array of ``<X_i>`` in the normalized ``psi``."""
    return _site_expectations(psi, n_sites, _PAULI_X)


def correlations_zz(psi, n_sites):
    """``[N, N]`` array of ``<Z_i Z_j>`` in the normalized ``psi`` (diagonal 1)."""
    return _pair_expectations(psi, n_sites, _PAULI_Z)


def correlations_xx(psi, n_sites):
    """``[N, N]`` array of ``<X_i X_j>`` in the normalized ``psi`` (diagonal 1)."""
    return _pair_expectations(psi, n_sites, _PAULI_X)


def _tfim_open_majorana_block(n_sites, h, J):
    """``G[j, l] = <i A_j B_l>`` in the ground state of the open TFIM chain (see below)."""
    n, h, J = _tfim_parameters(n_sites, h, J)
    coupling = np.diag(np.full(n, h)) - np.diag(np.full(n - 1, J), k=-1)  # K / 2
    u, singular_values, vt = np.linalg.svd(coupling)
    if singular_values.min() <= 1e-12 * max(1.0, singular_values.max()):
        raise ValueError(f"the open TFIM chain with h={h}, J={J} has a degenerate ground state")
    return -u @ vt


def tfim_open_chain_correlations(n_sites, h=1.0, J=1.0):
    """Exact ``<Z_i>``, ``<X_i>``, ``<Z_i Z_j>`` and ``<X_i X_j>`` in the ground state of the open
    chain ``H = -J sum_i Z_i Z_{i+1} - h sum_i X_i``, for any N, from free fermions.

    Jordan–Wigner in the ``X`` basis (as :func:`tfim_ground_state_energy`) with the Majoranas
    ``A_j = c_j + c_j^dag`` and ``B_j = i (c_j^dag - c_j)`` gives ``X_j = -i A_j B_j`` and
    ``Z_j Z_{j+1} = -i B_j A_{j+1}``, so ``H = (i/4) gamma^T M gamma`` couples only A to B, with
    ``M[A_j, B_l] = K[j, l] = 2 (h delta_jl - J delta_{j,l+1})``. The ground state's correlations
    ``Gamma = <(i/2)[gamma_k, gamma_l]> = i sign(iM)`` then have only the A-B block
    ``G = <i A B^T> = -U V^T`` for ``K = U S V^T`` (``<A_j A_l> = <B_j B_l> = delta_jl``). By Wick's
    theorem ``<X_j> = -G[j, j]``, ``<X_i X_j> = <X_i><X_j> - G[i, j] G[j, i]`` and
    ``<Z_i Z_{i+r}> = <prod_m (-i B_{i+m} A_{i+m+1})> = det[G[i+n+1, i+m]]_{m, n < r}``;
    ``<Z_i> = 0`` (the unique ground state is even under ``prod_j X_j``). Raises ValueError when
    the ground state is degenerate (a zero singular value of K).

    Returns a dict of ``magnetization_z``, ``magnetization_x`` ``[N]`` and ``zz``, ``xx``
    ``[N, N]`` (diagonals 1), as :func:`magnetization_z` etc. give from a state vector. The ZZ
    determinants cost about N^5 / 20 flops: 0.5 s at N = 100, 1 s at N = 200 (one core).
    """
    g = _tfim_open_majorana_block(n_sites, h, J)
    n = g.shape[0]
    x = -np.diag(g).copy()
    xx = np.outer(x, x) - g * g.T
    zz = np.eye(n)
    for i in range(n):
        for j in range(i + 1, n):
            zz[i, j] = zz[j, i] = np.linalg.det(g[i + 1:j + 1, i:j].T)
    np.fill_diagonal(xx, 1.0)
    return {"magnetization_z": np.zeros(n), "magnetization_x": x, "zz": zz, "xx": xx}


def tfim_open_chain_renyi_entropies(n_sites, n=2, h=1.0, J=1.0):
    """Exact Rényi entropies ``S_n`` of the cuts ``[0, l) | [l, N)``, ``l = 1..N-1``, of the open
    TFIM chain's ground state (Hamiltonian and Majoranas as :func:`tfim_open_chain_correlations`).

    The first ``l`` spins are generated by ``A_j, B_j`` with ``j < l`` (their Jordan–Wigner strings
    stay inside the block), so ``rho_A`` is Gaussian with correlations ``G[:l, :l]``. Its singular
    values ``nu_k`` give ``S_n = sum_k log[((1 + nu_k)/2)^n + ((1 - nu_k)/2)^n] / (1 - n)``
    (natural log), integer ``n >= 2``. Returns an ``[N - 1]`` array.
    """
    if not validation.is_integer(n) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    g = _tfim_open_majorana_block(n_sites, h, J)
    entropies = []
    for length in range(1, g.shape[0]):
        nu = np.clip(np.linalg.svd(g[:length, :length], compute_uv=False), 0.0, 1.0)
        entropies.append(np.sum(np.log(((1 + nu) / 2) ** n + ((1 - nu) / 2) ** n)) / (1 - n))
    return np.array(entropies)
