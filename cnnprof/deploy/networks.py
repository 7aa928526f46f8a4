"""Synthetic CNNs written directly as ONNX graphs (the `onnx` helper API, no torch), for
calibrating ONNX Runtime's kernels: the same families as `cnnprof.empirical.kernels` draws
(inverted residuals with squeeze-excite, bottlenecks with grouped convolutions, basic blocks),
at the same map sides and within the same bounds, each convolution followed by BatchNorm and the
network's activation, written as exporters write them (SiLU as Sigmoid and Mul, ReLU6 as Clip).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from cnnprof.analytic.synthetic import SIDES, cap, channels, conv_width
from cnnprof.deploy.ort_nodes import onnx_modules

OPSET = 20  # Gelu is an ONNX op from opset 20
ACTIVATIONS = ("relu", "relu6", "hswish", "silu", "gelu")
GATES = ("Sigmoid", "HardSigmoid")


class Network:
    """A synthetic network being drawn as ONNX nodes: the current tensor, its channels and
    side, and how to add to it."""

    def __init__(self, rng: random.Random, batch: int) -> None:
        self.rng, self.batch = rng, batch
        self.act = rng.choice(ACTIVATIONS)
        self.c, self.side, self.x = 3, 224, "input"
        self.nodes: list[Any] = []
        self.weights: list[Any] = []
        self.count = 0

    def _name(self, stem: str) -> str:
        self.count += 1
        return f"{stem}{self.count}"

    def _weight(self, shape: tuple[int, ...], low: float = 0.0) -> str:
        """A random initializer of ``shape`` (values above ``low``), by name."""
        np, onnx = onnx_modules()
        name = self._name("w")
        values = np.random.default_rng(self.count).standard_normal(shape).astype(np.float32)
        self.weights.append(
            onnx.numpy_helper.from_array(abs(values) + low if low else values * 0.1, name)
        )
        return name

    def _constant(self, values: tuple[float, ...] | float, dtype: str = "float32") -> str:
        """An initializer holding ``values``, by name."""
        np, onnx = onnx_modules()
        name = self._name("k")
        self.weights.append(onnx.numpy_helper.from_array(np.array(values, dtype), name))
        return name

    def norm(self) -> str:
        """A BatchNormalization of the current tensor (not after a convolution: DenseNet's)."""
        c = self.c
        scales = [self._weight((c,)), self._weight((c,)), self._weight((c,))]
        self.x = self.node("BatchNormalization", [self.x, *scales, self._weight((c,), 1.0)])
        return self.x

    def node(self, op: str, inputs: list[str], **attributes: Any) -> str:
        """Append a node reading ``inputs``; its output's name."""
        _, onnx = onnx_modules()
        out = self._name(op.lower())
        self.nodes.append(onnx.helper.make_node(op, inputs, [out], name=out, **attributes))
        return out

    def activation(self, x: str, name: str) -> str:
        return ACTIVATION_NODES[name](self, x)

    def conv(
        self,
        out: int,
        kernel: int,
        stride: int = 1,
        groups: int = 1,
        act: bool = True,
        norm: bool = True,
    ) -> str:
        """A convolution (depthwise when ``groups`` is the channels), BatchNorm, activation."""
        cin = self.c
        side = (self.side + 2 * (kernel // 2) - kernel) // stride + 1
        out, groups = conv_width(out, cin, kernel, groups, side)
        w = self._weight((out, cin // groups, kernel, kernel))
        shape = {"kernel_shape": [kernel, kernel], "strides": [stride, stride]}
        self.x = self.node("Conv", [self.x, w], pads=[kernel // 2] * 4, group=groups, **shape)
        self.c, self.side = out, side
        if norm:
            self.norm()
        if act:
            self.x = self.activation(self.x, self.act)
        return self.x

    def add(self, shortcut: str, shape: tuple[int, int]) -> None:
        """The residual add, where the block kept its input's shape."""
        if (self.c, self.side) == shape:
            self.x = self.node("Add", [self.x, shortcut])

    def squeeze_excite(self) -> None:
        """Global pool, 1×1 convolution down, activation, 1×1 up, gate, scale of the input."""
        c, x = self.c, self.x
        squeeze = max(8, c // self.rng.choice((4, 16)) // 8 * 8)
        if self.rng.random() < 0.5:
            s = self.node("GlobalAveragePool", [x])
        else:  # the mean as timm writes it
            s = self.node("ReduceMean", [x, self._constant((2, 3), "int64")], keepdims=1)
        s = self.node("Conv", [s, self._weight((squeeze, c, 1, 1)), self._weight((squeeze,))])
        s = self.activation(s, self.act)
        s = self.node("Conv", [s, self._weight((c, squeeze, 1, 1)), self._weight((c,))])
        s = self.node(self.rng.choice(GATES), [s])
        self.x = self.node("Mul", [x, s])

    def pool(self) -> None:
        self.x = self.node("MaxPool", [self.x], kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4)
        self.side = (self.side - 1) // 2 + 1

    def head(self) -> None:
        classes = self.rng.choice((1000, 1000, 100, 10))
        x = self.node("GlobalAveragePool", [self.x])
        x = self.node("Flatten", [x], axis=1)
        w, b = self._weight((classes, self.c)), self._weight((classes,))
        self.x = self.node("Gemm", [x, w, b], transB=1)
        self.c = classes

    def model(self) -> Any:
        """The network as an ONNX ModelProto (batch fixed)."""
        _, onnx = onnx_modules()
        helper, floats = onnx.helper, onnx.TensorProto.FLOAT
        graph = helper.make_graph(
            self.nodes,
            "calibration",
            [helper.make_tensor_value_info("input", floats, [self.batch, 3, 224, 224])],
            [helper.make_tensor_value_info(self.x, floats, [self.batch, self.c])],
            self.weights,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
        model.ir_version = 9
        return model


def _clip(net: Network, x: str) -> str:
    return net.node("Clip", [x, net._constant(0.0), net._constant(6.0)])


ACTIVATION_NODES: Mapping[str, Callable[[Network, str], str]] = MappingProxyType(
    {
        "relu": lambda net, x: net.node("Relu", [x]),
        "relu6": _clip,
        "hswish": lambda net, x: net.node("HardSwish", [x]),
        "silu": lambda net, x: net.node("Mul", [x, net.node("Sigmoid", [x])]),
        "gelu": lambda net, x: net.node("Gelu", [x]),
    }
)


def _inverted(net: Network, out: int, stride: int) -> None:
    rng, shape, block_input = net.rng, (net.c, net.side), net.x
    expand = rng.choice((1, 3, 4, 6))
    kernel = rng.choices((3, 5, 7), (6, 3, 1))[0]
    if expand > 1:
        net.conv(min(net.c * expand, cap(net.side)), 1)
    net.conv(net.c, kernel, stride, groups=net.c)
    if rng.random() < 0.4:
        net.squeeze_excite()
    net.conv(out, 1, act=False)
    net.add(block_input, shape)


def _bottleneck(net: Network, out: int, stride: int) -> None:
    rng, shape, block_input = net.rng, (net.c, net.side), net.x
    mid = max(8, out // rng.choice((1, 2, 4)) // 8 * 8)
    width = rng.choice((0, 0, 4, 8, 16, 32))
    net.conv(mid, 1)
    groups = net.c // width if width and net.c % width == 0 else 1
    net.conv(net.c, 3, stride, groups=groups)
    net.conv(out, 1, act=False)
    net.add(block_input, shape)
    if (net.c, net.side) == shape:
        net.x = net.activation(net.x, net.act)


def _basic(net: Network, out: int, stride: int) -> None:
    shape, block_input = (net.c, net.side), net.x
    net.conv(out, 3, stride)
    net.conv(out, 3, act=False)
    net.add(block_input, shape)
    net.x = net.activation(net.x, net.act)


def _dense(net: Network, out: int, stride: int) -> None:
    """DenseNet: where the map halves, a transition (BatchNorm, activation, 1×1 convolution, 2×2
    average pool); else a dense layer (BatchNorm, activation, 1×1 convolution to 4× the growth
    with its BatchNorm and activation, 3×3 to the growth) concatenated to its input."""
    block_input, c = net.x, net.c
    net.x = net.activation(net.norm(), net.act)
    if stride == 2:
        net.conv(out, 1, norm=False, act=False)
        pool = {"kernel_shape": [2, 2], "strides": [2, 2]}
        net.x, net.side = net.node("AveragePool", [net.x], **pool), net.side // 2
        return
    growth = net.rng.choice((16, 32))
    net.conv(4 * growth, 1)
    net.conv(growth, 3, norm=False, act=False)
    net.x, net.c = net.node("Concat", [block_input, net.x], axis=1), c + net.c


BLOCKS: Mapping[str, Callable[[Network, int, int], None]] = MappingProxyType(
    {"inverted": _inverted, "bottleneck": _bottleneck, "basic": _basic, "dense": _dense}
)


def network(rng: random.Random, batch: int) -> Network:
    """One synthetic network at ``batch``, drawn from ``rng``."""
    net = Network(rng, batch)
    net.conv(channels(rng, 16, 64), rng.choices((3, 7), (3, 1))[0], 2)
    if rng.random() < 0.3:
        net.pool()
    block = BLOCKS[rng.choices(tuple(BLOCKS), (4, 2, 2, 1))[0]]
    first = True
    for side in SIDES:
        if net.side < side:
            continue
        grow = (1.0, 2.5) if first else (1.3, 2.5)
        out = min(channels(rng, int(net.c * grow[0]), int(net.c * grow[1])), cap(side))
        for index in range(rng.choice((1, 2, 2, 3))):
            block(net, out, 2 if index == 0 and net.side > side else 1)
        first = False
    net.head()
    return net
