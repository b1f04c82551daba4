"""The construction of the RVQE network as numbers, without TensorFlow: which qubit each neuron
acts on, its weights, the parameter count, and the checks of the construction's integers
(entry points validate with these before TensorFlow loads).

A cell of I input/output and W workspace qubits has N = W (input layer) + stages * W + I
(output layer) neurons; each reads the other I + W - 1 qubits and has one weight phi_S per
subset S of them of size 1..degree plus a bias theta, so

    parameters = N * (sum_{k=1}^{degree} C(I + W - 1, k) + 1) + stages * W

(the last term: one R_Y angle per workspace qubit and stage).
"""
import itertools
import math

from tfqsr import validation

LOSSES = ("nll", "rvqe")
MAX_QUBITS = 20  # a 2^n state vector per sequence


def subsets(n_sources, degree):
    """Index subsets of ``range(n_sources)`` of sizes 1..degree (by size, then lexicographic):
    one weight phi_S each."""
    return [s for size in range(1, degree + 1) for s in itertools.combinations(range(n_sources), size)]


def weights_per_neuron(n_qubits, degree):
    """Learned parameters of one neuron in a cell of ``n_qubits``: sum_{k=1}^{degree}
    C(n_qubits - 1, k) weights phi_S and one theta."""
    return sum(math.comb(n_qubits - 1, k) for k in range(1, degree + 1)) + 1


def neuron_targets(workspace, input_width, stages):
    """The target qubit of every neuron of a cell, in the order they act."""
    space = list(range(input_width, input_width + workspace))
    return space + space * stages + list(range(input_width))


def parameter_count(workspace, input_width, stages, degree):
    """Learned parameters of ``QRNN``/``QRNNCell`` (module docstring)."""
    count = len(neuron_targets(workspace, input_width, stages))
    return count * weights_per_neuron(input_width + workspace, degree) + stages * workspace


def check_architecture(workspace, input_width, stages, order, degree, prefix=""):
    """Validate the construction's integers (ConfigError naming ``prefix`` + the argument:
    entry points pass "--")."""
    validation.integer(prefix + "workspace", workspace, 1)
    validation.integer(prefix + "input_width", input_width, 1)
    validation.integer(prefix + "stages", stages, 0)
    validation.integer(prefix + "order", order, 1)
    validation.integer(prefix + "degree", degree, 1)
    validation.check(input_width + workspace <= MAX_QUBITS, prefix + "workspace",
                     f"at most {MAX_QUBITS} - {input_width} (the input width) qubits", workspace)
    validation.check(degree <= input_width + workspace - 1, prefix + "degree",
                     f"at most the number of sources, {input_width + workspace - 1}", degree)


def rvqe_loss_minimum(dictionary_size):
    """The smallest value of cross entropy over a probability vector used as logits,
    -1 + log(d - 1 + e), reached at a one-hot vector."""
    return -1.0 + math.log(dictionary_size - 1 + math.e)
