"""neural-strings runtime: the physics of nonlinear strings, their step kernels and the engine.

This package never imports torch; training lives in `models` (docs/design.md, "Layers").

Numba caches each compiled kernel next to its source and invalidates it only when that one
file changes, not when a kernel it calls (and compiles in) does. So the cache lives in a
directory named after a hash of every compiled source of the package and of the installed
kind plugins (whose kernels the engine compiles in): any change to any kernel starts a fresh
cache; only the KEEP_CACHES most recently used are kept. NUMBA_CACHE_DIR, if set by the
user, wins.
"""

import hashlib
import importlib.util
import os
import shutil
from importlib.metadata import entry_points
from pathlib import Path

__version__ = "0.1.0"

# every source numba compiles, or whose functions or constants it compiles in (the physics
# formulas that `synth.kernels.formulas` compiles; the key table's and the controls' layouts)
_COMPILED = ("kernels", "engine", "kinds", "callback.py", "native.py", "physics/modes.py",
             "physics/strings.py", "physics/hammer.py", "physics/losses.py",
             "physics/pluck.py", "keyboards.py", "params.py")
# (warm.py, which compiles in a second process, is not: it only calls compiled code)
KEEP_CACHES = 4
KINDS_GROUP = "neural_strings.kinds"  # the entry point group of model kinds (`synth.kinds`)


def _sources() -> list[Path]:
    """The compiled sources of synth and of every package that provides a model kind."""
    here = Path(__file__).resolve().parent
    files = []
    for entry in _COMPILED:
        path = here / entry
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    packages = {point.value.split(":")[0].split(".")[0]
                for point in entry_points(group=KINDS_GROUP)} - {"synth"}
    for package in sorted(packages):
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            continue  # a broken plugin is reported when the kinds load
        for location in (spec.submodule_search_locations or []) if spec else []:
            files += sorted(Path(location).rglob("*.py"))
    return files


def _use_versioned_numba_cache() -> None:
    if "NUMBA_CACHE_DIR" in os.environ:
        return
    digest = hashlib.sha256()
    for path in _sources():
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
