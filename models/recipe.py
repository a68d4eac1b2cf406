"""Training recipes: one TOML file names everything a training run depends on.

    name = "gradnet-128"          # the run directory is RUNS/NAME
    seed = 0
    dataset = "paper-train"       # a dataset config: a path (relative to this file's folder)
                                  # or a shipped name; generated if missing
    dataset_root = "datasets"     # relative to the current directory
    dtype = "float32"             # training precision: "float32" | "float64"

    [model]
    family = "gradnet"            # an installed family (`models.family`): gradnet, koopman,
                                  # ssm (playable), verlet-node, fno (offline baselines), or
                                  # a plugin's; gradnet when left out
    n_modes = 75
    hidden = 128                  # ... and the family's own options (`Family.options`):
    activation = "leaky"          # gradnet: hidden, activation ("leaky" | "stretch");
                                  # koopman: hidden, copies; ssm: hidden, copies, rank;
                                  # verlet-node, fno: hidden

    [pretrain]                    # phase 1 (`models.schemes`): force matching on single
    steps = 2000                  # recorded steps, or windows of the first 0.1 s; 0: skip
    batch = 4096
    lr = 1e-2                     # cosine decay to train.lr

    [train]                       # phase 2: teacher-forced segments, or longer windows
    optimiser = "adam"            # "adam" | "adamw" (weight decay 1e-4) | "sgd" (momentum 0.9),
                                  # for both phases
    segment_ms = 1.0              # segment (or window) length
    batch = 256                   # segments (windows: strings) per step
    epochs = 4
    steps_per_epoch = 200
    lr = 1e-3
    lr_final = 1e-5               # cosine decay over all phase 2 steps
    clip = 1.0                    # gradient norm clip (0: none)
    validation = 512              # fixed validation segments

A recipe's hash covers every field, so a run directory is never resumed with another recipe.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from models.family import find_family
from synth.dataset import DatasetConfig
from synth.errors import ParameterError

DTYPES = ("float32", "float64")
OPTIMISERS = ("adam", "adamw", "sgd")
DEFAULT_FAMILY = "gradnet"
DEFAULT_MODES = 75
# Fields whose value the first runs had implicitly: `as_dict` leaves them out at that value,
# so older runs and presets keep their digests.
IMPLICIT = {"family": DEFAULT_FAMILY, "optimiser": "adam"}


@dataclass(frozen=True)
class PretrainPhase:
    steps: int = 2000
    batch: int = 4096
    lr: float = 3e-3


@dataclass(frozen=True)
class SegmentPhase:
    optimiser: str = "adam"
    segment_ms: float = 1.0
    batch: int = 256
    epochs: int = 4
    steps_per_epoch: int = 200
    lr: float = 1e-3
    lr_final: float = 1e-5
    clip: float = 1.0
    validation: int = 512


@dataclass(frozen=True)
class Recipe:
    name: str
    dataset: str
    seed: int = 0
    dataset_root: str = "datasets"
    dtype: str = "float32"
    family: str = DEFAULT_FAMILY
    n_modes: int = DEFAULT_MODES
    model: dict = field(default_factory=dict)  # the family's options, every one given
    pretrain: PretrainPhase = field(default_factory=PretrainPhase)
    train: SegmentPhase = field(default_factory=SegmentPhase)
    source: str = ""  # the file it was read from, absolute (not hashed)

    @classmethod
    def load(cls, path) -> Recipe:
        """Read a recipe file (`dataset_config` takes a relative dataset path from its
        folder)."""
        path = Path(path)
        recipe = cls.from_dict(read_toml(path, "recipe file"), where=str(path))
        return cls(**{**recipe.__dict__, "source": str(path.resolve())})

    def dataset_file(self) -> str:
        """The dataset config as a path or shipped name: a relative path (one ending in .toml
        or holding a folder) is taken from the recipe file's folder."""
        dataset = Path(self.dataset)
        looks_like_path = dataset.suffix == ".toml" or len(dataset.parts) > 1
        if self.source and looks_like_path and not dataset.is_absolute():
            return str(Path(self.source).parent / dataset)
        return self.dataset

    def dataset_config(self) -> DatasetConfig:
        """The recipe's dataset config (ParameterError if there is none)."""
        return DatasetConfig.load(self.dataset_file())

    @classmethod
    def from_dict(cls, data: dict, where: str = "recipe") -> Recipe:
        data = dict(data)
        model = data.pop("model", {})
        if not isinstance(model, dict):
            raise ParameterError(f"{where}: [model] must be a table")
        model = dict(model)
        family = find_family(model.pop("family", DEFAULT_FAMILY), where)
        n_modes = model.pop("n_modes", DEFAULT_MODES)
        unknown = sorted(set(model) - set(family.options))
        if unknown:
            raise ParameterError(f"{where}: unknown key(s) in [model] for family "
                                 f"{family.name!r}: {', '.join(unknown)}; allowed: family, "
                                 f"n_modes, {', '.join(family.options)}")
        options = {key: model.get(key, default) for key, default in family.options.items()}
        for key, value in options.items():
            default = family.options[key]
            if type(value) is not type(default) and not (
                    isinstance(default, float) and type(value) is int):
                raise ParameterError(f"{where}: model.{key} must be of type "
                                     f"{type(default).__name__}, got {value!r}")
        family.check(options, where)
        pretrain = _section(data, "pretrain", where, set(PretrainPhase.__dataclass_fields__))
        train = _section(data, "train", where, set(SegmentPhase.__dataclass_fields__))
        top = {"name", "dataset", "seed", "dataset_root", "dtype"}
        unknown = sorted(set(data) - top)
        if unknown:
            raise ParameterError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: "
                                 f"{', '.join(sorted(top))} and [model], [pretrain], [train]")
        for key in ("name", "dataset"):
            if not isinstance(data.get(key), str) or not data[key]:
                raise ParameterError(f"{where}: {key!r} must be a non-empty string")
        recipe = cls(**data, family=family.name, n_modes=n_modes, model=options,
                     pretrain=PretrainPhase(**pretrain), train=SegmentPhase(**train))
        recipe._check(where)
        return recipe

    def _check(self, where: str) -> None:
        if self.train.optimiser not in OPTIMISERS:
            raise ParameterError(f"{where}: train.optimiser must be one of {OPTIMISERS}, got "
                                 f"{self.train.optimiser!r}")
        if self.dtype not in DTYPES:
            raise ParameterError(f"{where}: dtype must be one of {DTYPES}, got {self.dtype!r}")
        counts = {"seed": self.seed, "model.n_modes": self.n_modes,
                  "pretrain.steps": self.pretrain.steps, "pretrain.batch": self.pretrain.batch,
                  "train.batch": self.train.batch, "train.epochs": self.train.epochs,
                  "train.steps_per_epoch": self.train.steps_per_epoch,
                  "train.validation": self.train.validation,
                  **{f"model.{k}": v for k, v in self.model.items() if type(v) is int}}
        for name, value in counts.items():
            positive = name not in ("seed", "pretrain.steps", "train.epochs")
            if isinstance(value, bool) or not isinstance(value, int) or value < int(positive):
                raise ParameterError(f"{where}: {name} must be an integer >= {int(positive)}, "
                                     f"got {value!r}")
        rates = {"pretrain.lr": self.pretrain.lr, "train.lr": self.train.lr,
                 "train.lr_final": self.train.lr_final, "train.segment_ms": self.train.segment_ms,
                 "train.clip": self.train.clip}
        for name, value in rates.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
                raise ParameterError(f"{where}: {name} must be a number >= 0, got {value!r}")
        if self.train.segment_ms <= 0:
            raise ParameterError(f"{where}: train.segment_ms must be > 0")

    def option(self, name: str):
        """The value of the family's option `name`."""
        return self.model[name]

    def with_options(self, **options) -> Recipe:
        """The same recipe with some of the family's options changed."""
        return Recipe(**{**self.__dict__, "model": {**self.model, **options}})

    @classmethod
    def from_stored(cls, data: dict, source: str = "") -> Recipe:
        """A recipe from `as_dict` output (as checkpoints store it, with the file it was read
        from, `source`); options and fields added since take their defaults, so older runs
        still resume."""
        family = find_family(data.get("family", DEFAULT_FAMILY), "stored recipe")
        model = {key: data.get(key, default) for key, default in family.options.items()}
        top = {k: v for k, v in data.items() if k in ("name", "dataset", "seed",
                                                      "dataset_root", "dtype", "n_modes")}
        return cls(**top, family=family.name, model=model,
                   pretrain=PretrainPhase(**data.get("pretrain", {})),
                   train=SegmentPhase(**data.get("train", {})), source=source)

    def as_dict(self) -> dict:
        """Every field, the family's options among the top-level ones; the family and the
        optimiser are left out at the values the first runs had implicitly, so older runs
        and presets keep their digests."""
        data = {"name": self.name, "dataset": self.dataset, "seed": self.seed,
                "dataset_root": self.dataset_root, "dtype": self.dtype,
                "n_modes": self.n_modes, **self.model}
        if self.family != IMPLICIT["family"]:
            data["family"] = self.family
        data["pretrain"] = asdict(self.pretrain)
        data["train"] = asdict(self.train)
        if data["train"]["optimiser"] == IMPLICIT["optimiser"]:
            data["train"].pop("optimiser")
        return data

    def digest(self) -> str:
        """A short hash of every field (not of where the file lives)."""
        text = json.dumps(self.as_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_toml(path: Path, what: str) -> dict:
    """The TOML file at `path` as a dict; ParameterError names a missing or invalid one
    (`what` says what it should have been, e.g. "recipe file")."""
    try:
        return tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ParameterError(f"no {what} {str(path)!r}") from None
    except IsADirectoryError:
        raise ParameterError(f"{path} is a directory, not a {what}") from None
    except tomllib.TOMLDecodeError as error:
        raise ParameterError(f"{path}: not valid TOML: {error}") from None


def _section(data: dict, name: str, where: str, allowed: set) -> dict:
    section = data.pop(name, {})
    if not isinstance(section, dict):
        raise ParameterError(f"{where}: [{name}] must be a table")
    unknown = sorted(set(section) - allowed)
    if unknown:
        raise ParameterError(f"{where}: unknown key(s) in [{name}]: {', '.join(unknown)}; "
                             f"allowed: {', '.join(sorted(allowed))}")
    return section
