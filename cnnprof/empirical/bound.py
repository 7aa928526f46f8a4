"""Time limits on work that may not return: a user's import, factory or forward, the device
microbenchmark. The limit is a real-time interval timer (``SIGALRM``): when it fires, an exception
is raised in the running Python code, wherever it is, and the timer keeps firing every
``REPEAT`` seconds until the block is left. Code that swallows every one of them for ``GRACE``
seconds more cannot be stopped from inside: the process then says so on stderr and exits with
code 2 (the one place below the CLI that writes to the terminal, because nothing above it will
run again). Native code (one long torch kernel) is interrupted when it returns to Python.

Where there is no ``SIGALRM`` (Windows) or the work runs off the main thread, the block runs
without a limit.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator

from cnnprof.errors import OutOfTime

REPEAT = 0.25  # seconds between alarms once the limit has passed
GRACE = 5.0  # seconds of alarms swallowed before the process exits


class Alarm(BaseException):
    """Raised inside the limited block when its time is up (a BaseException, so that a bare
    ``except Exception`` in the code it interrupts does not swallow it)."""


def _ringer(message: str) -> Callable[[int, object], None]:
    """The alarm handler of one limit: raise `Alarm`; GRACE seconds of them ignored, exit."""
    rung: list[float] = []  # when the first alarm rang

    def ring(signum: int, frame: object) -> None:
        now = time.monotonic()
        rung[:] = rung or [now]
        if now - rung[0] > GRACE:
            os.write(2, f"cnnprof: error: {message} (and it ignored being stopped)\n".encode())
            os._exit(2)
        raise Alarm

    return ring


def enforceable() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def time_limit(seconds: float | None, message: str) -> Iterator[None]:
    """Run the block for at most ``seconds`` (None: no limit); past it, `OutOfTime(message)`.
    Inside a limit that ends first, the outer one stops the block (with its own message); inside
    one that ends later, this one applies and the outer one is re-armed afterwards with what is
    left of it."""
    if seconds is None or not enforceable():
        yield
        return
    if not seconds > 0 or not math.isfinite(seconds):
        if seconds > 0:  # infinite: no limit
            yield
            return
        raise OutOfTime(message)
    outer, _ = signal.getitimer(signal.ITIMER_REAL)
    if 0 < outer <= seconds:
        yield
        return
    start = time.monotonic()
    previous = signal.signal(signal.SIGALRM, _ringer(message))
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds, REPEAT)
        yield
    except Alarm:
        signal.setitimer(signal.ITIMER_REAL, 0)
        raise OutOfTime(message) from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer > 0:
            left = outer - (time.monotonic() - start)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3), REPEAT)


class Interrupted(KeyboardInterrupt):
    """A Ctrl-C (``SIGINT``) that reached the process inside `user_interrupts`: the user's, told
    apart from a ``KeyboardInterrupt`` the guarded code raised itself."""


def _interrupt(signum: int, frame: object) -> None:
    raise Interrupted


@contextlib.contextmanager
def user_interrupts() -> Iterator[bool]:
    """Inside the block a ``SIGINT`` raises `Interrupted`; yields whether a ``KeyboardInterrupt``
    inside is then the guest's own (not off the main thread, nor where a host program set its own
    handler: there every ``KeyboardInterrupt`` may be the user's; yes where SIGINT is ignored, as
    in a background job, since no Ctrl-C reaches the process)."""
    current = signal.getsignal(signal.SIGINT)
    if current is _interrupt or current == signal.SIG_IGN:  # ignored: no Ctrl-C can come, so
        yield True  # every KeyboardInterrupt inside is the guest's own
        return
    if threading.current_thread() is not threading.main_thread() or (
        current is not signal.default_int_handler
    ):
        yield False
        return
    signal.signal(signal.SIGINT, _interrupt)
    try:
        yield True
    finally:
        signal.signal(signal.SIGINT, current)
