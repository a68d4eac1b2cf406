"""Seeded sets of simulated strings for training and testing, generated in parallel.

A config (TOML) names the set and draws each parameter uniformly from a range:

    name = "paper-train"      # directory under the dataset root
    seed = 0                  # numpy default_rng seed; parameters are drawn up front
    count = 60                # strings
    fs = 88200                # Hz
    duration = 2.0            # s
    n_modes = 75
    nonlinearity = "exact"    # "exact" | "kc" | "linear"
    excitation = "pluck"      # "pluck" | "strike"
    warp = false
    dtype = "float32"         # storage dtype of the states
    [ranges]                  # [low, high] or one fixed number, for every simulate key:
    gamma = [123.48, 174.62]  # gamma kappa nu sigma0 sigma1 x_e x_o amplitude t_e

On disk, ROOT/NAME holds manifest.json (the resolved config, its hash and every string's
simulate parameters) and strings/NNNNNN.npy, one per string: a time-major (N, 2M + 2) array
whose columns are q (M), p (M), psi and w, sample n being the state after n + 1 steps. Each
file is written atomically, so an interrupted run resumes where it stopped; a different config
under the same name is refused instead of silently overwritten.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import sys
import tomllib
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from synth.errors import DatasetError, ParameterError
from synth.files import replace_atomically
from synth.physics.simulate import SimulationSpec, simulate
from synth.progress import Progress

FORMAT = "neural-strings-dataset/1"
GENERATOR_VERSION = 1  # bump when the simulation changes what a config produces
RANGE_KEYS = ("gamma", "kappa", "nu", "sigma0", "sigma1", "x_e", "x_o", "amplitude", "t_e")
SETTING_KEYS = {"fs": (int, float), "duration": (int, float), "n_modes": (int,),
                "nonlinearity": (str,), "excitation": (str,), "warp": (bool,), "dtype": (str,)}
DEFAULTS = {"warp": False, "dtype": "float32"}
DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class DatasetConfig:
    """A parsed, validated dataset config; `settings` holds fs, duration, n_modes, ..."""

    name: str
    seed: int
    count: int
    settings: dict
    ranges: dict

    @classmethod
    def load(cls, source: str | os.PathLike) -> DatasetConfig:
        """Read a config file, or a shipped config by name ("paper-train", "paper-test")."""
        path = Path(source)
        if not path.exists():
            shipped = resources.files("synth") / "configs" / f"{source}.toml"
            if not shipped.is_file():
                names = sorted(p.name[:-5] for p in (resources.files("synth") / "configs")
                               .iterdir() if p.name.endswith(".toml"))
                raise ParameterError(f"no config file {str(source)!r} and no shipped config of "
                                     f"that name (shipped: {', '.join(names)})")
            return cls.from_dict(tomllib.loads(shipped.read_text()))
        try:
            return cls.from_dict(tomllib.loads(path.read_text()))
        except tomllib.TOMLDecodeError as error:
            raise ParameterError(f"{path}: not valid TOML: {error}") from None

    @classmethod
    def from_dict(cls, data: dict) -> DatasetConfig:
        allowed = {"name", "seed", "count", "ranges", *SETTING_KEYS}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ParameterError(f"unknown config key(s) {unknown}; allowed: {sorted(allowed)}")
        for key in ("name", "seed", "count", "ranges", "fs", "duration", "n_modes",
                    "nonlinearity", "excitation"):
            if key not in data:
                raise ParameterError(f"config is missing {key!r}")
        name = data["name"]
        if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
            raise ParameterError(f"name must be a plain directory name, got {name!r}")
        for key in ("seed", "count"):
            if isinstance(data[key], bool) or not isinstance(data[key], int) or data[key] < 0:
                raise ParameterError(f"{key} must be a whole number >= 0, got {data[key]!r}")
        if data["count"] < 1:
            raise ParameterError("count must be at least 1")
        settings = {**DEFAULTS, **{k: data[k] for k in SETTING_KEYS if k in data}}
        for key, types in SETTING_KEYS.items():
            value = settings[key]
            if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
                raise ParameterError(f"{key} has the wrong type: {value!r}")
        if settings["dtype"] not in DTYPES:
            raise ParameterError(f"dtype must be one of {DTYPES}, got {settings['dtype']!r}")
        ranges = data["ranges"]
        if not isinstance(ranges, dict):
            raise ParameterError("ranges must be a table")
        if set(ranges) != set(RANGE_KEYS):
            raise ParameterError(f"ranges must give exactly {', '.join(RANGE_KEYS)}; missing "
                                 f"{sorted(set(RANGE_KEYS) - set(ranges))}, unknown "
                                 f"{sorted(set(ranges) - set(RANGE_KEYS))}")
        resolved = {key: _range(key, ranges[key]) for key in RANGE_KEYS}
        config = cls(name, data["seed"], data["count"], settings, resolved)
        # Validate the extremes by building their specs: bad ranges fail here, not in a worker.
        for corner in (0, 1):
            SimulationSpec.from_dict(config._spec_dict({k: v[corner] for k, v in
                                                        resolved.items()}))
        return config

    def content(self) -> dict:
        """Everything that determines the generated data (all but the name)."""
        return {"seed": self.seed, "count": self.count, "settings": self.settings,
                "ranges": self.ranges, "generator": GENERATOR_VERSION}

    @property
    def hash(self) -> str:
        text = json.dumps(self.content(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def centre(self, key: str) -> float:
        """The middle of a parameter's range (one of RANGE_KEYS)."""
        low, high = self.ranges[key]
        return 0.5 * (low + high)

    def draw(self) -> list[dict]:
        """The simulate parameters of every string, drawn from the seed in a fixed order."""
        rng = np.random.default_rng(self.seed)
        columns = {key: rng.uniform(lo, hi, self.count) for key, (lo, hi) in self.ranges.items()}
        return [self._spec_dict({key: float(columns[key][i]) for key in RANGE_KEYS})
                for i in range(self.count)]

    def _spec_dict(self, values: dict) -> dict:
        settings = {k: v for k, v in self.settings.items() if k != "dtype"}
        return {**values, **settings}


def _range(key: str, value) -> list[float]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [float(value), float(value)]
    if (isinstance(value, list) and len(value) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
            and value[0] <= value[1]):
        return [float(value[0]), float(value[1])]
    raise ParameterError(f"ranges.{key} must be a number or [low, high] with low <= high, "
                         f"got {value!r}")


def string_bytes(config: DatasetConfig) -> int:
    """Bytes one string of `config` takes on disk."""
    spec = SimulationSpec.from_dict(config.draw()[0])
    return spec.n_steps * (2 * spec.n_modes + 2) * np.dtype(config.settings["dtype"]).itemsize


def generate(config: DatasetConfig, root: str | os.PathLike = "datasets", jobs: int | None = None,
             overwrite: bool = False, progress: bool = True, count: int | None = None) -> Path:
    """Generate (or finish generating) `config` under root/name and return that directory.

    jobs: worker processes (default: all cores); count: only the first `count` strings (the
    rest can follow later). Before simulating, says (with progress) how many strings and how
    much disk they take, and raises DatasetError if the disk has not that much free, or if a
    different set already lives under the same name, unless overwrite.
    """
    directory = Path(root) / config.name
    manifest_path = directory / "manifest.json"
    if manifest_path.exists():
        existing = _read_manifest(directory)
        if existing.get("config_hash") != config.hash:
            if not overwrite:
                raise DatasetError(
                    f"{directory} holds a different dataset (config hash "
                    f"{existing.get('config_hash', '?')[:12]}, requested {config.hash[:12]}); "
                    "choose another name or pass --overwrite to replace it")
            shutil.rmtree(directory)
    strings = config.draw()
    (directory / "strings").mkdir(parents=True, exist_ok=True)
    if not manifest_path.exists():
        manifest = {"format": FORMAT, "name": config.name, "config": config.content(),
                    "config_hash": config.hash, "strings": strings}
        with replace_atomically(manifest_path) as temporary:
            temporary.write_text(json.dumps(manifest, indent=1))
    wanted = config.count if count is None else min(count, config.count)
    todo = [i for i in range(wanted) if not _string_complete(directory, i, strings[i],
                                                             config.settings["dtype"])]
    if not todo:
        return directory
    size = len(todo) * string_bytes(config)
    free = shutil.disk_usage(directory).free
    if size > free:
        raise DatasetError(f"dataset {config.name}: {len(todo)} strings need "
                           f"{_gigabytes(size)} in {directory}, which has {_gigabytes(free)} "
                           "free")
    if progress:
        print(f"dataset {config.name}: simulating {len(todo)} strings, {_gigabytes(size)}, "
              f"into {directory}", file=sys.stderr, flush=True)
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(todo)))
    bar = Progress(len(todo), f"dataset {config.name}", unit=" strings", enabled=progress)
    try:
        if jobs == 1:
            for i in todo:
                _generate_string(directory, i, strings[i], config.settings["dtype"])
                bar.update()
        else:
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(jobs, mp_context=context) as pool:
                futures = [pool.submit(_generate_string, directory, i, strings[i],
                                       config.settings["dtype"]) for i in todo]
                for future in as_completed(futures):
                    future.result()
                    bar.update()
    finally:
        bar.close()
    return directory


def _gigabytes(size: int) -> str:
    return f"{size / 1e9:.2f} GB" if size >= 1e8 else f"{size / 1e6:.1f} MB"


def _generate_string(directory: Path, index: int, params: dict, dtype: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dropped modes are recorded as zeros, by design
        sim = simulate(SimulationSpec.from_dict(params), record_dtype=np.dtype(dtype))
    table = np.concatenate([sim.q_t, sim.p_t, sim.psi[:, None], sim.w[:, None]], axis=1)
    with replace_atomically(_string_path(directory, index)) as temporary, \
            open(temporary, "wb") as file:
        np.save(file, table)


def _string_path(directory: Path, index: int) -> Path:
    return directory / "strings" / f"{index:06d}.npy"


def _expected_shape(params: dict) -> tuple[int, int]:
    spec = SimulationSpec.from_dict(params)
    return spec.n_steps, 2 * spec.n_modes + 2


def _string_complete(directory: Path, index: int, params: dict, dtype: str) -> bool:
    path = _string_path(directory, index)
    if not path.exists():
        return False
    try:
        table = np.load(path, mmap_mode="r")
    except (ValueError, OSError):
        return False
    return table.shape == _expected_shape(params) and table.dtype == np.dtype(dtype)


def _read_manifest(directory: Path) -> dict:
    path = Path(directory) / "manifest.json"
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise DatasetError(f"{directory} is not a dataset: it has no manifest.json") from None
    except json.JSONDecodeError as error:
        raise DatasetError(f"{path} is corrupt: {error}") from None
    if manifest.get("format") != FORMAT:
        raise DatasetError(f"{path} has format {manifest.get('format')!r}, expected {FORMAT!r}")
    return manifest


@dataclass(frozen=True)
class StoredString:
    """One stored string: its simulate parameters and memory-mapped, time-major states."""

    params: dict
    q: np.ndarray  # (N, M)
    p: np.ndarray  # (N, M)
    psi: np.ndarray  # (N,)
    w: np.ndarray  # (N,)


class StoredDataset:
    """A generated dataset on disk, read lazily (files are memory-mapped, not loaded); with
    `count`, only its first `count` strings (those must be complete)."""

    def __init__(self, directory: str | os.PathLike, count: int | None = None) -> None:
        self.directory = Path(directory)
        self.manifest = _read_manifest(self.directory)
        self.strings = self.manifest["strings"][:count]
        dtype = self.manifest["config"]["settings"]["dtype"]
        missing = [i for i, params in enumerate(self.strings)
                   if not _string_complete(self.directory, i, params, dtype)]
        if missing:
            raise DatasetError(f"{self.directory} is incomplete: {len(missing)} of "
                               f"{len(self.strings)} strings are missing (first: {missing[0]}); "
                               "run `neural-strings dataset` again to finish it")

    @property
    def name(self) -> str:
        return self.manifest["name"]

    @property
    def settings(self) -> dict:
        return self.manifest["config"]["settings"]

    def __len__(self) -> int:
        return len(self.strings)

    def __getitem__(self, index: int) -> StoredString:
        if not -len(self) <= index < len(self):
            raise IndexError(f"string {index} out of range for {len(self)} strings")
        index %= len(self)
        table = np.load(_string_path(self.directory, index), mmap_mode="r")
        n_modes = self.settings["n_modes"]
        return StoredString(self.strings[index], table[:, :n_modes],
                            table[:, n_modes:2 * n_modes], table[:, 2 * n_modes],
                            table[:, 2 * n_modes + 1])
