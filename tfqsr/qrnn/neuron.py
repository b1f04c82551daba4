"""The quantum neuron of Cao, Guerreschi and Aspuru-Guzik (2017) as used by RVQE (Bausch 2020),
in two forms that agree: a closed form on the state vector (used for training) and the
gate-by-gate circuit with ``order`` ancillas postselected on |0> (the reference).

A neuron on ``target`` reads its *sources*: every other qubit of the cell, in qubit order. On
the basis state with source bits x it computes

    eta(x) = 1/2 (sum_S phi_S prod_{i in S} x_i + theta + bias),

with one learned weight phi_S for every subset S of the sources of size 1..degree (ordered by
size, then lexicographically: ``subsets``), a learned theta and a fixed bias (pi/2 by default).
With k = 2^order it maps the target amplitudes (psi_0, psi_1) of that branch to

    (cos^k eta psi_0 - sin^k eta psi_1,  cos^k eta psi_1 + sin^k eta psi_0),

i.e. cos^k eta * 1 + sin^k eta * (-iY) on the target, and renormalizes the whole state: a
rotation by arctan(tan^k eta), the "activation function" that sharpens towards 0 or pi/2 as
the order grows.

The circuit: R_Y(2 eta) on ancilla 0 (controlled R_Y(phi_S) from the qubits of each S, then
R_Y(bias), R_Y(theta)), a controlled -iY from ancilla 0 onto the next lane (ancilla 1, ..., the
target last), the inverse of the rotations, postselect ancilla 0 on |0>; order > 1 repeats
this recursively around each further ancilla (Cao et al., Fig. 2), using the transpose of the
controlled -iY in the inverse half. Its postselected, renormalized state equals the closed form's.
"""
import numpy as np
import tensorflow as tf

from tfqsr.qrnn import simulator
from tfqsr.qrnn.architecture import subsets


def subset_table(n_sources, degree):
    """float ``[2^n_sources, M]``: entry (x, S) is prod_{i in S} x_i for the source bits x
    (row index x, source 0 most significant)."""
    bits = (np.arange(2 ** n_sources)[:, None] >> np.arange(n_sources - 1, -1, -1)) & 1
    return np.stack([bits[:, list(s)].all(axis=1) for s in subsets(n_sources, degree)],
                    axis=1).astype(np.float64)


def eta(table, phi, theta, bias):
    """eta for every source configuration: ``[2^n_sources]`` from ``subset_table``."""
    table = tf.constant(table, phi.dtype)
    return 0.5 * (tf.linalg.matvec(table, phi) + theta + bias)


def rotation_tables(n_qubits, target, eta_values, order):
    """(cos^k eta, sin^k eta), k = 2^order, each shaped ``[1, L, 1, R]`` to broadcast against
    the target's ``simulator.view`` (the sources before the target index L, those after R)."""
    k = 2 ** order
    shape = [1, 2 ** target, 1, 2 ** (n_qubits - 1 - target)]
    return tf.reshape(tf.cos(eta_values) ** k, shape), tf.reshape(tf.sin(eta_values) ** k, shape)


def rotate(state, target, cos_k, sin_k):
    """cos^k * psi + sin^k * (-iY on target) psi, not renormalized: a linear map, so the
    renormalizations of several neurons in a row can be done once, after the last."""
    pieces = simulator.view(state, target)
    zero, one = pieces[:, :, :1], pieces[:, :, 1:]
    rotated = tf.concat([cos_k * zero - sin_k * one, cos_k * one + sin_k * zero], axis=2)
    return tf.reshape(rotated, tf.shape(state))


def apply_rotation(state, target, cos_k, sin_k):
    """The closed-form neuron with its tables: ``rotate``, renormalized."""
    return simulator.normalize(rotate(state, target, cos_k, sin_k))


def neuron(state, target, phi, theta, *, bias, order, degree):
    """The closed-form neuron on ``target`` of a batched state (all its qubits are sources)."""
    n = simulator.num_qubits(state)
    values = eta(subset_table(n - 1, degree), phi, theta, bias)
    return apply_rotation(state, target, *rotation_tables(n, target, values, order))


def neuron_circuit(state, target, ancillas, phi, theta, *, bias, degree, sources):
    """The gate-by-gate neuron: ``state`` holds the cell's qubits and ``ancillas`` (their qubit
    indices, len = order, all in |0>); ``sources`` are the qubits read (in the order of
    ``subsets``). Returns (renormalized state with the ancillas back in |0>, the probability
    of postselecting every ancilla on |0> ``[B]``)."""
    before = simulator.norm_squared(state)
    lanes = list(ancillas) + [target]
    rotations = [(tuple(sources[i] for i in s), phi[m])
                 for m, s in enumerate(subsets(len(sources), degree))]
    rotations += [((), tf.constant(bias, phi.dtype)), ((), theta)]

    def rotate(state, inverse):
        for controls, angle in (reversed(rotations) if inverse else rotations):
            matrix = simulator.ry(-angle if inverse else angle)
            state = simulator.apply_controlled(state, matrix, controls, lanes[0])
        return state

    def stage(state, level, transposed):
        if level == 0:
            state = rotate(state, inverse=False)
            state = simulator.apply_controlled(
                state, simulator.MINUS_IY.T if transposed else simulator.MINUS_IY, [lanes[0]], lanes[1])
            state = rotate(state, inverse=True)
        else:
            state = stage(state, level - 1, False)
            state = simulator.apply_controlled(
                state, simulator.MINUS_IY.T if transposed else simulator.MINUS_IY,
                [lanes[level]], lanes[level + 1])
            state = stage(state, level - 1, True)
        return simulator.postselect_qubit(state, lanes[level], 0)

    state = stage(state, len(ancillas) - 1, False)
    probability = simulator.norm_squared(state) / before
    return simulator.normalize(state), probability
