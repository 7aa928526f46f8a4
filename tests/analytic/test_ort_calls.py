"""The kernels ONNX Runtime runs for hand-built graphs (`cnnprof.analytic.ort_calls`): which nodes
fold into which kernel, and where its blocked layout reorders tensors. The rules were read from
the optimised models ONNX Runtime 1.32 writes (`SessionOptions.optimized_model_filepath`);
`tests/deploy/test_ort_calibrate.py` holds them against the installed runtime."""

from __future__ import annotations

from cnnprof.analytic.ort_calls import Node, kernels

BLOCK = 16  # AVX-512's NCHWc block
OUT = ("ReorderOutput", ())  # a blocked output of the graph, given back plain


def conv(name: str, source: str, cin: int, cout: int, k: int = 3, groups: int = 1) -> Node:
    return Node(
        name, "Conv", (source,), name, (1, cin, 8, 8), (1, cout, 8, 8), (cout, cin // groups, k, k)
    )


def unary(op: str, name: str, source: str, c: int = 32) -> Node:
    return Node(name, op, (source,), name, (1, c, 8, 8), (1, c, 8, 8))


def binary(op: str, name: str, a: str, b: str, c: int = 32) -> Node:
    return Node(name, op, (a, b), name, (1, c, 8, 8), (1, c, 8, 8))


def test_an_input_of_a_block_or_more_channels_is_reordered_first():
    """A 3-channel image is read plain; a 32-channel input is reordered into blocks."""
    assert [k.op for k in kernels([conv("c", "x", 32, 32)], BLOCK)] == [
        "ReorderInput",
        "Conv",
        "ReorderOutput",
    ]


def ops(nodes: list[Node], block: int = BLOCK) -> list[tuple[str, tuple[str, ...]]]:
    return [(k.op, k.nodes) for k in kernels(nodes, block)]


def test_conv_batchnorm_relu_is_one_kernel():
    graph = [
        conv("c", "x", 3, 32),
        unary("BatchNormalization", "bn", "c"),
        unary("Relu", "r", "bn"),
    ]
    assert ops(graph) == [("Conv", ("c", "bn", "r")), OUT]


def test_hardswish_folds_gelu_stays_apart():
    graph = [conv("c", "x", 3, 32), unary("HardSwish", "h", "c"), conv("d", "h", 32, 32)]
    graph += [unary("Gelu", "g", "d")]
    assert ops(graph) == [("Conv", ("c", "h")), ("Conv", ("d",)), ("Gelu", ("g",)), OUT]


def test_silu_is_one_quickgelu_after_the_convolution():
    """Mul(x, Sigmoid(x)): x has two readers, so nothing folds into the convolution."""
    graph = [conv("c", "x", 3, 32), unary("BatchNormalization", "bn", "c")]
    graph += [unary("Sigmoid", "s", "bn"), binary("Mul", "m", "bn", "s")]
    assert ops(graph) == [("Conv", ("c", "bn")), ("QuickGelu", ("m",)), OUT]


def test_residual_add_and_relu_run_inside_the_convolution():
    graph = [conv("a", "x", 3, 32), conv("b", "a", 32, 32), unary("BatchNormalization", "bn", "b")]
    graph += [binary("Add", "add", "bn", "a"), unary("Relu", "r", "add")]
    assert ops(graph) == [("Conv", ("a",)), ("Conv", ("b", "bn", "add", "r")), OUT]


def test_without_a_blocked_layout_the_add_stays_apart():
    graph = [conv("a", "x", 3, 32), conv("b", "a", 32, 32), binary("Add", "add", "b", "a")]
    assert ops(graph, block=0) == [("Conv", ("a",)), ("Conv", ("b",)), ("Add", ("add",))]


def test_squeeze_excite_reorders_around_its_broadcast_multiply():
    """The gate (32×1×1) times the map (32×8×8): both reordered to plain, the product back."""
    graph = [
        conv("a", "x", 3, 32),
        Node("p", "GlobalAveragePool", ("a",), "p", (1, 32, 8, 8), (1, 32, 1, 1)),
    ]
    graph += [
        Node("s", "Conv", ("p",), "s", (1, 32, 1, 1), (1, 32, 1, 1), (32, 32, 1, 1)),
        Node("g", "Sigmoid", ("s",), "g", (1, 32, 1, 1), (1, 32, 1, 1)),
        Node("m", "Mul", ("a", "g"), "m", (1, 32, 8, 8), (1, 32, 8, 8)),
        conv("b", "m", 32, 32),
    ]
    found = kernels(graph, BLOCK)
    assert [k.op for k in found] == [
        "Conv",
        "GlobalAveragePool",
        "Conv",
        "ReorderOutput",
        "ReorderOutput",
        "Mul",
        "ReorderInput",
        "Conv",
        "ReorderOutput",
    ]
    assert [k.call.x for k in found if k.op.startswith("Reorder")] == [
        (2048,),
        (32,),
        (2048,),
        (2048,),
    ]


def test_a_grouped_convolution_runs_plain():
    graph = [conv("a", "x", 3, 32), conv("g", "a", 32, 32, groups=4), conv("b", "g", 32, 32)]
    assert [k.op for k in kernels(graph, BLOCK)] == [
        "Conv",
        "ReorderOutput",
        "Conv",
        "ReorderInput",
        "Conv",
        "ReorderOutput",
    ]
    depthwise = [conv("a", "x", 3, 32), conv("d", "a", 32, 32, groups=32)]
    assert [k.call.kind for k in kernels(depthwise, BLOCK) if k.op == "Conv"] == ["conv", "dwconv"]


def test_identity_is_removed_and_flatten_reads_plain():
    graph = [
        conv("a", "x", 3, 32),
        unary("Identity", "i", "a"),
        Node("p", "GlobalAveragePool", ("i",), "p", (1, 32, 8, 8), (1, 32, 1, 1)),
        Node("f", "Flatten", ("p",), "f", (1, 32, 1, 1), (1, 32)),
        Node("fc", "Gemm", ("f",), "fc", (1, 32), (1, 10)),
    ]
    found = kernels(graph, BLOCK)
    assert [k.op for k in found] == [
        "Conv",
        "GlobalAveragePool",
        "ReorderOutput",
        "Flatten",
        "Gemm",
    ]
    assert found[3].call is None and found[4].call.x == (1, 32, 10)


def test_a_reduce_mean_over_the_map_runs_plain_as_a_pool():
    """A squeeze-excite's mean as timm exports it (ReduceMean over H, W): reordered out and in."""
    graph = [
        conv("a", "x", 3, 32),
        Node("m", "ReduceMean", ("a",), "m", (1, 32, 8, 8), (1, 32, 1, 1)),
        Node("s", "Conv", ("m",), "s", (1, 32, 1, 1), (1, 32, 1, 1), (32, 32, 1, 1)),
    ]
    found = kernels(graph, BLOCK)
    assert [k.op for k in found] == [
        "Conv",
        "ReorderOutput",
        "ReduceMean",
        "ReorderInput",
        "Conv",
        "ReorderOutput",
    ]
    assert found[2].call.kind == "reduce" and found[2].call.x == (32, 64, 1, 64)


def dense(growth: int) -> list[Node]:
    """DenseNet's concatenation of 32 channels and ``growth`` more, then BatchNorm and ReLU."""
    c = 32 + growth
    return [
        conv("a", "x", 3, 32),
        conv("b", "a", 32, growth),
        Node("cat", "Concat", ("a", "b"), "cat", (1, 32, 8, 8), (1, c, 8, 8)),
        Node("bn", "BatchNormalization", ("cat",), "bn", (1, c, 8, 8), (1, c, 8, 8)),
        Node("r", "Relu", ("bn",), "r", (1, c, 8, 8), (1, c, 8, 8)),
    ]


def test_a_batchnorm_on_its_own_is_a_depthwise_convolution_with_its_activation():
    """After a concatenation of whole blocks: a 1×1 depthwise convolution that runs the ReLU
    after it (ONNX Runtime 1.32's optimised model)."""
    found = kernels(dense(16), BLOCK)
    assert [(k.op, k.nodes) for k in found[2:]] == [
        ("Concat", ("cat",)),
        ("Conv", ("bn", "r")),
        OUT,
    ]
    assert found[3].call.kind == "dwconv" and found[3].call.x == (1, 48, 64, 1, 1, 16)


def test_a_concatenation_of_part_blocks_runs_plain():
    """32 and 24 channels: both reordered out, the concatenation, BatchNorm and ReLU plain."""
    found = kernels(dense(24), BLOCK)
    assert [k.op for k in found[2:]] == [
        "ReorderOutput",
        "ReorderOutput",
        "Concat",
        "BatchNormalization",
        "Relu",
    ]
    assert found[5].call.kind == "norm"


def test_a_sigmoid_with_another_reader_is_kept_beside_the_multiply():
    """Mul(x, Sigmoid(x)) where the gate is read again: it must be computed, so ONNX Runtime
    cannot fuse the pair into one QuickGelu."""
    graph = [unary("Sigmoid", "s", "x"), binary("Mul", "m", "x", "s"), binary("Add", "a", "m", "s")]
    assert ops(graph, 0) == [("Sigmoid", ("s",)), ("Mul", ("m",)), ("Add", ("a",))]


def test_a_custom_node_and_one_of_unknown_dims_run_no_kernel_model():
    """A custom-domain op, and a convolution whose input dims are unknown (empty shapes), are
    kernels with no call; their shapes are never read."""
    custom = Node("u", "Relu", ("c",), "u", (1, 32, 8, 8), (1, 32, 8, 8), domain="com.me")
    unknown = Node("d", "Conv", ("u",), "d", (), (), (32, 32, 3, 3), shaped=False)
    pool = Node("p", "MaxPool", ("d",), "p", (), (), kernel=(2, 2), shaped=False)
    found = kernels([conv("c", "x", 3, 32), custom, unknown, pool], BLOCK)
    # the blocked convolution's output is reordered for the custom node, which reads it plain
    assert [k.op for k in found] == ["Conv", "ReorderOutput", "com.me::Relu", "Conv", "MaxPool"]
    assert [k.call is None for k in found] == [False, False, True, True, True]
