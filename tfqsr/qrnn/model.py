"""``QRNN``: the quantum recurrent network along a sequence, and its losses.

Along a sequence of tokens x_0..x_{T-1} the cell (``tfqsr.qrnn.cell``) is applied T-1 times on
one state vector that starts in |0...0>: step t feeds input token t and yields the distribution
p_t of the output qubits, which is scored against target token t+1. The output qubits are then
either *postselected* on the target (projected, renormalized; the probability p_t(target) is
the postselection probability) or *measured* (an outcome sampled from p_t and projected on),
and reset to |0> for the next input. Training postselects at every step (teacher forcing);
evaluation samples at the scored positions and postselects elsewhere, so the character error
measures what the network would output on its own.

Losses at the scored positions (means over them):

    nll:   -log p_t(target)
    rvqe:  the original code's ``torch.nn.CrossEntropyLoss`` applied to the probability vector
           as if it were logits, -p_t(target) + log sum_j exp p_t(j), minus its minimum
           -1 + log(d - 1 + e) (reached at p_t = one-hot on the target), so 0 is perfect and
           the original's ``--stop-at-loss`` thresholds carry over.

The character error rate is 1 - (scored positions whose sampled token equals the target) /
(scored positions).
"""
import keras
import tensorflow as tf

from tfqsr.qrnn import simulator
from tfqsr.qrnn.architecture import rvqe_loss_minimum
from tfqsr.qrnn.cell import QRNNCell



@keras.saving.register_keras_serializable(package="tfqsr")
class QRNN(keras.Model):
    """The recurrent network of ``QRNNCell``s (same arguments; module docstring).

    ``count_params()`` is the paper's parameter count of the construction
    (``tfqsr.qrnn.cell.parameter_count``). ``call(tokens)`` returns the teacher-forced
    distributions [B, T-1, 2^I] of a sequence that is its own target; ``run`` is the general
    form (inputs and targets differ, measurement at chosen positions).
    """

    def __init__(self, workspace, input_width, stages, order, degree, **kwargs):
        cell_options = {k: kwargs.pop(k) for k in (
            "initial_bias", "initial_weights_spread", "initial_bias_spread",
            "initial_unitaries_spread") if k in kwargs}
        super().__init__(**kwargs)
        self.cell = QRNNCell(workspace, input_width, stages, order, degree, **cell_options,
                             dtype=self.dtype_policy, name="cell")
        self.built = True

    @property
    def input_width(self):
        return self.cell.input_width

    @property
    def dictionary_size(self):
        return 2 ** self.cell.input_width

    def get_config(self):
        cell = self.cell.get_config()
        return {**super().get_config(), **{k: cell[k] for k in (
            "workspace", "input_width", "stages", "order", "degree", "initial_bias",
            "initial_weights_spread", "initial_bias_spread", "initial_unitaries_spread")}}

    def run(self, inputs, targets, sampled=None, seed=None):
        """Run the sequences.

        Args:
          inputs, targets: int [B, T] tokens (< 2^I); step t feeds ``inputs[:, t]`` and scores
            ``targets[:, t + 1]``, t = 0..T-2.
          sampled: bool [B, T-1]: where the output is measured (sampled) instead of
            postselected on the target; None: postselected everywhere.
          seed: int64 [2] stateless seed of the measurements (needed with ``sampled``).

        Returns a dict: "probabilities" [B, T-1, 2^I], "outcomes" int32 [B, T-1] (the sampled
        or postselected token of every step), "postselection" [B, T-1] (the probability of
        every postselected outcome; 1 where sampled).
        """
        inputs = tf.cast(inputs, tf.int32)
        targets = tf.cast(targets, tf.int32)
        batch, steps = tf.shape(inputs)[0], tf.shape(inputs)[1] - 1
        if sampled is None:
            sampled = tf.zeros([batch, steps], tf.bool)
            seed = tf.zeros([2], tf.int64)
        sampled = tf.cast(sampled, tf.bool)
        operators = self.cell.operators()
        dtype = self.cell.phi.dtype
        state = simulator.zero_state(batch, self.cell.n_qubits, dtype)
        arrays = [tf.TensorArray(dtype, steps), tf.TensorArray(tf.int32, steps),
                  tf.TensorArray(dtype, steps)]

        def body(t, state, probabilities, outcomes, postselection):
            p, state = self.cell.step(state, inputs[:, t], operators)
            drawn = simulator.sample(p, tf.random.experimental.stateless_fold_in(seed, t))
            measured = sampled[:, t]
            outcome = tf.where(measured, drawn, targets[:, t + 1])
            state, chance = simulator.postselect(state, self.input_width, outcome)
            return (t + 1, state, probabilities.write(t, p), outcomes.write(t, outcome),
                    postselection.write(t, tf.where(measured, tf.ones_like(chance), chance)))

        static_steps = None if inputs.shape[1] is None else inputs.shape[1] - 1  # XLA needs it
        _, _, *arrays = tf.while_loop(lambda t, *_: t < steps, body, (0, state, *arrays),
                                      maximum_iterations=static_steps)
        probabilities, outcomes, postselection = (
            tf.transpose(a.stack(), [1, 0, 2] if i == 0 else [1, 0]) for i, a in enumerate(arrays))
        return {"probabilities": probabilities, "outcomes": outcomes,
                "postselection": postselection}

    def call(self, tokens):
        return self.run(tokens, tokens)["probabilities"]


def sequence_metrics(model, batch, *, loss="nll", training=True, seed=None):
    """The loss and metrics of a batch ``(inputs, targets, scored)`` (scored: bool [B, T-1],
    the positions t whose target t+1 counts).

    Training postselects everywhere; evaluation (``training=False``) samples the scored
    positions with ``seed``. Returns scalars: "loss" (mean over scored positions),
    "min_postselection" (the smallest postselection probability of the batch) and, in
    evaluation, "character_error" (module docstring).
    """
    inputs, targets, scored = batch
    scored = tf.cast(scored, tf.bool)
    out = model.run(inputs, targets, None if training else scored, seed)
    probabilities = out["probabilities"]
    target = tf.cast(targets[:, 1:], tf.int32)
    p_target = tf.gather(probabilities, target, axis=2, batch_dims=2)
    if loss == "nll":
        values = -tf.math.log(p_target)
    else:
        values = (tf.reduce_logsumexp(probabilities, axis=-1) - p_target
                  - rvqe_loss_minimum(model.dictionary_size))
    weights = tf.cast(scored, values.dtype)
    count = tf.reduce_sum(weights)
    metrics = {"loss": tf.reduce_sum(weights * values) / count,
               "min_postselection": tf.reduce_min(out["postselection"])}
    if not training:
        wrong = tf.cast(tf.not_equal(out["outcomes"], target), values.dtype)
        metrics["character_error"] = tf.reduce_sum(weights * wrong) / count
    return metrics
