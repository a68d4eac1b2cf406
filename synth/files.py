"""Writing output files safely: check the path before any long work, then write to a
temporary file beside it and rename, so a failed or interrupted write never leaves a file
that looks complete (and never damages an old file of the same name).

Files written get the usual permissions (0666 less the process's umask), whatever the
library that wrote the temporary file chose.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from synth.errors import OutputError, ParameterError


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()


def _writer() -> str:
    """Who writes a temporary file: this machine and process."""
    return f"{socket.gethostname()}-{os.getpid()}"


def check_output(path: str | os.PathLike, suffixes: tuple[str, ...] = (),
                 what: str = "the output") -> Path:
    """`path` as a Path if a file can be written there, else OutputError with the reason:
    it is a directory, its folder is missing or read-only, or its extension is not one of
    `suffixes` (lower case, with the dot; empty: any)."""
    path = Path(path)
    example = f"{path / 'out'}{suffixes[0] if suffixes else ''}"
    if path.is_dir():
        raise OutputError(f"{path} is a directory; {what} needs a file name, e.g. {example}")
    if suffixes and path.suffix.lower() not in suffixes:
        raise OutputError(f"{path}: {what} must be a {' or '.join(suffixes)} file "
                          f"(got {path.suffix or 'no extension'!r})")
    folder = path.parent
    if not folder.exists():
        raise OutputError(f"{path}: the folder {folder} does not exist")
    if not folder.is_dir():
        raise OutputError(f"{path}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: no permission to write in {folder}")
    return path


FULL_BELOW = 1 << 16  # bytes: a write that failed with less free than this hit a full disk


def free_bytes(path: str | os.PathLike) -> int | None:
    """Bytes free to this user in the folder of `path`, or None where it cannot be told."""
    try:
        stats = os.statvfs(Path(path).parent)
    except OSError:
        return None
    return stats.f_bavail * stats.f_frsize


def disk_full_message(path: str | os.PathLike) -> str | None:
    """The one-line message for a write to `path` that failed on a full disk, or None when
    the disk has room (the failure was something else)."""
    free = free_bytes(path)
    if free is None or free >= FULL_BELOW:
        return None
    return f"{path}: the disk is full ({free // 1024} KiB free); the file was not written"


def check_space(path: str | os.PathLike, needed: int, what: str = "the output") -> None:
    """OutputError, before any long work, if the disk of `path` has less than `needed`
    bytes free."""
    free = free_bytes(path)
    if free is not None and free < needed:
        raise OutputError(f"{path}: {what} needs {_size(needed)} but the disk has "
                          f"{_size(free)} free")


def _size(count: int) -> str:
    """A byte count for people: 5.8 MB, 2.1 GB."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


@contextlib.contextmanager
def replace_atomically(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path` to write the file to; on success it becomes
    `path` in one rename. On any failure the temporary file is removed, the old `path` (if
    any) is untouched, and an OSError, or a library's failure on a full disk, becomes an
    OutputError (a full disk says so)."""
    path = Path(path)
    _remove_stale_partials(path)
    temporary = path.with_name(f".{path.name}.{_writer()}.partial")
    try:
        yield temporary
        os.chmod(temporary, FILE_MODE)
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise OutputError(f"{path}: the disk is full ({error.strerror}); the file was "
                              "not written") from None
        raise OutputError(disk_full_message(path) or
                          f"{path}: cannot write ({error.strerror or error})") from None
    except Exception as error:  # a library's own write failure (libsndfile, safetensors)
        temporary.unlink(missing_ok=True)
        ours = isinstance(error, OutputError | ParameterError)
        full = None if ours else disk_full_message(path)
        if full:
            raise OutputError(full) from None
        raise
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write a text file atomically (`replace_atomically`)."""
    with replace_atomically(path) as temporary:
        temporary.write_text(text)


def save_figure(figure, path: str | os.PathLike, dpi: float | None = None) -> None:
    """Save a matplotlib figure atomically, in the format its file name says (dpi: None for
    the figure's own)."""
    path = Path(path)
    with replace_atomically(path) as temporary:
        figure.savefig(temporary, format=path.suffix.lstrip(".") or "png", dpi=dpi)


def _remove_stale_partials(path: Path) -> None:
    """Remove the temporary files of earlier writes to `path` by processes of this machine
    that are gone (killed mid-write: nothing else would ever remove them). Another
    machine's (a shared folder) are left alone: whether its writer lives cannot be told."""
    host = socket.gethostname()
    for partial in path.parent.glob(f".{glob.escape(path.name)}.{glob.escape(host)}-*.partial"):
        pid = partial.name[len(path.name) + len(host) + 3:-len(".partial")]
        if pid.isdigit() and not _running(int(pid)):
            partial.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True
