"""Fixed sinusoidal positional encodings of 2D grid positions (the patched transformers').

For a position (x, y) of a grid and an even width D = 4m, half the channels encode the row x
and half the column y, each with m frequencies w_i = 10000^(-i/m), i = 0..m-1:

    PE[2i] = sin(x w_i),      PE[2i + 1] = cos(x w_i),
    PE[2m + 2i] = sin(y w_i), PE[2m + 2i + 1] = cos(y w_i).

A chain is the grid of one row (x = 0), so the same table serves words of a chain.
"""
import numpy as np

from tfqsr import validation


def sinusoidal_2d(positions, width):
    """float32 [T, width] encodings of integer grid ``positions`` [T, 2] (rows (x, y));
    ``width`` must be a multiple of 4."""
    validation.check(validation.is_integer(width) and width >= 4 and width % 4 == 0, "Nh",
                     "a multiple of 4 (the 2D positional encoding splits it into sin/cos of x and y)",
                     width)
    positions = np.asarray(positions, np.float64)
    m = width // 4
    frequencies = 10000.0 ** (-np.arange(m) / m)
    angles = positions[:, :, None] * frequencies  # [T, 2, m]
    table = np.stack([np.sin(angles), np.cos(angles)], axis=-1)  # [T, 2, m, 2]
    return table.reshape(len(positions), width).astype(np.float32)
