"""Autoregressive wavefunctions on one base (``AutoregressiveWavefunction``)."""
from tfqsr.wavefunctions.base import AutoregressiveWavefunction
from tfqsr.wavefunctions.large_patched import LargePatchedTransformer
from tfqsr.wavefunctions.patched import PatchedTransformer, PatchTransformerCore
from tfqsr.wavefunctions.rnn import RNNWavefunction, TokenRNN
from tfqsr.wavefunctions.transformer import TransformerWavefunction

__all__ = ["AutoregressiveWavefunction", "LargePatchedTransformer", "PatchTransformerCore",
           "PatchedTransformer", "RNNWavefunction", "TokenRNN", "TransformerWavefunction"]
