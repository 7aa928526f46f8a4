"""A process cnnprof can kill, for work that runs a user's code: the parent starts a fresh
interpreter (``python -c``, so nothing of the parent's ``__main__`` is run again), sends it calls
and reads each answer over the worker's own pipes, framed and pickled; it never reads what the
worker prints, which goes to the null device (to stderr when ``CNNPROF_GUEST_OUTPUT`` is set).

The parent alone enforces a call's time: past it, and ``GRACE`` seconds more for the worker to
stop itself with its own message, the worker is killed, whatever its code did to signals. Every
way a worker can end without an answer (an exit code of its own choosing, ``os._exit``, a signal,
a closed pipe, an answer that cannot be read) is one `LoadError` naming the model.

The worker's side (`serve`) runs calls from a table its caller gives, in the worker's main thread,
each in the working directory the parent had when it started the worker.
"""

from __future__ import annotations

import contextlib
import copyreg
import ctypes
import functools
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any

from cnnprof.errors import CnnprofError, LoadError, OutOfTime

ENDING_S = 0.5  # seconds a worker that closed its pipe is given to exit, for its exit code
STARTUP_S = 120.0  # seconds a worker may take to start (import torch), not the model's
POLL_S = 0.25  # seconds between looks at whether a silent worker still runs
GRACE = 0.25  # seconds past a call's time for the worker to answer before it is killed
SHOW_OUTPUT = "CNNPROF_GUEST_OUTPUT"  # set: a worker's prints go to stderr
IN_PROCESS = "CNNPROF_GUEST_IN_PROCESS"  # set: no worker (a debugger in a factory; a benchmark)
PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent ends
HEADER = struct.Struct("!Q")  # each message: its length, then its pickle
PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # the folder holding this cnnprof


def read_only(mapping: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(mapping)


def _proxy(mapping: MappingProxyType[Any, Any]) -> tuple[Any, tuple[dict[Any, Any]]]:
    return read_only, (dict(mapping),)


# Results keep their mappings read-only (`arch.model.frozen`); they cross the pipe as copies.
copyreg.pickle(MappingProxyType, _proxy)


def available() -> bool:
    """Whether a user's code runs in a worker: where its pipes can be waited on with a deadline
    (POSIX), unless ``CNNPROF_GUEST_IN_PROCESS`` asks for cnnprof's own process."""
    return os.name == "posix" and not os.environ.get(IN_PROCESS)


class Ended(Exception):
    """The worker's pipe closed, or a message on it could not be read."""


def send(stream: IO[bytes], message: Any) -> None:
    send_pickled(stream, pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))


def send_pickled(stream: IO[bytes], data: bytes) -> None:
    stream.write(HEADER.pack(len(data)) + data)
    stream.flush()


def _read(fd: int, size: int, end: float | None, alive: Callable[[], bool]) -> bytes:
    """Exactly ``size`` bytes from ``fd`` by ``end`` (``time.monotonic``; None: no end);
    `Ended` on end of file, or once the writer is no longer ``alive`` and nothing is left to
    read (a process it forked may hold the pipe open); `TimeoutError` past ``end``."""
    chunks, left = [], size
    while left:
        wait = POLL_S if end is None else min(end - time.monotonic(), POLL_S)
        if wait <= 0:
            raise TimeoutError
        if not select.select([fd], [], [], wait)[0]:
            if not alive() and not select.select([fd], [], [], 0)[0]:
                raise Ended
            continue
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise Ended
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def receive(fd: int, end: float | None = None, alive: Callable[[], bool] = lambda: True) -> Any:
    """The next message on ``fd`` by ``end`` (see `_read`)."""
    (size,) = HEADER.unpack(_read(fd, HEADER.size, end, alive))
    try:
        return pickle.loads(_read(fd, size, end, alive))
    except (pickle.UnpicklingError, AttributeError, ImportError, EOFError, TypeError) as exc:
        raise Ended from exc


def _kinds(base: type[CnnprofError]) -> dict[str, type[CnnprofError]]:
    """``base`` and every subclass of it, by name."""
    found = {base.__name__: base}
    for sub in base.__subclasses__():
        found.update(_kinds(sub))
    return found


def rebuilt(kind: str, message: str) -> CnnprofError:
    """An error a worker sent (its class name and message), as the parent raises it."""
    return _kinds(CnnprofError).get(kind, LoadError)(message)


# Workers are started from one thread that lasts as long as the process: on Linux a worker ends
# with the thread that started it (`_end_with_parent`), which must not be a caller's short one.
_LAUNCHER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cnnprof-launcher")


_LIVE: weakref.WeakSet[Worker] = weakref.WeakSet()  # every worker made, while it lasts


def close_all() -> None:
    """End every worker now (the CLI, before it ends its process without clean-up)."""
    for worker in list(_LIVE):
        _close(worker._box)


class Worker:
    """A worker process for the models of one reference (the points of a sweep share it),
    started on first use; each model is opened in it once, by its key. A call that runs past
    its time, a worker that stops answering, and a call the caller abandons (Ctrl-C) end the
    process, with every process it started: the call raises why, and the next call starts a
    fresh one. Calls from several threads take turns; the process is killed when the worker
    is collected (or at exit). ``startups`` keeps when each start began and what it took
    (``time.perf_counter``), so that callers can leave it out of a model's time."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._box: list[subprocess.Popen[bytes]] = []  # the running process, if any
        self._opened: set[int] = set()
        self._greeted = False  # the fresh process was sent its start message
        self._lock = threading.Lock()
        self.startups: list[tuple[float, float]] = []
        weakref.finalize(self, _close, self._box)
        _LIVE.add(self)

    def startup_since(self, since: float) -> float:
        """Seconds spent starting the worker (and opening models in it) from ``since`` on."""
        return sum(took for began, took in self.startups if began >= since)

    def call(
        self,
        key: int,
        opening: Any,
        name: str,
        *args: Any,
        limit: float | None,
        within: float,
        late: str,
        expect: type | tuple[type, ...] = object,
        progress: Callable[[str, float], None] | None = None,
    ) -> Any:
        """The answer of model ``key`` (opened from ``opening`` on first use) to
        ``name(*args)``, an ``expect``: the worker stops the call itself at ``limit`` seconds
        (None: none) with ``late``; the parent kills it after ``within`` (and GRACE) seconds,
        with `OutOfTime(late)`. What the call raised is raised here."""
        with self._lock:
            began = time.perf_counter()
            self._started()  # a fresh process has no model open
            if key not in self._opened:
                opened = f"{self.label}: its process did not start within {STARTUP_S:g} s"
                self._answer(("open", key, opening), STARTUP_S, opened, None)
                self._opened.add(key)
                self.startups.append((began, time.perf_counter() - began))
            message = ("call", key, name, args, limit, late)
            answer = self._answer(message, max(within, 0.0) + GRACE, late, progress)
        if not isinstance(answer, expect):
            said = type(answer).__name__
            raise LoadError(f"{self.label}: the process running the model's code answered {said}")
        return answer

    def _started(self) -> subprocess.Popen[bytes]:
        """The running process; a fresh one when there is none, or when it ended between
        calls. It leads a session of its own, so that what it starts ends with it and a
        terminal's Ctrl-C reaches cnnprof alone."""
        if self._box and self._box[0].poll() is None:
            return self._box[0]
        _close(self._box)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_ROOT, env.get("PYTHONPATH")]))
        try:
            process = _LAUNCHER.submit(
                subprocess.Popen,
                [sys.executable, "-c", "from cnnprof.api.guest_worker import serve; serve()"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                cwd=os.getcwd(),
                env=env,
                start_new_session=True,
            ).result()
        except OSError as exc:
            raise LoadError(f"{self.label}: cannot start a process for its code: {exc}") from None
        self._box.append(process)
        self._opened.clear()
        self._greeted = False
        return process

    def _answer(
        self,
        message: Any,
        seconds: float,
        late: str,
        progress: Callable[[str, float], None] | None,
    ) -> Any:
        """``message`` sent (the start message first, to a fresh worker), and the worker's
        answer to it within ``seconds``; progress reported on the way. A worker that misses
        the time, stops answering or is abandoned is ended."""
        process = self._box[0]
        end = time.monotonic() + seconds
        failure: CnnprofError | None = None
        try:
            if not self._greeted:  # a fresh worker: where to import from, and to work in
                send(process.stdin, (sys.path, os.getcwd()))  # type: ignore[arg-type]
                self._greeted = True
            send(process.stdin, message)  # type: ignore[arg-type]
            alive = functools.partial(_alive, process)
            while True:
                kind, *value = receive(process.stdout.fileno(), end, alive)  # type: ignore[union-attr]
                if kind != "progress":
                    break
                if progress is not None:
                    progress(*value)
        except TimeoutError:
            failure = OutOfTime(f"{late}; its process was stopped")
        except (Ended, OSError):
            failure = LoadError(f"{self.label}: {_ending(process)} before it answered")
        except BaseException:  # abandoned mid-answer: a later call must not read this one's
            _close(self._box)
            raise
        if failure is not None:
            _close(self._box)
            raise failure
        if kind == "error":
            raise rebuilt(*value)
        return value[0]


def _alive(process: subprocess.Popen[bytes]) -> bool:
    return process.poll() is None


def _ending(process: subprocess.Popen[bytes]) -> str:
    """How a worker that stopped answering ended."""
    try:
        code: int | None = process.wait(ENDING_S)
    except subprocess.TimeoutExpired:
        code = None
    running = "the process running the model's code"
    if code is None:
        return f"{running} closed its pipe to cnnprof"
    if code >= 0:
        return f"{running} exited with code {code}"
    try:
        return f"{running} was killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"{running} was killed by signal {-code}"


def _close(box: list[subprocess.Popen[bytes]]) -> None:
    """Kill the process in ``box`` (if any) and every process of its session, reap it, and
    empty the box."""
    while box:
        process = box.pop()
        with contextlib.suppress(OSError):
            os.killpg(process.pid, signal.SIGKILL)  # it leads its own group (start_new_session)
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout):
            with contextlib.suppress(OSError):
                stream.close()  # type: ignore[union-attr]


def _private_pipes() -> tuple[IO[bytes], int, int]:
    """The worker's own copies of its pipes, and where the user's output goes (the null
    device, or stderr on request): the user's code never sees the pipes."""
    reply = os.fdopen(os.dup(1), "wb")
    calls = os.dup(0)
    null = os.open(os.devnull, os.O_RDWR)
    output = os.dup(2) if os.environ.get(SHOW_OUTPUT) else null
    return reply, calls, output


def _fresh_streams(output: int) -> None:
    """Standard input from the null device, standard output and error to ``output``, and
    Python's streams open on them: each call starts with them as the last one found them, or
    as it left them (a factory that closed stdout runs again for a sweep's next point)."""
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(output, 1)
    os.dup2(output, 2)
    for name, fd in (("stdout", 1), ("stderr", 2)):
        stream = getattr(sys, name)
        if stream is None or stream.closed:
            setattr(sys, name, open(fd, "w", closefd=False))  # noqa: SIM115 - it lasts


def _end_with_parent() -> None:
    """On Linux, the kernel kills the worker when its parent ends, however it ends (a parent
    killed outright runs no clean-up of its own); strictly, when the parent's thread that
    started it ends (`_LAUNCHER`, which lasts)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # the parent ended before the request took effect
        os._exit(0)


def serve(
    handlers: Mapping[str, Callable[..., Any]],
    setup: Callable[[Any], Any],
    limit: Callable[[float | None, str], AbstractContextManager[None]],
) -> None:
    """The worker's loop, until the parent closes the pipe: ``("open", key, opening)`` sets up
    a model's state with ``setup(opening)``; ``("call", key, name, args, seconds, message)``
    answers ``handlers[name](state, progress, *args)``, inside ``limit(seconds, message)`` here
    (the parent kills the worker GRACE seconds later)."""
    reply, calls, output = _private_pipes()
    _fresh_streams(output)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _end_with_parent()

    def progress(stage: str, fraction: float) -> None:
        send(reply, ("progress", stage, fraction))

    try:
        path, cwd = receive(calls)
        sys.path[:] = path + [p for p in sys.path if p not in path]
        hosted: dict[int, Any] = {}
        while True:
            kind, key, *rest = receive(calls)
            os.chdir(cwd)
            _fresh_streams(output)
            if kind == "open":
                send(reply, _opened(hosted, key, setup, rest[0]))
                continue
            name, args, seconds, late = rest
            limited = limit(seconds, late)
            send_pickled(reply, _answered(hosted[key], handlers[name], args, limited, progress))
    except (Ended, OSError):
        os._exit(0)


def _opened(hosted: dict[int, Any], key: int, setup: Callable[[Any], Any], opening: Any) -> Any:
    """The answer to opening model ``key``: its state set up, or the error that stopped it."""
    try:
        hosted[key] = setup(opening)
        return ("ok", None)
    except CnnprofError as exc:
        return ("error", type(exc).__name__, str(exc))


def _answered(
    state: Any,
    handler: Callable[..., Any],
    args: tuple[Any, ...],
    limited: AbstractContextManager[None],
    progress: Callable[[str, float], None],
) -> bytes:
    """The message answering one call, pickled: ("ok", value), or ("error", class name,
    message) — also when the value cannot be pickled."""
    try:
        with limited:
            value = handler(state, progress, *args)
        answer: tuple[Any, ...] = ("ok", value)
        return pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
    except CnnprofError as exc:
        answer = ("error", type(exc).__name__, str(exc))
    except BaseException as exc:  # the model's code, or an answer it made unpicklable: one line
        answer = ("error", "LoadError", state.failed(exc))
    return pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
