"""The contract of a training family, and the installed families.

A family is what `neural-strings train` trains: one `Family` record holds its network
factory, the recipe options it takes, how it trains (`models.schemes`) and how a trained
network becomes a playable preset (or, for an offline baseline, how it runs for
`neural-strings compare`). `train`, `export`, `compare` and the command line read every fact
about a family from its record.

The shipped families (gradnet, koopman, ssm, verlet-node, fno) and any installed plugin
register the same way, through the entry point group "neural_strings.families"; a plugin
that cannot be loaded or breaks the contract is reported once, naming its package, and
skipped. docs/design.md ("Model kinds as plugins") walks through the example plugin.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from synth.errors import ParameterError
from synth.plugins import load, record_fault

GROUP = "neural_strings.families"
CONTRACT = 1  # the version of this contract; a plugin built for another is skipped


@dataclass(frozen=True)
class Family:
    """A training family.

    name: the recipe's [model] family; title: what it is, in a line;
    options: the recipe's other [model] keys with their defaults (n_modes is every
        family's); a recipe's value must have its default's type;
    network(recipe, dtype) -> nn.Module: the network to train, for `recipe` (a
        `models.recipe.Recipe`) in torch dtype `dtype`;
    scheme: how it trains, a `models.schemes` training scheme (`SegmentTraining`,
        `WindowTraining`) or any object with the same three methods;
    export(recipe, config, network, name) -> synth.presets.Preset: the playable preset of a
        trained network (float64, on the CPU), without provenance and with output gain 1
        (`models.export` adds both); None for an offline baseline;
    free_run(network, strings, n_steps) -> {"q": (B, N, M), "w": (B, N)}: an offline
        baseline's free run of a `models.strings.StringBatch` from rest, for compare;
    check(options, where): options (a dict) checked beyond their types; raise
        ParameterError naming `where`;
    contract: the `CONTRACT` it was written for; package: the distribution that provides it
        (set by the registry).
    """

    name: str
    title: str
    options: dict
    network: Callable
    scheme: object
    export: Callable | None = None
    free_run: Callable | None = None
    check: Callable = field(default=lambda options, where: None)
    contract: int = CONTRACT
    package: str = ""

    @property
    def playable(self) -> bool:
        return self.export is not None


@functools.cache
def installed_families() -> dict[str, Family]:
    """Every family that loads and keeps the contract, by name."""
    families: dict[str, Family] = {}
    for _, family, package in load(GROUP, "training family", _fault):
        families[family.name] = (family if family.package
                                 else dataclasses.replace(family, package=package))
    return families


def find_family(name: str, where: str = "recipe") -> Family:
    """The installed family called `name`; ParameterError lists the installed ones."""
    families = installed_families()
    if name not in families:
        raise ParameterError(f"{where}: model.family must be one of {', '.join(families)}, "
                             f"got {name!r} (a family from another package needs that "
                             "package installed)")
    return families[name]


def _fault(name: str, family) -> str | None:
    fault = record_fault(name, family, Family, CONTRACT, "family", "trains")
    if fault:
        return fault
    missing = [method for method in ("samplers", "calibrate", "loss")
               if not callable(getattr(family.scheme, method, None))]
    if missing:
        return f"its scheme lacks {', '.join(missing)}"
    return None
