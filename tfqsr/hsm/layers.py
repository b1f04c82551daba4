"""Hilbert space models as Keras layers: ``GeneralHSM``, ``PauliHSM`` and ``FeatureWeights``.

A layer holds K Hermitian d×d input operators A_k and J output operators B_j. For a batch of
data points x ``[B, K]`` it builds the error Hamiltonians H(x) = ½ Σ_k (A_k − x_k I)² (one
``[B, d, d]`` tensor, ``tfqsr.hsm.spectral``), decomposes them in one batched ``eigh`` and
returns the predictions ŷ_j = Tr(ρ(x) B_j) ``[B, J]``:

- ``beta=None``: ρ = |ψ_0(x)⟩⟨ψ_0(x)|, the ground state, so ŷ_j = ⟨ψ_0|B_j|ψ_0⟩;
- ``beta`` a number: the thermal state ρ = e^{−βH}/Z at inverse temperature β (in units of
  1/energy, the energy being H's: squared feature units). This is our reading of the PyTorch
  guide's "mixing parameter": ρ mixes the eigenstates with Boltzmann weights e^{−βλ_i}/Z, a
  small β mixes many, and β → ∞ recovers the ground state.

``eigh_eps`` (energy units) is added to H's diagonal before the decomposition (which shifts
every eigenvalue and changes no state) and is the broadening ε of the ground-state gradient
Γ_0j = (λ_0 − λ_j)/((λ_0 − λ_j)² + ε²), finite at a degenerate spectrum.

``joint_energy(x, y)`` is the ground (or free) energy of the joint Hamiltonian
½ Σ_k (A_k − x_k)² + ½ Σ_j (B_j − y_j)², the training objective of ``hsm_model =
"general_fullenergy"`` (its gradient is Tr(ρ ∂H), Hellmann–Feynman).

Operators are complex (``complex=True``, and always for Pauli strings, Y being imaginary) in
complex64, or complex128 when the layer computes in float64.
"""
import keras
import numpy as np
import tensorflow as tf

from tfqsr import validation
from tfqsr.hsm import spectral


class _HilbertSpaceModel(keras.layers.Layer):
    """The shared part of both layers: the state, the predictions and the joint energy.
    Subclasses create their weights in ``build`` and implement ``operators()``."""

    def __init__(self, input_operator_count, output_operator_count, *, beta=None, eigh_eps=1e-8,
                 **kwargs):
        super().__init__(**kwargs)
        self.input_operator_count = validation.integer(
            "input_operator_count", input_operator_count, 1)
        self.output_operator_count = validation.integer(
            "output_operator_count", output_operator_count, 1)
        if beta is not None:
            validation.check(validation.real("beta", beta) > 0, "beta", "None or a number > 0", beta)
            beta = float(beta)
        self.beta = beta
        validation.check(validation.real("eigh_eps", eigh_eps) >= 0, "eigh_eps", "a number >= 0",
                         eigh_eps)
        self.eigh_eps = float(eigh_eps)

    @property
    def complex_dtype(self):
        return tf.complex128 if self.compute_dtype == "float64" else tf.complex64

    def operators(self):
        """(input operators ``[K, d, d]``, output operators ``[J, d, d]``), Hermitian."""
        raise NotImplementedError

    def state(self, x):
        """(ρ ``[B, d, d]``, energy ``[B]``) of the error Hamiltonians of ``x`` ``[B, K]``."""
        inputs, _ = self.operators()
        x = tf.cast(x, self.compute_dtype)
        return spectral.spectral_state(spectral.error_hamiltonians(inputs, x, self.eigh_eps),
                                       self.beta, self.eigh_eps)

    def call(self, x):
        rho, _ = self.state(x)
        return spectral.expectations(rho, self.operators()[1])

    def joint_energy(self, x, y):
        """Energy ``[B]`` of ½ Σ_k (A_k − x_k)² + ½ Σ_j (B_j − y_j)² (module docstring)."""
        inputs, outputs = self.operators()
        joint = tf.concat([tf.cast(x, self.compute_dtype), tf.cast(y, self.compute_dtype)], axis=-1)
        hamiltonians = spectral.error_hamiltonians(tf.concat([inputs, outputs], 0), joint,
                                                   self.eigh_eps)
        return spectral.spectral_state(hamiltonians, self.beta, self.eigh_eps)[1]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_operator_count)

    def get_config(self):
        return {**super().get_config(), "input_operator_count": self.input_operator_count,
                "output_operator_count": self.output_operator_count, "beta": self.beta,
                "eigh_eps": self.eigh_eps}


@keras.saving.register_keras_serializable(package="tfqsr")
class GeneralHSM(_HilbertSpaceModel):
    """A Hilbert space model with general Hermitian d×d operators (module docstring).

    Each operator is diag(D) + U + U† from a real diagonal D (``input_diags`` ``[K, d]``,
    ``output_diags`` ``[J, d]``) and a strictly upper triangle U (``input_trius``,
    ``output_trius``: ``[K or J, d(d−1)/2]`` real, or ``[.., d(d−1)/2, 2]`` real and imaginary
    parts when ``complex``), initialized N(0, 1) on the diagonal and N(0, 1/(2d)) off it.

    Args:
      input_operator_count: K, the number of features.
      output_operator_count: J, the number of outputs (targets, or classes' logits).
      hilbert_space_dims: d >= 2.
      complex: complex Hermitian (True) or real symmetric operators.
      beta, eigh_eps: see the module docstring.
    """

    def __init__(self, input_operator_count, output_operator_count, hilbert_space_dims,
                 complex=True, beta=None, eigh_eps=1e-8, **kwargs):
        super().__init__(input_operator_count, output_operator_count, beta=beta,
                         eigh_eps=eigh_eps, **kwargs)
        self.hilbert_space_dims = validation.integer("hilbert_space_dims", hilbert_space_dims, 2)
        self.complex = bool(complex)

    def build(self, input_shape):
        d = self.hilbert_space_dims
        triangle = (d * (d - 1) // 2,) + ((2,) if self.complex else ())
        off_diagonal = keras.initializers.RandomNormal(stddev=(2.0 * d) ** -0.5)
        for prefix, count in (("input", self.input_operator_count),
                              ("output", self.output_operator_count)):
            setattr(self, f"{prefix}_diags", self.add_weight(
                shape=(count, d), initializer=keras.initializers.RandomNormal(stddev=1.0),
                name=f"{prefix}_diags"))
            setattr(self, f"{prefix}_trius", self.add_weight(
                shape=(count,) + triangle, initializer=off_diagonal, name=f"{prefix}_trius"))

    def operators(self):
        dtype = self.complex_dtype if self.complex else None
        return tuple(spectral.hermitian_from_parts(
            tf.cast(getattr(self, f"{p}_diags"), self.compute_dtype),
            tf.cast(getattr(self, f"{p}_trius"), self.compute_dtype), dtype)
            for p in ("input", "output"))

    def get_config(self):
        return {**super().get_config(), "hilbert_space_dims": self.hilbert_space_dims,
                "complex": self.complex}


@keras.saving.register_keras_serializable(package="tfqsr")
class PauliHSM(_HilbertSpaceModel):
    """A Hilbert space model on n qubits (d = 2^n) whose operators are real combinations of
    Pauli strings: A_k = Σ_s c_ks P_s over the strings with at most w non-identity factors,
    identity included (Σ_{j=0}^{w} C(n, j)·3^j terms; w = None: all 4^n). Weights
    ``input_pauli_coeffs`` ``[K, T_in]`` and ``output_pauli_coeffs`` ``[J, T_out]``, initialized
    N(0, 1/T). The strings are a constant sparse ``[d², T]`` matrix (one nonzero per string and
    column, ``spectral.pauli_sparse_basis``), so building the operators is one sparse-dense
    product, never a loop over strings.

    Args:
      input_operator_count, output_operator_count: K and J.
      qubits_count: n >= 1.
      input_operator_pauli_weight, output_operator_pauli_weight: w in 1..n, or None (all).
      beta, eigh_eps: see the module docstring.
    """

    def __init__(self, input_operator_count, output_operator_count, qubits_count,
                 input_operator_pauli_weight=None, output_operator_pauli_weight=None, beta=None,
                 eigh_eps=1e-8, **kwargs):
        super().__init__(input_operator_count, output_operator_count, beta=beta,
                         eigh_eps=eigh_eps, **kwargs)
        self.qubits_count = validation.integer("qubits_count", qubits_count, 1)
        for name, weight in (("input_operator_pauli_weight", input_operator_pauli_weight),
                             ("output_operator_pauli_weight", output_operator_pauli_weight)):
            if weight is not None:
                validation.integer(name, weight, 1, self.qubits_count)
        self.input_operator_pauli_weight = input_operator_pauli_weight
        self.output_operator_pauli_weight = output_operator_pauli_weight

    def build(self, input_shape):
        self._bases = {}
        for prefix, count, weight in (
                ("input", self.input_operator_count, self.input_operator_pauli_weight),
                ("output", self.output_operator_count, self.output_operator_pauli_weight)):
            codes = spectral.pauli_strings(self.qubits_count, weight)
            self._bases[prefix] = spectral.pauli_sparse_basis(codes)
            setattr(self, f"{prefix}_pauli_coeffs", self.add_weight(
                shape=(count, len(codes)),
                initializer=keras.initializers.RandomNormal(stddev=len(codes) ** -0.5),
                name=f"{prefix}_pauli_coeffs"))

    def _combine(self, prefix):
        indices, real, imaginary = self._bases[prefix]
        coeffs = tf.cast(getattr(self, f"{prefix}_pauli_coeffs"), self.compute_dtype)
        d = 2 ** self.qubits_count
        shape = (d * d, coeffs.shape[1])
        parts = [tf.sparse.sparse_dense_matmul(
            tf.SparseTensor(indices, tf.constant(values, self.compute_dtype), shape),
            coeffs, adjoint_b=True) for values in (real, imaginary)]
        flat = tf.complex(*parts)  # [d², K]
        return tf.transpose(tf.reshape(flat, (d, d, -1)), (2, 0, 1))

    def operators(self):
        return self._combine("input"), self._combine("output")

    def get_config(self):
        return {**super().get_config(), "qubits_count": self.qubits_count,
                "input_operator_pauli_weight": self.input_operator_pauli_weight,
                "output_operator_pauli_weight": self.output_operator_pauli_weight}


@keras.saving.register_keras_serializable(package="tfqsr")
class FeatureWeights(keras.layers.Layer):
    """x_k ↦ w_k x_k with learnable per-feature weights ``input_weights`` ``[K]`` (initialized to
    1): the guide's ``weighted_layer``, applied to the standardized features before the HSM."""

    def build(self, input_shape):
        self.input_weights = self.add_weight(shape=(input_shape[-1],), initializer="ones",
                                             name="input_weights")

    def call(self, x):
        return x * tf.cast(self.input_weights, x.dtype)
