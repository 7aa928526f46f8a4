"""User code that defeats an in-process time limit or ends the process it runs in: for the
supervised worker process (`cnnprof.api.supervised`), which the parent kills or reads the end of.

Factories that defeat ``SIGALRM`` (each spins, or waits, for ``SPIN_SECONDS``):
- ``ignores_alarm``: sets ``SIGALRM`` to be ignored
- ``blocks_alarm``: blocks ``SIGALRM`` in its thread
- ``cancels_timer``: cancels the interval timer, again and again
- ``c_loop``: a catastrophic regular expression, one call into C that holds the interpreter
- ``swallows``: catches every exception the alarm raises, and goes on

And ``quick``, which returns a model at once, for comparison.

Factories that end or disturb their process:
- ``exits_process``: ``os._exit(0)``
- ``kills_itself``: sends itself ``SIGKILL``
- ``closes_stdout``: closes ``sys.stdout`` and file descriptor 1, then returns a model
- ``closes_everything``: closes every file descriptor, then returns a model
- ``changes_directory``: changes the working directory to ``$GUEST_ELSEWHERE``, then returns a model
- ``sleeps_three``: sleeps 3 s, then returns a model
- ``forks_and_exits``: forks a process that sleeps on (holding the worker's pipes), then exits
- ``forges_an_answer``: writes a well-framed answer that is not a profile to its descriptors

And ``slow_forward``: a model whose every forward takes ``SLOW_FORWARD_S``.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import re
import signal
import struct
import sys
import time

from torch import nn

SPIN_SECONDS = 60.0
SLOW_FORWARD_S = 0.2  # each forward of ``slow_forward``


def _small() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())


def _spin(step: object = None) -> None:
    end = time.monotonic() + SPIN_SECONDS
    while time.monotonic() < end:
        if callable(step):
            step()


def quick() -> nn.Module:
    return _small()


def ignores_alarm() -> nn.Module:
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    _spin()
    return _small()


def blocks_alarm() -> nn.Module:
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    _spin()
    return _small()


def cancels_timer() -> nn.Module:
    _spin(lambda: signal.setitimer(signal.ITIMER_REAL, 0))
    return _small()


def c_loop() -> nn.Module:
    re.match(r"(a+)+$", "a" * 40 + "b")  # 2**40 steps in C, the interpreter held throughout
    return _small()


def swallows() -> nn.Module:
    end = time.monotonic() + SPIN_SECONDS
    while time.monotonic() < end:
        with contextlib.suppress(BaseException):  # the point: nothing stops it
            time.sleep(0.05)
    return _small()


def exits_process() -> nn.Module:
    os._exit(0)


def kills_itself() -> nn.Module:
    os.kill(os.getpid(), signal.SIGKILL)
    return _small()


def closes_stdout() -> nn.Module:
    sys.stdout.close()
    os.close(1)
    return _small()


def closes_everything() -> nn.Module:
    os.closerange(0, 4096)
    return _small()


def changes_directory() -> nn.Module:
    os.chdir(os.environ["GUEST_ELSEWHERE"])
    return _small()


def sleeps_three() -> nn.Module:
    time.sleep(3)
    return _small()


def forks_and_exits() -> nn.Module:
    """Leaves a process of its own behind (its pid in ``$GUEST_PIDFILE``), holding the pipes
    it inherited, then ends its worker."""
    pid = os.fork()
    if pid == 0:
        time.sleep(300)
        os._exit(0)
    with open(os.environ["GUEST_PIDFILE"], "w") as out:
        out.write(str(pid))
    os._exit(0)


def forges_an_answer() -> nn.Module:
    """Writes a well-framed answer that is not a profile to every descriptor it holds."""
    data = pickle.dumps(("ok", "I am a profile"))
    for fd in range(3, 64):
        with contextlib.suppress(OSError):
            os.write(fd, struct.pack("!Q", len(data)) + data)
    return _small()


class _Slow(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x: object) -> object:
        time.sleep(SLOW_FORWARD_S)
        return self.conv(x)


def slow_forward() -> nn.Module:
    return _Slow()
