"""The installed model kinds, found through the entry point group "neural_strings.kinds".

Each entry point names a `synth.kinds.Kind` record (`name = "package.module:RECORD"`, the
entry point's name being the kind's). The shipped kinds register this way too, in
pyproject.toml. Kinds are loaded once per process, on first use. A plugin that cannot be
loaded, or that breaks the contract, is reported once (a `PluginWarning` naming the
package) and skipped; everything else keeps working.
"""

from __future__ import annotations

import dataclasses
import functools

from numba.core.dispatcher import Dispatcher

from synth import KINDS_GROUP as GROUP
from synth.errors import PresetError
from synth.kinds.contract import CONTRACT, Kind, VoiceKernels
from synth.plugins import load, record_fault


@functools.cache
def installed_kinds() -> dict[str, Kind]:
    """Every kind that loads and keeps the contract, by name."""
    kinds: dict[str, Kind] = {}
    for _, kind, package in load(GROUP, "model kind",
                                 lambda name, record: _fault(name, record, kinds)):
        kinds[kind.name] = kind if kind.package else dataclasses.replace(kind, package=package)
    return kinds


def find_kind(name: str, package: str | None = None) -> Kind:
    """The installed kind called `name`; PresetError says it is missing, and which package
    provides it when `package` (a preset's hint) is given."""
    kinds = installed_kinds()
    if name in kinds:
        return kinds[name]
    where = (f"install the package {package!r} that provides it (pip install {package})"
             if package else "install the package that provides it (a neural_strings.kinds "
                             "plugin)")
    raise PresetError(f"model kind {name!r} is not installed; {where}. Installed kinds: "
                      f"{', '.join(kinds) or 'none'}")


def kind_for_voices(voices_class: type) -> Kind:
    """The kind whose voices are of `voices_class` (the engine's compile-time dispatch)."""
    for kind in installed_kinds().values():
        if kind.voices_class is voices_class:
            return kind
    raise KeyError(f"no installed kind plays voices of class {voices_class.__name__}")


def _fault(name: str, kind, others: dict[str, Kind]) -> str | None:
    """What makes `kind` unusable as the kind called `name`, or None."""
    fault = record_fault(name, kind, Kind, CONTRACT, "kind", "plays")
    if fault:
        return fault
    if not isinstance(kind.kernels, VoiceKernels):
        return "its kernels are not a synth.kinds.VoiceKernels"
    plain = [field for field, f in kind.kernels.__dict__.items() if not isinstance(f, Dispatcher)]
    if plain:
        return f"kernel(s) {', '.join(plain)} are not compiled (numba.njit) functions"
    if not (isinstance(kind.voices_class, type) and issubclass(kind.voices_class, tuple)
            and hasattr(kind.voices_class, "_fields")):
        return "its voices_class is not a NamedTuple class"
    clash = next((k.name for k in others.values() if k.voices_class is kind.voices_class
                  and k.kernels != kind.kernels), None)
    if clash:
        return f"its voices_class is also the voices of {clash!r}, with other kernels"
    return None
