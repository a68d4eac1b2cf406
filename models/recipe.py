"""Training recipes: one TOML file names everything a training run depends on.

    name = "gradnet-128"          # the run directory is RUNS/NAME
    seed = 0
    dataset = "paper-train"       # a dataset config (path or shipped name), generated if missing
    dataset_root = "datasets"
    dtype = "float32"             # training precision: "float32" | "float64"

    [model]
    family = "gradnet"            # "gradnet" (SAV-GradNet, playable) | "koopman" | "ssm"
                                  # (playable, one string: models/koopman.py, models/ssm.py)
                                  # | "verlet-node" | "fno" (offline baselines:
                                  # models/verlet.py, models/baselines/fno.py)
    hidden = 128                  # GradNet units (verlet-node: units of each of 2 layers;
                                  # koopman, ssm: units of each encoder / gate layer;
                                  # fno: channels)
    n_modes = 75
    activation = "leaky"          # "leaky" (the paper's) | "stretch" (smooth, see gradnet.py)
    copies = 8                    # koopman, ssm: oscillators per mode
    rank = 8                      # ssm: gate outputs

    [pretrain]                    # force matching on single recorded steps (koopman, ssm:
                                  # windows of the first 0.1 s); 0 steps: skip
    steps = 2000
    batch = 4096
    lr = 1e-2                     # cosine decay to train.lr

    [train]                       # teacher-forced segments through the SAV scheme
    optimiser = "adam"            # "adam" | "adamw" (weight decay 1e-4) | "sgd" (momentum 0.9),
                                  # for both phases
    segment_ms = 1.0              # koopman, ssm: the window from the onset
    batch = 256                   # segments (koopman, ssm: strings) per step
    epochs = 4
    steps_per_epoch = 200
    lr = 1e-3
    lr_final = 1e-5               # cosine decay over all segment steps
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

from synth.errors import ParameterError

DTYPES = ("float32", "float64")
OPTIMISERS = ("adam", "adamw", "sgd")
ACTIVATIONS = ("leaky", "stretch")
FAMILIES = ("gradnet", "verlet-node", "fno", "koopman", "ssm")
SEQUENCE_FAMILIES = ("koopman", "ssm")  # trained on windows from the onset, not segments
# Fields added after the first runs, with the value those runs had implicitly: `as_dict`
# leaves them out at that value, so older runs and presets keep their digests.
LATER_FIELDS = {("family",): "gradnet", ("copies",): 8, ("rank",): 8,
                ("train", "optimiser"): "adam"}


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
    hidden: int = 128
    n_modes: int = 75
    activation: str = "leaky"
    family: str = "gradnet"
    copies: int = 8
    rank: int = 8
    pretrain: PretrainPhase = field(default_factory=PretrainPhase)
    train: SegmentPhase = field(default_factory=SegmentPhase)
    source: str = ""  # the file it was read from (not hashed)

    @classmethod
    def load(cls, path) -> Recipe:
        path = Path(path)
        data = read_toml(path, "recipe file")
        recipe = cls.from_dict(data, where=str(path))
        return cls(**{**recipe.__dict__, "source": str(path)})

    @classmethod
    def from_dict(cls, data: dict, where: str = "recipe") -> Recipe:
        data = dict(data)
        model = _section(data, "model", where, {"family", "hidden", "n_modes", "activation",
                                              "copies", "rank"})
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
        recipe = cls(**data, **model, pretrain=PretrainPhase(**pretrain),
                     train=SegmentPhase(**train))
        recipe._check(where)
        return recipe

    def _check(self, where: str) -> None:
        if self.family not in FAMILIES:
            raise ParameterError(f"{where}: model.family must be one of {FAMILIES}, got "
                                 f"{self.family!r}")
        if self.activation not in ACTIVATIONS:
            raise ParameterError(f"{where}: model.activation must be one of {ACTIVATIONS}, "
                                 f"got {self.activation!r}")
        if self.train.optimiser not in OPTIMISERS:
            raise ParameterError(f"{where}: train.optimiser must be one of {OPTIMISERS}, got "
                                 f"{self.train.optimiser!r}")
        if self.dtype not in DTYPES:
            raise ParameterError(f"{where}: dtype must be one of {DTYPES}, got {self.dtype!r}")
        counts = {"seed": self.seed, "model.hidden": self.hidden, "model.n_modes": self.n_modes,
                  "model.copies": self.copies, "model.rank": self.rank,
                  "pretrain.steps": self.pretrain.steps, "pretrain.batch": self.pretrain.batch,
                  "train.batch": self.train.batch, "train.epochs": self.train.epochs,
                  "train.steps_per_epoch": self.train.steps_per_epoch,
                  "train.validation": self.train.validation}
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

    @classmethod
    def from_stored(cls, data: dict) -> Recipe:
        """A recipe from `as_dict` output (as checkpoints store it); fields added since take
        their defaults, so older runs still resume."""
        data = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**{**data, "pretrain": PretrainPhase(**data.get("pretrain", {})),
                      "train": SegmentPhase(**data.get("train", {}))})

    def as_dict(self) -> dict:
        """Every field, except fields added since the first runs while they keep the value
        those runs had implicitly: so older runs and presets keep their digests."""
        data = asdict(self)
        data.pop("source")
        for path, value in LATER_FIELDS.items():
            *sections, key = path
            table = data
            for section in sections:
                table = table[section]
            if table[key] == value:
                table.pop(key)
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
