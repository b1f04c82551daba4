"""Autoregressive wavefunctions on one base (``AutoregressiveWavefunction``)."""
from tfqsr.wavefunctions.base import AutoregressiveWavefunction
from tfqsr.wavefunctions.transformer import TransformerWavefunction

__all__ = ["AutoregressiveWavefunction", "TransformerWavefunction"]
