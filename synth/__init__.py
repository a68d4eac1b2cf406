"""neural-strings runtime: the physics of nonlinear strings, their step kernels and the engine.

This package never imports torch; training lives in `models` (DESIGN.md section 2).

Numba caches each compiled kernel next to its source and invalidates it only when that one
file changes, not when a kernel it calls (and compiles in) does. So the cache lives in a
directory named after a hash of every compiled source of the package: any change to any
kernel starts a fresh cache; only the KEEP_CACHES most recently used are kept.
NUMBA_CACHE_DIR, if set by the user, wins.
"""

import hashlib
import os
import shutil
from pathlib import Path

__version__ = "0.1.0"

_COMPILED = ("kernels", "engine", "callback.py", "native.py")  # every source numba compiles
KEEP_CACHES = 4


def _use_versioned_numba_cache() -> None:
    if "NUMBA_CACHE_DIR" in os.environ:
        return
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for entry in _COMPILED:
        for path in sorted((here / entry).rglob("*.py")) if (here / entry).is_dir() \
                else [here / entry]:
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    try:
        import platformdirs

        root = Path(platformdirs.user_cache_dir("neural-strings"))
        directory = root / f"numba-{digest.hexdigest()[:16]}"
        directory.mkdir(parents=True, exist_ok=True)
        directory.touch()
        caches = sorted(root.glob("numba-*"), key=lambda d: d.stat().st_mtime, reverse=True)
        for old in caches[KEEP_CACHES:]:
            shutil.rmtree(old, ignore_errors=True)
    except OSError:
        return  # no writable cache directory: numba falls back to its default
    os.environ["NUMBA_CACHE_DIR"] = str(directory)


_use_versioned_numba_cache()
