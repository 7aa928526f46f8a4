"""A user's files, read and written so that they are never damaged and never hang a run.

Every write goes to a temporary file in the target's directory (a symlink is written through: the
file it points to is the target, the link stays), is flushed and fsynced, and then replaces the
target in one `os.replace`: a reader sees the old file or the new one, never a part,
and a failure at any point (a full disk, a read-only directory, an interrupt) leaves the old file
as it was. `update` serialises concurrent updaters of one file with a lock and checks, before it
replaces the file, that nobody changed it since it was read (compare-and-swap), so an update is
never lost silently. Only regular files are read or replaced: a FIFO or a device is refused before
it is opened for reading (it could block forever) or replaced.

Below every stage: errors only.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, TypeVar

from cnnprof.errors import OptionError

try:  # POSIX: updaters queue on a lock; elsewhere the compare-and-swap alone refuses a race
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

T = TypeVar("T")
MAX_INPUT_BYTES = 8 * 2**20  # a spec, budget or baseline larger than this is refused unread
KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a directory"),
)


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _refuse_special(mode: int, path: Path, label: str) -> None:
    for test, kind in KINDS:
        if test(mode):
            raise OptionError(f"{label} {path}: is {kind}, not a regular file")


def exists(path: Path, label: str) -> bool:
    """Whether ``path`` names a regular file (False: nothing there); anything else that is
    there, or a name the system refuses (too long, …), is an `OptionError`."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return False
    except OSError as exc:
        if exc.errno == errno.ENOTDIR:
            return False
        raise OptionError(f"{label} {path}: {_why(exc)}") from None
    _refuse_special(mode, path, label)
    return True


def read_bytes(path: Path, label: str, limit: int | None = None) -> bytes:
    """The content of the regular file ``path``, at most ``limit`` bytes (more is refused).
    Opened without blocking, so a FIFO is refused rather than waited on."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise OptionError(f"{label} {path}: cannot read: {_why(exc)}") from None
    with os.fdopen(fd, "rb") as fh:
        _refuse_special(os.fstat(fd).st_mode, path, label)
        try:
            data = fh.read() if limit is None else fh.read(limit + 1)
        except OSError as exc:
            raise OptionError(f"{label} {path}: cannot read: {_why(exc)}") from None
    if limit is not None and len(data) > limit:
        raise OptionError(f"{label} {path}: larger than {limit:,} bytes; refused")
    return data


def read_text(path: Path, label: str, limit: int | None = None) -> str:
    data = read_bytes(path, label, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise OptionError(f"{label} {path}: not UTF-8 text (byte {exc.start})") from None


def parse_file(
    path: Path, label: str, parse: Callable[[str], tuple[T | None, str | None]], limit: int
) -> tuple[T | None, str | None]:
    """``parse`` of the text in ``path`` (a value, and what makes it unusable or None), or
    (None, why it could not be read): for records whose every problem becomes a note."""
    try:
        text = read_text(path, label, limit)
    except OptionError as exc:
        return None, str(exc)
    return parse(text)


@contextlib.contextmanager
def replacing(path: Path, label: str) -> Iterator[BinaryIO]:
    """A binary file to write ``path``'s new content into; on leaving the block without an
    error it is flushed, fsynced and replaces ``path`` atomically (keeping ``path``'s
    permissions). A symlink is written through: its target is replaced, from beside the target,
    and the link stays. On any error the temporary file is removed and ``path`` is untouched."""
    existed = exists(path, label)
    if existed and not os.stat(path).st_mode & 0o222:  # its owner made it read-only: respected
        raise OptionError(f"{label} {path}: the file is read-only; nothing written")
    target = Path(os.path.realpath(path))
    directory = target.parent
    try:
        fd, temporary = tempfile.mkstemp(prefix=".cnnprof-", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise OptionError(f"{label} {path}: cannot write: {_why(exc)}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(temporary, _mode(target))
        os.replace(temporary, target)
    except OSError as exc:
        _remove(temporary)
        kept = "; the file is unchanged" if existed else ""
        raise OptionError(f"{label} {path}: cannot write: {_why(exc)}{kept}") from None
    except BaseException:
        _remove(temporary)
        raise
    _sync_directory(directory)


def _mode(path: Path) -> int:
    """The permissions the new file gets: the old file's, or what the umask allows."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable where the system allows opening a directory."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write(path: Path, data: str | bytes, label: str) -> None:
    """Replace ``path`` with ``data`` (text is written as UTF-8), atomically."""
    with replacing(path, label) as fh:
        fh.write(data.encode("utf-8") if isinstance(data, str) else data)


@contextlib.contextmanager
def _locked(path: Path, label: str) -> Iterator[int]:
    """An open descriptor of ``path`` holding its exclusive lock. The lock is taken on the file
    the name points to once it is held: a file replaced while we waited is locked afresh."""
    while True:
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        except OSError as exc:
            raise OptionError(f"{label} {path}: cannot read: {_why(exc)}") from None
        try:
            _refuse_special(os.fstat(fd).st_mode, path, label)
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                break
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    try:
        yield fd
    finally:
        os.close(fd)  # closing releases the lock


def update(path: Path, change: Callable[[bytes], bytes], label: str) -> None:
    """Rewrite ``path`` as ``change(old content)``: one updater at a time, and only if the file
    still holds what ``change`` was given (otherwise nothing is written and an error says so)."""
    with _locked(path, label) as fd:
        with os.fdopen(os.dup(fd), "rb") as fh:
            before = fh.read()
        after = change(before)
        if read_bytes(path, label) != before:
            raise OptionError(
                f"{label} {path}: changed by another process while it was being "
                "updated; nothing written, run the update again"
            )
        write(path, after, label)


def available_bytes() -> int:
    """Memory this machine can give now (Linux: MemAvailable), else its physical memory: the
    bound on what a file or a model's tensors may take."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
