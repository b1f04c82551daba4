"""Keras layers shared by several models."""
from tfqsr.layers.decoder_block import TransformerDecoderBlock
from tfqsr.layers.relative_attention import RelativeMultiHeadAttention

__all__ = ["RelativeMultiHeadAttention", "TransformerDecoderBlock"]
