"""The recurrent cell of RVQE (Bausch 2020, Fig. 3) and the parameter count of the construction.

Qubits 0..I-1 carry the input/output token (qubit 0 its most significant bit), qubits
I..I+W-1 the workspace (the recurrent memory). One step, on a state whose input/output qubits
are |0>:

1. write the input token with X gates;
2. input layer: a neuron on every workspace qubit, in turn;
3. ``stages`` times: a learned R_Y rotation on every workspace qubit, then a neuron on every
   workspace qubit;
4. reset the input with the same X gates;
5. output layer: a neuron on every input/output qubit;

and the output distribution is the measurement probabilities of the input/output qubits.
Every neuron reads all other I + W - 1 qubits (``tfqsr.qrnn.neuron``). A neuron's
renormalization multiplies each row by a number, so the state is renormalized once per layer
(after its last neuron) with the same result; a layer's norm loss stays above 2^(W(1-k)), far
from underflow.

Parameters: ``tfqsr.qrnn.architecture.parameter_count``.
"""
import math

import keras
import tensorflow as tf

from tfqsr.qrnn import neuron as neurons
from tfqsr.qrnn import simulator
from tfqsr.qrnn.architecture import check_architecture, neuron_targets


@keras.saving.register_keras_serializable(package="tfqsr")
class QRNNCell(keras.layers.Layer):
    """One step of the recurrent network (module docstring).

    Args:
      workspace, input_width, stages, order, degree: the construction (W, I, stages, neuron
        order and degree).
      initial_bias: the fixed offset added to every neuron's eta (not learned), pi/2 by default.
      initial_weights_spread, initial_bias_spread, initial_unitaries_spread: standard
        deviations of the zero-mean normal initial phi, theta and rotation angles.

    Weights: ``phi`` [neurons, subsets], ``theta`` [neurons], ``rotations`` [stages, W].
    ``call(state, tokens)`` -> (output probabilities [B, 2^I], state after the step).
    """

    def __init__(self, workspace, input_width, stages, order, degree, *, initial_bias=math.pi / 2,
                 initial_weights_spread=0.01, initial_bias_spread=0.1,
                 initial_unitaries_spread=0.01, **kwargs):
        super().__init__(**kwargs)
        check_architecture(workspace, input_width, stages, order, degree)
        self.workspace, self.input_width, self.stages = workspace, input_width, stages
        self.order, self.degree, self.initial_bias = order, degree, float(initial_bias)
        self.initial_weights_spread = float(initial_weights_spread)
        self.initial_bias_spread = float(initial_bias_spread)
        self.initial_unitaries_spread = float(initial_unitaries_spread)
        self.n_qubits = input_width + workspace
        self.targets = neuron_targets(workspace, input_width, stages)
        self.table = neurons.subset_table(self.n_qubits - 1, degree)
        normal = keras.initializers.RandomNormal
        self.phi = self.add_weight(shape=(len(self.targets), self.table.shape[1]), name="phi",
                                   initializer=normal(stddev=self.initial_weights_spread))
        self.theta = self.add_weight(shape=(len(self.targets),), name="theta",
                                     initializer=normal(stddev=self.initial_bias_spread))
        self.rotations = self.add_weight(shape=(stages, workspace), name="rotations",
                                         initializer=normal(stddev=self.initial_unitaries_spread))
        self.built = True

    def get_config(self):
        return {**super().get_config(), "workspace": self.workspace,
                "input_width": self.input_width, "stages": self.stages, "order": self.order,
                "degree": self.degree, "initial_bias": self.initial_bias,
                "initial_weights_spread": self.initial_weights_spread,
                "initial_bias_spread": self.initial_bias_spread,
                "initial_unitaries_spread": self.initial_unitaries_spread}

    def operators(self):
        """Everything a step needs that does not depend on the state, computed once per
        sequence: for every neuron its (cos^k eta, sin^k eta) tables, and the rotation
        matrices [stages, W, 2, 2]."""
        phi = tf.convert_to_tensor(self.phi)
        theta = tf.convert_to_tensor(self.theta)
        eta = 0.5 * (tf.linalg.matmul(tf.constant(self.table, phi.dtype), phi, transpose_b=True)
                     + theta + self.initial_bias)  # [2^(n-1), neurons]
        tables = [neurons.rotation_tables(self.n_qubits, target, eta[:, i], self.order)
                  for i, target in enumerate(self.targets)]
        return tables, tf.convert_to_tensor(self.rotations)

    def step(self, state, tokens, operators):
        """One step (module docstring) with ``operators()``: (probabilities, state)."""
        tables, rotations = operators
        io = list(range(self.input_width))
        bits = simulator.token_bits(tokens, self.input_width)
        state = simulator.flip_where(state, bits, io)
        neurons_ = iter(zip(self.targets, tables))

        def layer(state, count):
            for target, table in (next(neurons_) for _ in range(count)):
                state = neurons.rotate(state, target, *table)
            return simulator.normalize(state)

        state = layer(state, self.workspace)
        for stage in range(self.stages):
            for w in range(self.workspace):
                state = simulator.apply(state, simulator.ry(rotations[stage, w]), self.input_width + w)
            state = layer(state, self.workspace)
        state = simulator.flip_where(state, bits, io)
        state = layer(state, self.input_width)
        return simulator.probabilities(state, self.input_width), state

    def call(self, state, tokens):
        return self.step(state, tokens, self.operators())
