"""A torch module exported with torch's own exporter (TorchScript, ``dynamo=False``; eval mode, so
BatchNorm is folded into the convolution before it) counts, from its file, with the MACs of the
torch count of the module exactly; its parameters differ by exactly what folding removed: each
BatchNorm's γ and β (2·C) went into its convolution's weights and a new bias of C."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytestmark = [pytest.mark.torch, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

from torch import nn  # noqa: E402

import cnnprof  # noqa: E402
from cnnprof.deploy.graph import count  # noqa: E402


class Block(nn.Module):
    """Conv → BN → ReLU, depthwise → BN → ReLU6, 1×1 → BN → Hardswish, a residual add, global
    pool and a classifier: what a mobile CNN is made of."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8))
        self.dw = nn.Sequential(
            nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False), nn.BatchNorm2d(8), nn.ReLU6()
        )
        self.pw = nn.Sequential(nn.Conv2d(8, 8, 1, bias=False), nn.BatchNorm2d(8), nn.Hardswish())
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.stem(x))
        return self.head(x + self.pw(self.dw(x)))


class Attention(nn.Module):
    """Single-head self-attention over 5 tokens of 16 features, then LayerNorm: Linear on a
    sequence (MatMul + Add), Q·Kᵀ and P·V between activations, softmax."""

    def __init__(self) -> None:
        super().__init__()
        self.qkv = nn.Linear(16, 48)
        self.norm = nn.LayerNorm(16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        attention = torch.softmax(q @ k.transpose(-2, -1) / 4.0, dim=-1)
        return self.norm(attention @ v + x)


def exported(module: nn.Module, shape: tuple[int, ...], folder: Path) -> str:
    path = folder / "model.onnx"
    torch.onnx.export(module.eval(), (torch.randn(1, *shape),), str(path), dynamo=False)
    return str(path)


def test_an_exported_cnn_counts_as_torch_counts_it(tmp_path: Path):
    module = Block()
    torch_count = cnnprof.count(module, input=(3, 16, 16))
    onnx_count = count(exported(module, (3, 16, 16), tmp_path))
    assert onnx_count.complete, onnx_count.unsupported
    assert onnx_count.macs == torch_count.macs
    # three BatchNorms of 8 channels folded: γ, β (48) gone, three new conv biases (24) added
    assert torch_count.params - onnx_count.params == 48 - 24
    assert onnx_count.params_by_kind["norm"] == 0 and onnx_count.buffers == 0


def test_an_exported_attention_counts_as_torch_counts_it(tmp_path: Path):
    module = Attention()
    torch_count = cnnprof.count(module, input=(5, 16))
    onnx_count = count(exported(module, (5, 16), tmp_path))
    assert onnx_count.complete, onnx_count.unsupported
    # qkv 5·16·48 = 3,840; Q·Kᵀ 5·5·16 = 400; P·V 5·16·5 = 400: 4,640 MACs
    assert onnx_count.macs == torch_count.macs == 4640
    assert onnx_count.params == torch_count.params == 16 * 48 + 48 + 2 * 16
