"""Writing output files safely: check the path before any long work, then write to a
temporary file beside it and rename, so a failed or interrupted write never leaves a file
that looks complete (and never damages an old file of the same name).

New files get the usual permissions (0666 less the process's umask), whatever the library
that wrote the temporary file chose.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path

from synth.errors import OutputError


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()


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


@contextlib.contextmanager
def replace_atomically(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path` to write the file to; on success it becomes
    `path` in one rename. On any failure the temporary file is removed, the old `path` (if
    any) is untouched, and an OSError becomes an OutputError (a full disk says so)."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        yield temporary
        os.chmod(temporary, FILE_MODE)
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise OutputError(f"{path}: the disk is full ({error.strerror}); the file was "
                              "not written") from None
        raise OutputError(f"{path}: cannot write ({error.strerror or error})") from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
