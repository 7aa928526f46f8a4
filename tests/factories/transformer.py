"""A user's model with nn.TransformerEncoderLayer (attention weights live outside any leaf)."""

from torch import nn


def make() -> nn.Module:
    return nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, batch_first=True)
