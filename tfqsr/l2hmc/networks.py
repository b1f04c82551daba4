"""The networks of the generalized leapfrog: (s, t, q) = Net(features, other).

A :class:`LeapfrogNetwork` reads the network features of (masked) positions, shape
[chains, *link_shape, F] (``Group.features``: cos and sin of U(1) angles, Re and Im of the SU(3)
entries), and a second array of the momentum shape [chains, *link_shape, *algebra_shape]: the
momentum v (position networks) or the force dS/dx (momentum networks). Its outputs have the
momentum shape too (one value per link for U(1), the 8 su(3) coordinates per link for SU(3)). On a
lattice (link_shape (2, nt, nx)) with ``conv_filters``, the inputs are arranged as nt x nx images
whose channels are the two directions' features and values, go through convolutions with periodic
padding (the lattice is a torus: every site sees the same neighbourhood), then through dense layers
(``units``); without ``conv_filters`` the inputs are flattened into the dense layers. Three heads
give, per link,

    s = e^{c_s} tanh(W_s h),   t = W_t h,   q = e^{c_q} tanh(W_q h),

with trainable scalars c_s, c_q (initially 0) and small initial head weights, so an untrained
sampler starts near plain leapfrog. The networks are deterministic (no dropout, no batch
statistics): a random or batch-coupled proposal would break detailed balance.
"""
import math

import keras
import tensorflow as tf


def periodic_pad(images, pad):
    """Pad [B, H, W, C] by ``pad`` on each side of H and W, wrapping around (a torus)."""
    if pad == 0:
        return images
    images = tf.concat([images[:, -pad:], images, images[:, :pad]], axis=1)
    return tf.concat([images[:, :, -pad:], images, images[:, :, :pad]], axis=2)


@keras.saving.register_keras_serializable(package="tfqsr")
class LeapfrogNetwork(keras.layers.Layer):
    """(s, t, q), each of the link shape, from (features [B, *link_shape, F], other [B, *link_shape]).

    Args:
      link_shape: the shape of one chain's links, e.g. (2, nt, nx) or (2,) for a 2D toy target.
      num_features: F, the features per link (``Group.num_features``).
      conv_filters, conv_sizes: the periodic convolutions (odd kernel sizes), only for a
        lattice link shape (2, nt, nx).
      units: widths of the dense hidden layers (ReLU).
    """

    def __init__(self, link_shape, num_features, conv_filters=(), conv_sizes=(), units=(32,),
                 algebra_shape=(), head_scale=1e-2, **kwargs):
        super().__init__(**kwargs)
        self.link_shape = tuple(int(n) for n in link_shape)
        self.num_features = int(num_features)
        self.algebra_shape = tuple(int(n) for n in algebra_shape)
        self.algebra_size = math.prod(self.algebra_shape)
        self.head_scale = float(head_scale)
        self.conv_filters = tuple(int(n) for n in conv_filters)
        self.conv_sizes = tuple(int(n) for n in conv_sizes)
        self.units = tuple(int(n) for n in units)
        if len(self.conv_filters) != len(self.conv_sizes):
            raise ValueError("conv_filters and conv_sizes must have the same length")
        if self.conv_filters and len(self.link_shape) != 3:
            raise ValueError(f"convolutions need a lattice link shape (2, nt, nx), got {self.link_shape}")
        if any(size % 2 == 0 for size in self.conv_sizes):
            raise ValueError(f"conv_sizes must be odd, got {self.conv_sizes}")
        self.num_links = math.prod(self.link_shape)

    def build(self, input_shape=None):
        self.convs = [keras.layers.Conv2D(f, k, padding="valid", activation="relu", name=f"conv_{i}",
                                         dtype=self.dtype_policy)
                      for i, (f, k) in enumerate(zip(self.conv_filters, self.conv_sizes))]
        self.hidden = [keras.layers.Dense(n, activation="relu", name=f"dense_{i}",
                                          dtype=self.dtype_policy)
                       for i, n in enumerate(self.units)]
        small = (keras.initializers.VarianceScaling(scale=self.head_scale) if self.head_scale > 0
                 else "zeros")
        self.heads = [keras.layers.Dense(self.num_links * self.algebra_size, kernel_initializer=small,
                                         name=name, dtype=self.dtype_policy)
                      for name in ("s", "t", "q")]
        width = self.num_links * (self.num_features + self.algebra_size)
        if self.conv_filters:
            height, breadth = self.link_shape[1:]
            channels = self.link_shape[0] * (self.num_features + self.algebra_size)
            for conv, size in zip(self.convs, self.conv_sizes):  # on periodic-padded images
                conv.build((None, height + size - 1, breadth + size - 1, channels))
                channels = conv.filters
            width = height * breadth * channels
        for layer in self.hidden:
            layer.build((None, width))
            width = layer.units
        for head in self.heads:
            head.build((None, width))
        # Attributes as well as lists: tf.train.Checkpoint follows attributes, not Keras lists.
        for layer in self.convs + self.hidden + self.heads:
            setattr(self, f"layer_{layer.name}", layer)
        self.log_scale_s = self.add_weight(shape=(), initializer="zeros", name="log_scale_s")
        self.log_scale_q = self.add_weight(shape=(), initializer="zeros", name="log_scale_q")
        self.built = True

    def call(self, features, other):
        batch = tf.shape(other)[0]
        dtype = self.compute_dtype
        other = tf.reshape(tf.cast(other, dtype), [batch, *self.link_shape, self.algebra_size])
        features = tf.reshape(tf.cast(features, dtype), [batch, *self.link_shape, self.num_features])
        inputs = tf.concat([features, other], axis=-1)
        # inputs: [B, *link_shape, F + A]
        if self.conv_filters:
            # [B, 2, nt, nx, F+A] -> images [B, nt, nx, 2 (F+A)]
            h = tf.transpose(inputs, [0, 2, 3, 1, 4])
            h = tf.reshape(h, [batch, self.link_shape[1], self.link_shape[2], -1])
            for conv in self.convs:
                h = conv(periodic_pad(h, conv.kernel_size[0] // 2))
        else:
            h = inputs
        h = tf.reshape(h, [batch, -1])
        for layer in self.hidden:
            h = layer(h)
        s, t, q = (tf.reshape(head(h), [batch, *self.link_shape, *self.algebra_shape])
                   for head in self.heads)
        s = tf.exp(self.log_scale_s) * tf.tanh(s)
        q = tf.exp(self.log_scale_q) * tf.tanh(q)
        return s, t, q

    def get_config(self):
        return {**super().get_config(), "link_shape": self.link_shape,
                "num_features": self.num_features, "conv_filters": self.conv_filters,
                "conv_sizes": self.conv_sizes, "units": self.units,
                "algebra_shape": self.algebra_shape, "head_scale": self.head_scale}
