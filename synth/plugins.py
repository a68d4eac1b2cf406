"""Loading what installed packages register through an entry point group: model kinds
(`synth.kinds.registry`), training families (`models.family`) and command-line plugins
(`synth.cli`).

Every entry point of a group loads once, in name order. One that cannot be imported, or whose
record the group's check rejects, is reported once, as a `PluginWarning` naming it and its
package, and skipped: whatever else is installed keeps working.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from importlib.metadata import entry_points

from synth.errors import PluginWarning


def load(group: str, what: str,
         fault: Callable[[str, object], str | None] = lambda name, record: None
         ) -> list[tuple[str, object, str]]:
    """(entry point name, loaded object, package) of every entry point of `group` that loads
    and passes `fault` (which returns what is wrong, or None); `what` names the records in
    the warning ("model kind", ...)."""
    loaded = []
    for point in sorted(entry_points(group=group), key=lambda p: p.name):
        package = point.dist.name if point.dist is not None else "an unknown package"
        try:
            record = point.load()
            problem = fault(point.name, record)
        except Exception as error:  # a plugin may fail in any way; the rest carries on
            problem = f"it does not load ({type(error).__name__}: {error})"
        if problem:
            warnings.warn(PluginWarning(f"{what} {point.name!r} from package {package!r} is "
                                        f"skipped: {problem}"), stacklevel=3)
            continue
        loaded.append((point.name, record, package))
    return loaded


def record_fault(name: str, record, record_type: type, contract: int,
                 contract_of: str, verb: str) -> str | None:
    """What every group checks first: that the entry point called `name` names a
    `record_type` written for this `contract` and called `name`; the message speaks of the
    "kind" or "family" contract (`contract_of`) that this package "plays" or "trains" (`verb`)."""
    if not isinstance(record, record_type):
        return (f"its entry point names a {type(record).__name__}, not a "
                f"{record_type.__module__}.{record_type.__name__}")
    if record.contract != contract:
        return (f"it was written for {contract_of} contract {record.contract}; this "
                f"neural-strings {verb} contract {contract}")
    if record.name != name:
        return f"its record is called {record.name!r}, its entry point {name!r}"
    return None
