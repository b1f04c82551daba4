"""Abstract operator: subclasses write ``connected``; local energies and sparse matrices derive.

An operator ``H`` on ``N`` spins is specified by its non-zero matrix elements row by row:
``connected(x)`` returns, for each configuration ``x`` of a batch, ``M`` configurations ``x'_m``
and elements ``H[x, x'_m]`` (``m = 0`` is the diagonal, ``x'_0 = x``), so that

    (H psi)(x) = sum_m H[x, x'_m] psi(x'_m).

Rows are padded to the fixed width ``M = max_conn`` with entries whose element is exactly 0 and
whose configuration is ``x`` itself, so any wavefunction can evaluate every entry. The basis and
its bit order are those of :mod:`tfqsr.hilbert`.
"""
import abc

import numpy as np
import scipy.sparse
import tensorflow as tf

from tfqsr import hilbert, validation

# Upper bound on the bytes of one batch of connected configurations built by `to_sparse`.
_SPARSE_BATCH_BYTES = 2**26


def connected_log_psi(wavefunction, x_conn, changed_sites):
    """log psi [B, M] of configurations ``x_conn`` [B, M, N] whose column m differs from column 0
    at most on the sites ``changed_sites[m]`` (a static tuple of M tuples of ints, see
    ``hilbert.site_sets``).

    ``wavefunction`` is an object with ``log_psi_connected`` (autoregressive models, which then
    reuse the shared prefixes), an object with ``log_psi``, or a function of configurations
    [K, N] -> log psi [K].
    """
    if hasattr(wavefunction, "log_psi_connected"):
        return wavefunction.log_psi_connected(x_conn, changed_sites)
    log_psi_fn = getattr(wavefunction, "log_psi", wavefunction)
    n_sites = x_conn.shape[-1]
    return tf.reshape(log_psi_fn(tf.reshape(x_conn, [-1, n_sites])), [-1, len(changed_sites)])


class Operator(abc.ABC):
    """A Hermitian operator on ``n_sites`` spins-1/2 with at most ``max_conn`` non-zero
    elements per row (diagonal included).

    Subclasses call ``super().__init__(n_sites, max_conn)`` and implement :meth:`connected`.
    """

    name = "operator"

    def __init__(self, n_sites, max_conn, changed_sites=None):
        self._n_sites = validation.integer("n_sites", n_sites, minimum=1)
        self._max_conn = int(max_conn)
        if changed_sites is None:
            changed_sites = ((),) + (tuple(range(self._n_sites)),) * (self._max_conn - 1)
        validation.check(len(changed_sites) == self._max_conn, "changed_sites",
                         f"a sequence of max_conn={self._max_conn} site sets", changed_sites)
        self._changed_sites = tuple(tuple(int(site) for site in sites) for sites in changed_sites)

    @property
    def n_sites(self):
        return self._n_sites

    @property
    def max_conn(self):
        """Fixed number ``M`` of connected configurations per row (diagonal at ``m = 0``)."""
        return self._max_conn

    @property
    def changed_sites(self):
        """Static tuple of M site tuples: column m of ``connected(x)`` differs from ``x`` at most
        on the sites ``changed_sites[m]`` (``()`` for the diagonal). Operators whose columns
        flip fixed sets of sites pass them exactly; the default (every site, off the diagonal)
        is always valid. Autoregressive wavefunctions map them through their token layout to
        the first token that changes and reuse the conditionals before it."""
        return self._changed_sites

    @property
    def flip_masks(self):
        """XOR masks int [M, N] when every column is a fixed flip, ``x_conn[:, m] = x ^ mask_m``
        for all x (row 0 zero), else None. Lets estimators share evaluations of psi."""
        return None

    @property
    def conserves_magnetization(self):
        """True when the operator commutes with the total ``sum_i Z_i`` (so ED can be done in a
        sector of fixed number of down spins)."""
        return False

    @abc.abstractmethod
    def connected(self, x):
        """Connected configurations and matrix elements of a batch of rows.

        Args:
          x: int32 ``[B, N]`` configurations (0/1).

        Returns:
          ``(x_conn, mels)``: int32 ``[B, M, N]`` and float64 ``[B, M]`` with
          ``mels[b, m] = H[x_b, x_conn[b, m]]``, ``x_conn[:, 0] = x`` (diagonal), padded entries
          with ``mels = 0`` and ``x_conn = x``. Pure TF ops, vectorized over the batch.
        """

    def _as_configurations(self, x):
        """``x`` as an int32 tensor ``[B, N]``, checking the static number of sites."""
        x = tf.cast(tf.convert_to_tensor(x), tf.int32)
        if x.shape.rank is not None and (x.shape.rank != 2 or x.shape[-1] not in (None, self.n_sites)):
            raise ValueError(f"x must have shape [batch, n_sites={self.n_sites}], got {x.shape}")
        return x

    def local_energy(self, log_psi_fn, x, chunk_size=None):
        """Local energies ``E_loc(x) = sum_m H[x, x'_m] exp(log psi(x'_m) - log psi(x))``.

        ``log_psi_fn`` maps int32 ``[K, N]`` to ``[K]`` (real or complex), or is a wavefunction
        (see :func:`connected_log_psi`). It is called once on all ``B * M`` connected configurations, or, with ``chunk_size``, once per chunk of
        ``chunk_size`` samples (``chunk_size * M`` configurations; the batch is padded to a
        multiple of ``chunk_size`` with the all-up configuration and the padding discarded).
        ``log psi(x)`` is taken from the diagonal entry ``m = 0``. Differences of ``log psi``
        are formed in the model's dtype and exponentiated in double precision.

        Returns:
          float64 ``[B]`` for real ``log psi``, complex128 ``[B]`` for complex ``log psi``.
        """
        x = self._as_configurations(x)
        if chunk_size is None:
            return self._local_energy_batch(log_psi_fn, x)
        validation.check(validation.is_integer(chunk_size) and chunk_size >= 1, "chunk_size",
                         "None or an integer >= 1", chunk_size)
        batch = tf.shape(x)[0]
        n_chunks = tf.maximum((batch + chunk_size - 1) // chunk_size, 1)
        padded = tf.pad(x, [[0, n_chunks * chunk_size - batch], [0, 0]])
        chunks = tf.reshape(padded, [n_chunks, chunk_size, self.n_sites])
        # The first chunk runs outside the loop: it fixes the output dtype (real or complex) for
        # the TensorArray and lets a lazily built model create its variables outside the loop.
        first = self._local_energy_batch(log_psi_fn, chunks[0])
        results = tf.TensorArray(first.dtype, size=n_chunks, element_shape=[chunk_size]).write(0, first)

        def body(i, results):
            return i + 1, results.write(i, self._local_energy_batch(log_psi_fn, chunks[i]))

        _, results = tf.while_loop(lambda i, _: i < n_chunks, body, (tf.constant(1), results))
        return tf.reshape(results.stack(), [-1])[:batch]

    def _local_energy_batch(self, log_psi_fn, x):
        mels, ratios = self.connected_ratios(log_psi_fn, x)
        return tf.reduce_sum(tf.cast(mels, ratios.dtype) * ratios, axis=1)

    def connected_ratios(self, log_psi_fn, x):
        """``(H[x, x'_m] float64 [B, M], psi(x'_m) / psi(x) [B, M])`` for int32 ``x`` [B, N],
        the ratios in double precision (real or complex like log psi), from differences of
        log psi formed in the model's dtype. ``log_psi_fn`` as in :meth:`local_energy`."""
        x_conn, mels = self.connected(x)
        log_psi = connected_log_psi(log_psi_fn, x_conn, self.changed_sites)
        delta = log_psi - log_psi[:, :1]
        return mels, tf.exp(tf.cast(delta, tf.complex128 if delta.dtype.is_complex else tf.float64))

    def to_sparse(self, n_down=None):
        """The matrix ``H[row, col]`` as ``scipy.sparse.csr_matrix`` (float64).

        Rows and columns index :func:`tfqsr.hilbert.all_configurations`, or with ``n_down``
        :func:`tfqsr.hilbert.sector_configurations` ``(n_sites, n_down)`` (requires
        :attr:`conserves_magnetization`). Built from :meth:`connected` in batches of bounded
        memory; zero elements are dropped and repeated ``(row, col)`` entries summed.
        """
        n = self.n_sites
        if n_down is None:
            basis = np.arange(2**n, dtype=np.int64)
        elif not self.conserves_magnetization:
            raise ValueError(
                f"n_down={n_down!r} requires an operator that conserves magnetization; {self!r} does not"
            )
        else:
            basis = hilbert.sector_indices(n, n_down)
            # position[index] = row of that basis index in the sector, -1 outside the sector.
            position = np.full(2**n, -1, dtype=np.int64)
            position[basis] = np.arange(basis.size)
        dim = basis.size
        batch = max(1, min(dim, _SPARSE_BATCH_BYTES // (4 * self.max_conn * n)))
        counts, cols, vals = [], [], []
        for start in range(0, dim, batch):
            x = hilbert.indices_to_configurations(basis[start:start + batch], n)
            x_conn, mels = self.connected(tf.constant(x))
            col = hilbert.configurations_to_indices(x_conn.numpy())
            mels = mels.numpy()
            keep = mels != 0
            col = col[keep]
            if n_down is not None:
                col = position[col]
                if np.any(col < 0):
                    raise RuntimeError(
                        f"{self!r} claims to conserve magnetization but connects different sectors"
                    )
            counts.append(keep.sum(axis=1))
            cols.append(col.astype(np.int32))
            vals.append(mels[keep])
        # Rows come in order, so the kept entries are already in CSR order.
        indptr = np.concatenate([[0], np.cumsum(np.concatenate(counts))])
        matrix = scipy.sparse.csr_matrix(
            (np.concatenate(vals), np.concatenate(cols), indptr), shape=(dim, dim)
        )
        matrix.sum_duplicates()
        return matrix

    def to_dense(self, n_down=None):
        """Dense float64 matrix of :meth:`to_sparse` (for small systems and tests)."""
        return self.to_sparse(n_down).toarray()

    def __repr__(self):
        return f"{type(self).__name__}(n_sites={self.n_sites})"
