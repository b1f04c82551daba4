"""An exact state-vector simulator with real amplitudes, batched, one tensor axis per qubit.

A state of n qubits is a float tensor ``[B, 2, ..., 2]`` (n axes of size 2 after the batch
axis); axis ``1 + q`` is qubit q, and the basis index of a computational basis state
|x_0 x_1 ... x_{n-1}> is ``sum_q x_q 2^(n-1-q)``: qubit 0 is the most significant bit (the order
of ``numpy.kron(A_0, ..., A_{n-1})`` and of a token's bits). Every gate of the quantum recurrent
network is real (X, R_Y, controlled R_Y, controlled -iY) and postselection is a projection, so
real amplitudes suffice.

Conventions: ``R_Y(a) = [[cos a/2, -sin a/2], [sin a/2, cos a/2]]`` (so R_Y(a)|0> =
cos(a/2)|0> + sin(a/2)|1>); ``-iY = [[0, -1], [1, 0]]``. A matrix acts as ``psi'_i = sum_j
U_ij psi_j`` on its qubit. Everything is vectorized over the batch; the Python loops run over
qubits only (static, a handful).
"""
import numpy as np
import tensorflow as tf

MINUS_IY = np.array([[0.0, -1.0], [1.0, 0.0]])
X = np.array([[0.0, 1.0], [1.0, 0.0]])


def num_qubits(state):
    """Qubits of a batched state ``[B, 2, ..., 2]``."""
    return state.shape.rank - 1


def view(state, qubit):
    """``state`` as ``[B, L, 2, R]`` with ``qubit`` on axis 2 (L = 2^qubit states of the qubits
    before it, R those after it): every gate works on this rank-4 view, whatever the number of
    qubits (TensorFlow's broadcasting and ``reverse`` stop at rank 8)."""
    n = num_qubits(state)
    return tf.reshape(state, [-1, 2 ** qubit, 2, 2 ** (n - qubit - 1)])


def zero_state(batch_size, n, dtype=tf.float32):
    """|0...0> for every row: ``[batch_size] + [2] * n``."""
    first = tf.one_hot(0, 2 ** n, dtype=dtype)
    return tf.reshape(tf.tile(first[None], [batch_size, 1]), [batch_size] + [2] * n)


def ry(angle):
    """The 2x2 matrix R_Y(angle) (a scalar tensor) in the angle's dtype."""
    c, s = tf.cos(angle / 2), tf.sin(angle / 2)
    return tf.stack([tf.stack([c, -s]), tf.stack([s, c])])


def apply(state, matrix, qubit):
    """Apply a 2x2 ``matrix`` (tensor or array) to ``qubit`` of every row."""
    matrix = tf.cast(matrix, state.dtype)
    return tf.reshape(tf.einsum("yx,blxr->blyr", matrix, view(state, qubit)), tf.shape(state))


def control_mask(n, controls, dtype):
    """``[1, 2^n]``: 1 at basis states where every qubit in ``controls`` is 1, else 0."""
    index = np.arange(2 ** n)
    mask = np.all([(index >> (n - 1 - q)) & 1 for q in controls], axis=0) if controls else \
        np.ones(2 ** n, bool)
    return tf.constant(mask[None], dtype)


def apply_controlled(state, matrix, controls, qubit):
    """Apply ``matrix`` to ``qubit`` where all ``controls`` (qubits) are 1; identity elsewhere."""
    mask = control_mask(num_qubits(state), controls, state.dtype)
    flat, changed = (tf.reshape(s, [tf.shape(state)[0], -1]) for s in (state, apply(state, matrix, qubit)))
    return tf.reshape(flat + mask * (changed - flat), tf.shape(state))


def flip_where(state, bits, qubits):
    """Per row, an X gate on ``qubits[i]`` where ``bits[:, i]`` is 1 (int or bool ``[B, k]``):
    writes a classical word into qubits in |0> (and, applied again, resets them)."""
    for i, q in enumerate(qubits):
        on = tf.reshape(tf.cast(bits[:, i], tf.bool), [-1, 1, 1, 1])
        pieces = view(state, q)
        state = tf.reshape(tf.where(on, tf.reverse(pieces, [2]), pieces), tf.shape(state))
    return state


def token_bits(tokens, width):
    """The ``width`` bits of integer tokens ``[...]`` -> int32 ``[..., width]``, most
    significant first (qubit 0)."""
    shifts = tf.range(width - 1, -1, -1, dtype=tf.int32)
    return tf.bitwise.bitwise_and(tf.bitwise.right_shift(tf.cast(tokens, tf.int32)[..., None],
                                                         shifts), 1)


def probabilities(state, width):
    """Measurement probabilities of the first ``width`` qubits: ``[B, 2^width]``, index =
    their basis index (qubit 0 most significant)."""
    flat = tf.reshape(state, [tf.shape(state)[0], 2 ** width, -1])
    return tf.reduce_sum(tf.square(flat), axis=-1)


def norm_squared(state):
    """<psi|psi> of every row: ``[B]``."""
    return tf.reduce_sum(tf.square(tf.reshape(state, [tf.shape(state)[0], -1])), axis=-1)


def normalize(state):
    """Every row divided by its norm."""
    flat = tf.reshape(state, [tf.shape(state)[0], -1])
    scale = tf.math.rsqrt(tf.reduce_sum(tf.square(flat), axis=-1, keepdims=True))
    return tf.reshape(flat * scale, tf.shape(state))


def postselect(state, width, outcomes):
    """Project the first ``width`` qubits of row b on the basis state ``outcomes[b]`` (an
    integer < 2^width), renormalize and reset those qubits to |0...0> (X on the 1 bits, as the
    original does after a measurement).

    Returns (state, probabilities ``[B]`` of the outcomes before the projection).
    """
    shape = tf.shape(state)
    flat = tf.reshape(state, [shape[0], 2 ** width, -1])
    kept = tf.gather(flat, tf.cast(outcomes, tf.int32), axis=1, batch_dims=1)
    probability = tf.reduce_sum(tf.square(kept), axis=-1)
    kept = kept * tf.math.rsqrt(probability)[:, None]
    reset = tf.concat([kept[:, None], tf.zeros_like(flat[:, 1:])], axis=1)
    return tf.reshape(reset, shape), probability


def postselect_qubit(state, qubit, outcome=0):
    """Project one qubit on ``outcome`` without renormalizing or resetting (the gate-by-gate
    circuit's ancilla postselection); the norm lost is the postselection probability."""
    keep = tf.one_hot(outcome, 2, dtype=state.dtype)[None, None, :, None]
    return tf.reshape(view(state, qubit) * keep, tf.shape(state))


def sample(probabilities_, seed):
    """One outcome per row of ``probabilities_`` ``[B, d]`` (stateless int64 ``[2]`` seed):
    int32 ``[B]``."""
    logits = tf.math.log(tf.maximum(probabilities_, tf.cast(1e-30, probabilities_.dtype)))
    return tf.cast(tf.random.stateless_categorical(logits, 1, seed)[:, 0], tf.int32)
