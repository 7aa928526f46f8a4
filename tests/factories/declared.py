"""Models that declare the input they are built for, as timm's do (``pretrained_cfg``) and as a
user's may (an ``input_size`` attribute, C×H×W). ``CALLS`` counts how often each factory ran."""

from collections import Counter

from torch import nn

CALLS: Counter = Counter()


class Patches(nn.Module):
    """A 16×16 patch embedding and a classifier over the patches of a 256×256 image: the size is
    part of the model, checked with a bare ``assert`` (as HaloNet's and BoTNet's blocks do)."""

    def __init__(self) -> None:
        super().__init__()
        self.pretrained_cfg = {"input_size": (3, 256, 256), "num_classes": 10}
        self.embed = nn.Conv2d(3, 8, 16, stride=16)
        self.head = nn.Linear(8 * 16 * 16, 10)

    def forward(self, x):
        assert x.shape[-2:] == (256, 256)
        return self.head(self.embed(x).flatten(1))


def make_timm_like() -> nn.Module:
    CALLS["make_timm_like"] += 1
    return Patches()


class Sized(nn.Module):
    """Any size runs; the model says it is built for 3×96×128."""

    input_size = (3, 96, 128)

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        return self.conv(x)


def make_sized() -> nn.Module:
    CALLS["make_sized"] += 1
    return Sized()
