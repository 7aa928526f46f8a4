"""Models from outside the registry: torchvision:NAME, timm:NAME, package.module:factory,
path/to/file.py:factory. Each is constructed with the user's arguments.

A user's code is a guest: importing it, calling its factory and running its forward happen inside
`guest`, the one boundary that turns anything it raises (``SystemExit`` with any code included,
and a ``KeyboardInterrupt`` of its own; only the user's Ctrl-C passes) into a one-line `LoadError`
naming the reference and the stage, sends what it prints to stderr (never into cnnprof's own
output), and stops it at its time limit. What is clearly not a model factory (a builtin, ``os``,
``subprocess`` …) is refused before it is called.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import os
import sys
import sysconfig
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import torch
from torch import nn

from cnnprof.empirical.bound import Alarm, Interrupted, time_limit, user_interrupts
from cnnprof.empirical.device import first_line
from cnnprof.empirical.inputs import Inputs
from cnnprof.errors import CnnprofError, LoadError, MissingExtra, did_you_mean

Factory = Callable[..., nn.Module]
# Modules whose callables run commands, touch files or the interpreter: never a model factory.
NOT_FACTORIES = frozenset(
    {
        "builtins",
        "os",
        "posix",
        "nt",
        "subprocess",
        "sys",
        "shutil",
        "pathlib",
        "io",
        "socket",
        "signal",
        "ctypes",
        "importlib",
        "runpy",
        "pty",
        "code",
        "pickle",
        "multiprocessing",
        "webbrowser",
        "urllib",
        "http",
        "ftplib",
        "smtplib",
        "tempfile",
        "glob",
        "platform",
    }
)


# Frames under these are not the model's own code: torch's, cnnprof's; the standard library's
# (outside site-packages).
NOT_THE_MODELS = (str(Path(torch.__file__).parent), str(Path(__file__).parents[1]))
STDLIB = sysconfig.get_paths()["stdlib"]
FRAMES_PER_LEVEL = 5  # about the Python frames a level of nesting takes in a hooked forward


def _innermost(exc: BaseException) -> str:
    """``file:line in function`` of the innermost frame of the model's own code (the user's or
    its library's) that ``exc`` passed through; empty when none did."""
    found = ""
    for frame, line in traceback.walk_tb(exc.__traceback__):
        path = frame.f_code.co_filename
        library = "site-packages" in path and not path.startswith(NOT_THE_MODELS)
        if library or not path.startswith((*NOT_THE_MODELS, STDLIB, "<")):
            found = f"{_short(path)}:{line} in {frame.f_code.co_name}"
    return found


def _short(path: str) -> str:
    """``path`` from its package (after site-packages) or from the working directory."""
    if "site-packages/" in path:
        return path.rsplit("site-packages/", 1)[1]
    with contextlib.suppress(ValueError):
        return str(Path(path).relative_to(Path.cwd()))
    return path


def why(exc: BaseException) -> str:
    """What ``exc`` says, one line: its type (an ``assert`` with no message has only that), its
    first line, and where the model's own code raised it."""
    detail, where = first_line(exc), _innermost(exc)
    return (
        type(exc).__name__ + (f": {detail}" if detail else "") + (f" (at {where})" if where else "")
    )


def meta_specific(exc: BaseException) -> bool:
    """Whether the meta device is to blame for ``exc`` (an op with no meta kernel, data read from
    a meta tensor), so that real tensors on the CPU may succeed; a model's own assert or a shape
    mismatch fails there as well."""
    return isinstance(exc, NotImplementedError) or "meta" in str(exc).lower()


@contextlib.contextmanager
def _staying() -> Iterator[None]:
    """The working directory as it was before the block, whatever the guest's code did to it
    (a second construct of a `file.py:factory` looks its file up there)."""
    home = os.getcwd()
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.chdir(home)


@contextlib.contextmanager
def guest(
    reference: str, stage: str, timeout: float | None = None, limit: str = ""
) -> Iterator[None]:
    """Run a user's code (``stage``: import, construct or forward) as a guest: what it prints
    goes to stderr; whatever it raises but the user's Ctrl-C (cnnprof's own errors pass as
    they are) becomes one `LoadError` line; past ``timeout`` seconds (None: none), `OutOfTime`
    naming ``limit`` (default: "N s (--timeout)"); a change of directory is undone."""
    late = (
        f"{reference}: {stage} did not finish within {limit or f'{timeout or 0:g} s (--timeout)'}"
    )
    with user_interrupts() as told, _staying():
        try:
            with contextlib.redirect_stdout(sys.stderr), time_limit(timeout, late):
                yield
        except (Interrupted, CnnprofError, Alarm):
            raise
        except SystemExit as exc:
            raise LoadError(
                f"{reference}: {stage} called sys.exit({exc.code!r}); a model's code "
                "must return, not exit"
            ) from None
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt) and not told:  # maybe the user's Ctrl-C
                raise
            raise LoadError(f"{reference}: {stage} failed: {why(exc)}") from None


@dataclass(frozen=True)
class Convention:
    """How a family of outside models is called, as its library documents it: the inputs per
    image when the user gives none, and whether they go in as one list of images."""

    shapes: tuple[tuple[int, ...], ...] = ((3, 224, 224),)
    image_list: bool = False


# torchvision model packages → how their models are called (the docs' examples). Detection takes
# a list of images; a video model a 3×16×112×112 clip; optical flow (RAFT) two frames, at 512×512:
# the size torchvision's ``_ops`` for RAFT describe (raft_small 47.655, raft_large 211.007 GMACs
# are matched exactly there; its weights name no size, and the cost grows faster than H·W).
TORCHVISION_CONVENTIONS: Mapping[str, Convention] = MappingProxyType(
    {
        "torchvision.models.detection": Convention(((3, 800, 800),), image_list=True),
        "torchvision.models.segmentation": Convention(((3, 520, 520),)),
        "torchvision.models.video": Convention(((3, 16, 112, 112),)),
        "torchvision.models.optical_flow": Convention(((3, 512, 512), (3, 512, 512))),
    }
)
DEFAULT_CONVENTION = Convention()


def _offline(builder: Callable[..., nn.Module]) -> Factory:
    """``builder`` called so that nothing is downloaded: no weights, no backbone weights."""
    try:
        takes = inspect.signature(builder).parameters
    except (TypeError, ValueError):
        takes = {}
    offline = {k: None for k in ("weights", "weights_backbone") if k in takes}
    return lambda **kw: builder(**{**kw, **offline})


def _torchvision(name: str) -> Factory:
    try:
        import torchvision.models as models
    except ImportError:
        raise MissingExtra.of("torchvision", f"torchvision:{name}") from None
    try:
        builder = models.get_model_builder(name)
    except ValueError:
        hint = did_you_mean(name, models.list_models())
        raise LoadError(f"torchvision:{name}: torchvision has no model '{name}'{hint}") from None
    return _offline(builder)


def convention(reference: str) -> Convention:
    """How the model named by ``reference`` is called (torchvision's families differ)."""
    head, _, name = reference.partition(":")
    if head != "torchvision":
        return DEFAULT_CONVENTION
    try:
        import torchvision.models as models

        package = models.get_model_builder(name).__module__
    except (ImportError, ValueError):  # construction says what is wrong, in one line
        return DEFAULT_CONVENTION
    found = (c for prefix, c in TORCHVISION_CONVENTIONS.items() if package.startswith(prefix))
    return next(found, DEFAULT_CONVENTION)


def _size(value: Any) -> tuple[int, ...] | None:
    """``value`` as C,H,W sizes when it is three whole numbers ≥ 1."""
    ok = isinstance(value, (tuple, list)) and len(value) == 3
    if not ok or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in value):
        return None
    return tuple(value)


def declared_input(
    reference: str, module: nn.Module, convention: tuple[int, ...] = (3, 224, 224)
) -> tuple[int, ...] | None:
    """The input the model declares: its own ``input_size``, else timm's ``pretrained_cfg`` /
    ``default_cfg`` ``input_size`` (C,H,W), else (torchvision) the size its default weights are
    evaluated at, in the shape of its family's ``convention``; None when it declares none."""
    cfgs = (getattr(module, key, None) for key in ("pretrained_cfg", "default_cfg"))
    sizes = [getattr(module, "input_size", None)]
    sizes += [cfg.get("input_size") for cfg in cfgs if isinstance(cfg, Mapping)]
    found = next(filter(None, map(_size, sizes)), None)
    if found is not None or not reference.startswith("torchvision:"):
        return found
    return _weights_size(reference.partition(":")[2], module, convention)


def _weights_size(
    name: str, module: nn.Module, convention: tuple[int, ...]
) -> tuple[int, ...] | None:
    """The input a torchvision model's default weights are evaluated at (their transforms' crop
    size); a model built at a size of its own without weights (ViT's ``image_size``) keeps it.
    None where the weights state no single size (detection, segmentation, flow)."""
    import torchvision.models as models

    try:
        weights = models.get_model_weights(name).DEFAULT
    except (ValueError, AttributeError):
        return None
    crop = getattr(weights.transforms, "keywords", {}).get("crop_size")
    own = getattr(module, "image_size", None)
    return evaluated_size(crop, own, weights.meta.get("min_temporal_size"), convention)


def evaluated_size(
    crop: Any, own: Any, frames: Any, convention: tuple[int, ...]
) -> tuple[int, ...] | None:
    """C,H,W (or, for a clip convention C,T,H,W: T the convention's frames, at least the
    ``frames`` the weights need) at the square ``crop`` (an int, or an [H, W] of equal sides),
    or at the model's ``own`` size where it was built at one; None without a square crop."""
    if isinstance(crop, (list, tuple)) and len(crop) == 2 and crop[0] == crop[1]:
        crop = crop[0]
    if not isinstance(crop, int) or isinstance(crop, bool):
        return None
    side = own if isinstance(own, int) and not isinstance(own, bool) else crop
    if len(convention) == 4:
        least = frames if isinstance(frames, int) and not isinstance(frames, bool) else 0
        return (convention[0], max(convention[1], least), side, side)
    return (3, side, side)


@dataclass(frozen=True)
class Chosen:
    """The inputs a model is counted at, where they came from ("--input", "--resolution",
    "model config" or "default"), and the C,H,W size the model declares (None: none)."""

    inputs: Inputs
    origin: str
    declared: tuple[int, ...] | None

    @contextlib.contextmanager
    def hinting(self) -> Iterator[None]:
        """A failure inside, with the size the model declares when it was given another."""
        try:
            yield
        except LoadError as exc:
            if self.declared is None or self.inputs.shapes == (self.declared,):
                raise
            size, flag = "×".join(map(str, self.declared)), ",".join(map(str, self.declared))
            raise LoadError(f"{exc}; the model declares {size}: try --input {flag}") from None


def choose_inputs(
    reference: str,
    module: nn.Module,
    given: tuple[tuple[int, ...], ...] | None,
    side: int | None,
) -> Chosen:
    """What the model is called with: ``given`` (--input), else its library's convention
    (detection: a list of images; video: a clip) at ``side`` square (--resolution), else its
    declared input, else the convention's (3×224×224 for a classifier)."""
    found = convention(reference)
    single = len(found.shapes) == 1 and not found.image_list  # a classifier's, or a clip's
    declared = declared_input(reference, module, found.shapes[0]) if single else None
    if given is not None:
        shapes, origin = given, "--input"
    elif side is not None:
        shapes, origin = tuple((*s[:-2], side, side) for s in found.shapes), "--resolution"
    elif declared is not None:
        shapes, origin = (declared,), "model config"
    else:
        shapes, origin = found.shapes, "default"
    return Chosen(Inputs(shapes, image_list=found.image_list), origin, declared)


def _timm(name: str) -> Factory:
    try:
        import timm
    except ImportError:
        raise MissingExtra.of("timm", f"timm:{name}") from None
    if not timm.is_model(name):
        hint = did_you_mean(name, timm.list_models())
        raise LoadError(f"timm:{name}: timm has no model '{name}'{hint}")
    return lambda **kw: timm.create_model(name, **{**kw, "pretrained": False})


SOURCES: Mapping[str, Callable[[str], Factory]] = MappingProxyType(
    {"torchvision": _torchvision, "timm": _timm}
)


def _from_file(path: str, attr: str) -> Factory:
    file = Path(path)
    if not file.is_file():
        raise LoadError(f"{path}:{attr}: no such file")
    for folder in (Path.cwd(), file.resolve().parent):  # as `python -m` and `python FILE` would:
        if str(folder) not in sys.path:  # the file's own package and its siblings import
            sys.path.insert(0, str(folder))
    name = f"cnnprof_user_{abs(hash(file.resolve()))}"
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise LoadError(f"{path}:{attr}: cannot import this file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return _attribute(module, attr, f"{path}:{attr}", path)


def _from_module(module_name: str, attr: str) -> Factory:
    _refuse_module(module_name, f"{module_name}:{attr}")
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))  # as `python -m` would: packages in the cwd import
    module = importlib.import_module(module_name)
    return _attribute(module, attr, f"{module_name}:{attr}", module_name)


def _refuse_module(module_name: str, reference: str) -> None:
    root = module_name.partition(".")[0]
    if root in NOT_FACTORIES:
        raise LoadError(
            f"{reference}: {root} is not a model library; a factory is a callable "
            "of yours returning an nn.Module"
        )


def _attribute(module: Any, attr: str, reference: str, where: str) -> Factory:
    factory = getattr(module, attr, None)
    if not callable(factory):
        own = _callables(module)
        defines = f"it defines {', '.join(own)}" if own else "it defines no function or class"
        hint = did_you_mean(attr, own)
        raise LoadError(f"{reference}: no callable '{attr}' in {where}{hint}; {defines}")
    if inspect.isbuiltin(factory) or (
        inspect.isclass(factory) and not issubclass(factory, nn.Module)
    ):
        kind = "a builtin" if inspect.isbuiltin(factory) else f"the class {factory.__name__}"
        raise LoadError(
            f"{reference}: {kind} is not a model factory; a factory is a callable "
            "returning an nn.Module"
        )
    _refuse_module(getattr(factory, "__module__", None) or "", reference)
    return factory


def _callables(module: Any) -> list[str]:
    """The functions and classes ``module`` defines itself (not those it imports): what a
    factory's name may be."""
    name = module.__name__
    return [
        key
        for key, value in vars(module).items()
        if (inspect.isfunction(value) or inspect.isclass(value))
        and getattr(value, "__module__", None) == name
        and not key.startswith("_")
    ]


def factory(reference: str, timeout: float | None = None) -> Factory:
    """The callable ``reference`` names, its module imported as a guest."""
    head, _, tail = reference.partition(":")
    if head in SOURCES:
        return SOURCES[head](tail)
    with guest(reference, "import", timeout):
        if head.endswith(".py"):
            return _from_file(head, tail)
        return _from_module(head, tail)


@contextlib.contextmanager
def parameters_on_meta() -> Iterator[None]:
    """While a factory runs on the CPU, every parameter and buffer it registers moves to the meta
    device as it is registered: for factories that compute with real tensors (RegNet's widths)
    and so cannot be built under ``torch.device("meta")``. One tensor is real at a time."""
    register_parameter = nn.Module.register_parameter
    register_buffer = nn.Module.register_buffer

    def parameter(self: nn.Module, name: str, param: Any) -> None:
        if param is not None and param.device.type != "meta":
            param = nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)
        register_parameter(self, name, param)

    def buffer(self: nn.Module, name: str, tensor: Any, persistent: bool = True) -> None:
        if tensor is not None:
            tensor = tensor.to("meta")
        register_buffer(self, name, tensor, persistent)

    nn.Module.register_parameter = parameter  # type: ignore[method-assign]
    nn.Module.register_buffer = buffer  # type: ignore[method-assign]
    try:
        yield
    finally:
        nn.Module.register_parameter = register_parameter  # type: ignore[method-assign]
        nn.Module.register_buffer = register_buffer  # type: ignore[method-assign]


def construct(
    reference: str,
    args: Mapping[str, Any],
    device: str = "meta",
    *,
    timeout: float | None = None,
) -> nn.Module:
    """The model named by ``reference``, built with ``args`` on ``device`` (meta: no weights);
    its import and its factory each run as a guest, for at most ``timeout`` seconds."""
    make = factory(reference, timeout)
    with guest(reference, "construct", timeout), torch.device(device):
        module = make(**args)
    if not isinstance(module, nn.Module):
        raise LoadError(f"{reference}: the factory returned {type(module).__name__}, not nn.Module")
    refuse_deep(reference, module)
    return module.eval()


def nesting(module: nn.Module) -> int:
    """How many levels of modules ``module`` holds (itself alone: 1), walked without recursion."""
    deepest, stack = 0, [(module, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in node._modules.values() if child is not None)
    return deepest


def refuse_deep(reference: str, module: nn.Module) -> None:
    """Refuse a model nested deeper than torch's own recursive walks (``eval``, ``forward`` of
    nested containers) can go within Python's recursion limit: one line, not a crash."""
    most = sys.getrecursionlimit() // FRAMES_PER_LEVEL
    depth = nesting(module)
    if depth >= most:
        raise LoadError(
            f"{reference}: modules nested {depth:,} levels deep; cnnprof follows fewer than "
            f"{most:,} (Python's recursion limit, {sys.getrecursionlimit():,} frames)"
        )
