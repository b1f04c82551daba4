"""Saliency of autoregressive wavefunctions: how much the prediction at position i depends on the
input token j (Zhang & Di Ventra, "Transformer quantum state", PRB 107, 075147 (2023)).

Every metric is an [T, T] matrix M[i, j] (T tokens; i the predicted position, j the input token)
averaged over a batch of samples x. The target of the gradient metrics is

    l_i(x) = log p(t_i | t_<i),

the log-conditional of the token that was actually sampled at i (the amplitude only: the phase
head, if any, is not part of the target). Because the model is autoregressive the conditional at
i depends only on the tokens j < i, so M[i, j] = 0 for j >= i; the last token T - 1 is never an
input and its column is zero.

* Spin-flip propagation: M[i, j] = JSD(p_i(. | x), p_i(. | x with token j flipped)), the
  Jensen–Shannon divergence (natural log, at most log 2) of the two conditional distributions
  at i, mixed as probabilities: JSD(P, Q) = (KL(P||M) + KL(Q||M)) / 2 with M = (P + Q) / 2.
  "Flipping" a token of w spins flips all its spins (token -> token XOR (d - 1)).
* Input x gradient: M[i, j] = || X_j * grad_{X_j} l_i ||_2, with X_j the decoder input that
  carries token j (embedding plus position embedding; row j + 1 of ``embed``).
* Integrated attention x gradient: with A^{lh} the attention weights of layer l and head h,

      M[i, j] = 1/(L H) sum_{l,h} A^{lh}_{i,j+1} int_0^1 dalpha ReLU(dl_i/dA^{lh}_{i,j+1}(alpha A)),

  where l_i(alpha A) is the model with every layer's attention weights replaced by alpha A
  (``attention_override``). Key j + 1 is the decoder row of input token j; the start token's
  key (row 0) is not an input token and is left out. The integral is the midpoint Riemann sum
  over alpha_s = (s + 1/2) / S, s = 0..S-1, whose error is O(1/S^2). Without the ReLU, and
  summed over every entry of every attention matrix, the integrand integrates to
  l_i(A) - l_i(0) (completeness; :func:`integrated_attention_completeness`).

The gradient metrics need the transformer's ``embed(tokens)`` and ``decode(h,
attention_override=..., return_attention_scores=...)``; spin-flip propagation only
``conditionals(tokens)``, so it applies to every autoregressive wavefunction.
"""
import numpy as np
import tensorflow as tf

from tfqsr.analysis.statistics import draw_samples, map_batches

# Floats held by the largest per-chunk tensor (about 256 MiB of float32).
_CHUNK_FLOATS = 2**26
# Jacobians loop over the T targets in a tf.while_loop (one backward pass each, sharing the
# forward pass) instead of vectorizing them with pfor: with oneDNN on, TF 2.21's pfor jacobian of
# this model corrupts the heap for a batch of one sample (a crash, or silently wrong values).
_PFOR = False
METRICS = ("spin_flip", "input_x_gradient", "integrated_attention_gradient")


def _tokens(model, samples):
    samples = np.asarray(samples)
    if samples.ndim != 2 or samples.shape[1] != model.n_sites or samples.shape[0] < 1:
        raise ValueError(f"samples must have shape [n >= 1, n_sites={model.n_sites}], got {samples.shape}")
    return model.layout.to_tokens(samples.astype(np.int32))


def require_gradient_saliency(model):
    """TypeError unless ``model`` has the ``embed``/``decode`` interface of the transformer,
    which the gradient and attention saliency maps need."""
    if not (hasattr(model, "embed") and hasattr(model, "decode")):
        raise TypeError(
            f"{type(model).__name__} has no embed(tokens)/decode(h, attention_override=...): the "
            "gradient saliency metrics need a TransformerWavefunction-like model")


def _sampled_log_conditionals(log_cond, tokens):
    """l_i = log p(t_i | t_<i) [B, T] of the tokens ``tokens`` [B, T]."""
    return tf.gather(log_cond, tokens, batch_dims=2)


def _chunk_rows(floats_per_sample):
    return max(1, _CHUNK_FLOATS // floats_per_sample)


def _batch_mean(chunks):
    """Mean over samples of per-sample matrices given in chunks [c, T, T]."""
    total, count = 0.0, 0
    for values in chunks:
        total = total + values.sum(axis=0, dtype=np.float64)
        count += len(values)
    return total / count


def jensen_shannon(log_p, log_q):
    """JSD(P, Q) over the last axis from log-probabilities, natural log, in [0, log 2].

    Computed from probabilities in double precision, so identical inputs give exactly 0.
    """
    p = tf.exp(tf.cast(log_p, tf.float64))
    q = tf.exp(tf.cast(log_q, tf.float64))
    m = 0.5 * (p + q)

    def kl_to_m(a):
        return tf.reduce_sum(tf.where(a > 0, a * tf.math.log(a / tf.where(a > 0, m, 1.0)), 0.0), -1)

    return 0.5 * (kl_to_m(p) + kl_to_m(q))


def spin_flip_propagation(model, samples, *, verbose=0):
    """Spin-flip propagation M[i, j] [T, T] averaged over ``samples`` [n, N] (module docstring)."""
    tokens = _tokens(model, samples)
    rows = _chunk_rows(model.n_tokens**2 * (model.dictionary_size + 64))
    return _batch_mean(map_batches(lambda t: _spin_flip_chunk(model, t), [tokens], rows,
                                   verbose=verbose))


@tf.function(reduce_retracing=True)
def _spin_flip_chunk(model, tokens):
    n_tokens, d = model.n_tokens, model.dictionary_size
    # Variant v = 0 is the original, v = j + 1 has token j flipped (XOR d - 1); one call of the
    # model evaluates them all, so positions i <= j see bitwise the same inputs.
    flips = tf.constant(np.eye(n_tokens + 1, n_tokens, k=-1, dtype=np.int32) * (d - 1))
    variants = tf.bitwise.bitwise_xor(tokens[:, None], flips[None])  # [c, T + 1, T]
    log_cond = model.conditionals(tf.reshape(variants, [-1, n_tokens]))[0]
    log_cond = tf.reshape(log_cond, [-1, n_tokens + 1, n_tokens, d])
    divergence = jensen_shannon(log_cond[:, :1], log_cond[:, 1:])  # [c, j, i]
    return tf.transpose(divergence, [0, 2, 1])


def input_times_gradient(model, samples, *, verbose=0):
    """Input x gradient M[i, j] = ||X_j * grad_{X_j} l_i||_2 [T, T] averaged over ``samples``."""
    require_gradient_saliency(model)
    tokens = _tokens(model, samples)
    rows = _chunk_rows(8 * model.n_tokens**2 * model.d_model)
    return _batch_mean(map_batches(lambda t: _input_times_gradient_chunk(model, t), [tokens], rows,
                                   verbose=verbose))


@tf.function(reduce_retracing=True)
def _input_times_gradient_chunk(model, tokens):
    h = model.embed(tokens)
    with tf.GradientTape() as tape:
        tape.watch(h)
        target = _sampled_log_conditionals(model.decode(h)[0], tokens)
    jacobian = tape.batch_jacobian(target, h, experimental_use_pfor=_PFOR)  # [c, T_i, T_rows, D]
    norms = tf.norm(jacobian * h[:, None], axis=-1)  # [c, i, row]
    # Input token j sits in row j + 1; the last token is never an input.
    return tf.pad(norms[:, :, 1:], [[0, 0], [0, 0], [0, 1]])


def _integrated_attention(model, tokens, steps, verbose):
    """Yield per chunk (saliency [c, T, T], sum of all unrectified attributions [c, T],
    l(A) - l(0) [c, T]) of the integrated attention x gradient with ``steps`` midpoint steps."""
    require_gradient_saliency(model)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps (Riemann-sum steps) must be an integer >= 1, got {steps!r}")
    rows = _chunk_rows(4 * len(model.blocks) * model.num_heads * model.n_tokens**3)
    yield from map_batches(lambda t: _integrated_attention_chunk(model, t, steps), [tokens], rows,
                           verbose=verbose)


@tf.function(reduce_retracing=True)
def _integrated_attention_chunk(model, tokens, steps):
    n_layers, n_heads = len(model.blocks), model.num_heads
    h = model.embed(tokens)
    log_cond, _, attention = model.decode(h, return_attention_scores=True)
    attention = tf.stop_gradient(tf.stack(attention, axis=1))  # [c, L, H, T_q, T_k]
    unscaled = _sampled_log_conditionals(log_cond, tokens)

    def target(weights):
        log_cond = model.decode(h, tf.unstack(weights, num=n_layers, axis=1))[0]
        return _sampled_log_conditionals(log_cond, tokens)

    def step(s, rectified, total):
        scaled = attention * ((tf.cast(s, tf.float32) + 0.5) / steps)
        with tf.GradientTape() as tape:
            tape.watch(scaled)
            l_i = target(scaled)
        jacobian = tape.batch_jacobian(l_i, scaled)  # [c, T_i, L, H, T_q, T_k]
        # Keep the attention row q = i of l_i: diag_part over the last two axes (i, q).
        diagonal = tf.linalg.diag_part(tf.transpose(jacobian, [0, 2, 3, 5, 1, 4]))
        rectified += tf.nn.relu(tf.transpose(diagonal, [0, 1, 2, 4, 3]))
        total += tf.einsum("blhqk,bilhqk->bi", attention, jacobian)
        return s + 1, rectified, total

    _, rectified, total = tf.while_loop(
        lambda s, *_: s < steps, step,
        (tf.constant(0), tf.zeros_like(attention), tf.zeros_like(unscaled)))
    # [c, i, key] averaged over steps, layers and heads; key row j + 1 holds input token j.
    saliency = tf.reduce_sum(attention * rectified, axis=[1, 2]) / (steps * n_layers * n_heads)
    saliency = tf.pad(saliency[:, :, 1:], [[0, 0], [0, 0], [0, 1]])
    return saliency, total / steps, unscaled - target(tf.zeros_like(attention))


def integrated_attention_gradient(model, samples, *, steps=20, verbose=0):
    """Integrated attention x gradient M[i, j] [T, T] averaged over ``samples`` (``steps``
    midpoint Riemann steps; module docstring)."""
    tokens = _tokens(model, samples)
    return _batch_mean(s for s, _, _ in _integrated_attention(model, tokens, steps, verbose))


def integrated_attention_completeness(model, samples, *, steps=20):
    """Completeness check of the integrated gradients, per sample and position: returns
    ``(attribution, difference)``, both [n, T], where ``attribution`` is the unrectified
    sum over all layers, heads and attention entries of A * (Riemann mean of dl_i/dA(alpha A))
    and ``difference`` is l_i(A) - l_i(0); they agree up to the O(1/steps^2) Riemann error."""
    parts = list(_integrated_attention(model, _tokens(model, samples), steps, 0))
    return np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts])


def saliency_maps(model, samples=None, *, n_samples=64, seed=0, steps=20, verbose=0):
    """All three metrics, a dict name -> [T, T] (names in ``METRICS``), on ``samples`` or on
    ``n_samples`` samples drawn with the stateless ``seed``."""
    if samples is None:
        samples = draw_samples(model, n_samples, seed)
    return {"spin_flip": spin_flip_propagation(model, samples, verbose=verbose),
            "input_x_gradient": input_times_gradient(model, samples, verbose=verbose),
            "integrated_attention_gradient": integrated_attention_gradient(
                model, samples, steps=steps, verbose=verbose)}
