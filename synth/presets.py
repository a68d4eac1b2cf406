"""Presets: one `.safetensors` file holding a model's weights and a JSON description.

The file's tensors are the model's weights (none for `sav-physics`); its metadata holds one
key, "neural_strings", whose JSON value is

    {"format": "neural-strings-preset", "version": 1,
     "kind": str,                          # the model kind (`synth.kinds`)
     "package": str,                       # optional: the package providing a plugin kind
     "name": str, "description": str,
     "model": {"n_modes": int, ...},       # the kind's own settings (its `check_model`)
     "string": {"reference_note": float,   # MIDI note at which `normalised` is tuned
                "normalised": {"gamma", "kappa", "nu", "sigma0", "sigma1"},
                "physical": {"length", "tension", "linear_density", "youngs_modulus",
                             "radius", "t60_low": [Hz, s], "t60_high": [Hz, s]} | null},
     "excitation": {"type": "pluck" | "strike" | "hammer", "position": float,
                    "width_ms": float,
                    "amplitude": float,    # normalised force at velocity 127
                    "hammer": {"mass", "stiffness", "exponent", "width",
                               "speeds": [softest, hardest]}},   # optional, SI units
                                           # (`synth.physics.hammer.Hammer`)
     "pickup": float, "output_gain": float,
     "controls": {param name: default value},   # optional overrides of the defaults
     "body": {"name", "spread", "range", "provenance"} | null,   # optional (`synth.bodies`)
     "keyboard": {"name", "range", "provenance"},   # optional: a string per key
                                                    # (`synth.keyboards`)
     "provenance": {...}}                       # sources, recipe, seeds, metrics

Which tensors a preset carries, their shapes and the dtype they are stored in are the kind's
to say (`Kind.tensors`); in memory they are float64. A preset with a body also carries the
body's tensors ("body.frequencies", "body.decays", "body.gains", float64), one with a
keyboard its tensors ("keyboard.strings", "keyboard.excitation", float64).

Loading never unpickles anything; a
broken, truncated, wrong-version or non-finite file, or one of a kind that is not installed,
is refused with a PresetError naming the file and the fault. So is one outside what can
play: more than MAX_PRESET_MODES modes, a tensor value beyond +-MAX_TENSOR_VALUE (named),
or a scalar outside RANGES.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import platformdirs
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save_file

from synth import keyboards
from synth.bodies import Body, body_from_file
from synth.errors import OutputError, ParameterError, PresetError, one_line
from synth.files import replace_atomically
from synth.kernels.formulas import HAMMER, PLUCK, STRIKE, excitation_record
from synth.keyboards import Keyboard, keyboard_from_file, single_string
from synth.kinds import find_kind, installed_kinds
from synth.params import PARAMS
from synth.physics.hammer import Hammer
from synth.physics.losses import scheme_losses
from synth.physics.modes import check_mode_count
from synth.physics.strings import PhysicalString, StringParams

FORMAT, VERSION = "neural-strings-preset", 1
MAX_PRESET_MODES = 256  # one voice of the costliest kind at 256 modes: ~3x real time, 2 cores
MAX_TENSOR_VALUE = 1e5  # |every weight| (the shipped presets stay below 1e3)
RANGES = {  # the scalars of a description: (lowest, highest), both excluded
    "string.reference_note": (-1.0, 128.0), "excitation.position": (0.0, 1.0),
    "excitation.width_ms": (0.0, 50.0), "excitation.amplitude": (0.0, 1e7),
    "pickup": (0.0, 1.0), "output_gain": (0.0, 1e4)}
METADATA_KEY = "neural_strings"
SHIPPED = Path(__file__).resolve().parent.parent / "presets"
DEFAULT_PRESET = "nylon-guitar"
NEURAL_STRINGS = "neural-strings"  # the package of the shipped kinds
EXCITATION_TYPES = ("pluck", "strike", "hammer")


@dataclass(frozen=True, eq=False)
class Preset:
    """A playable model: its kind and the kind's settings (`model`) and tensors, its string,
    excitation and pickup defaults, and what the window shows of it."""

    name: str
    kind: str
    n_modes: int
    model: dict  # the kind's settings, as in the file's "model" table (without n_modes)
    string: StringParams
    reference_note: float
    excitation_type: str
    pluck_position: float
    excitation_width_ms: float
    amplitude: float
    pickup: float
    output_gain: float
    description: str = ""
    physical: PhysicalString | None = None
    controls: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)
    tensors: dict = field(default_factory=dict)  # name -> float64 array
    body: Body | None = None  # the instrument's body; None: the string alone
    hammer: Hammer | None = None  # what strikes it (type "hammer"; needs `physical`)
    keyboard: Keyboard | None = None  # a string per key; None: every note on `string`
    path: Path | None = None

    def keys(self) -> Keyboard:
        """How each note is made: the preset's keyboard, or its one string, excitation and
        hammer on every key."""
        if self.keyboard is not None:
            return self.keyboard
        s = self.string
        hammer = self.hammer_normalised()
        mass, felt, half_width, softest, hardest = hammer or (0.0,) * 5
        exponent = self.hammer.exponent if hammer is not None else 0.0
        return single_string((s.gamma, s.kappa, s.nu, *scheme_losses(s.sigma0, s.sigma1)),
                             (self.pluck_position, self.amplitude, mass, felt, exponent,
                              half_width, softest, hardest, 0.0, 0.0))

    def hammer_normalised(self) -> tuple[float, float, float, float, float] | None:
        """The hammer on this preset's string: (mass ratio, felt, half-width, softest and
        hardest speed), normalised (`synth.physics.hammer`); None without a hammer."""
        if self.hammer is None or self.physical is None:
            return None
        length = self.physical.length
        mass, felt, half_width = self.hammer.normalised(length, self.physical.linear_density)
        low, high = self.hammer.speeds
        return mass, felt, half_width, low / length, high / length

    def metadata(self) -> dict:
        """The JSON description stored in the file."""
        physical = None
        if self.physical is not None:
            p = self.physical
            physical = {"length": p.length, "tension": p.tension,
                        "linear_density": p.linear_density,
                        "youngs_modulus": p.youngs_modulus, "radius": p.radius,
                        "t60_low": list(p.t60_low), "t60_high": list(p.t60_high)}
        kind = find_kind(self.kind)
        package = {} if kind.package == NEURAL_STRINGS else {"package": kind.package}
        return {"format": FORMAT, "version": VERSION, "kind": self.kind, **package,
                "name": self.name, "description": self.description,
                "model": {"n_modes": self.n_modes, **self.model},
                "string": {"reference_note": self.reference_note,
                           "normalised": self.string.as_dict(), "physical": physical},
                "excitation": {"type": self.excitation_type, "position": self.pluck_position,
                               "width_ms": self.excitation_width_ms,
                               "amplitude": self.amplitude,
                               **({} if self.hammer is None
                                  else {"hammer": self.hammer.description()})},
                "pickup": self.pickup, "output_gain": self.output_gain,
                "controls": self.controls,
                "body": None if self.body is None else self.body.description(),
                **({} if self.keyboard is None
                   else {"keyboard": self.keyboard.description()}),
                "provenance": self.provenance}


def full_excitation(preset: Preset, fs: float) -> np.ndarray:
    """The excitation record (`synth.kernels.formulas.excitation_record`) of the preset's own
    excitation at full velocity on its reference note's key, at fs Hz: its hammer at the
    hardest speed, or its force pulse."""
    shape = {"pluck": PLUCK, "strike": STRIKE, "hammer": HAMMER}[preset.excitation_type]
    key = preset.keys().excitation[round(preset.reference_note)]
    return excitation_record(key[keyboards.AMPLITUDE], preset.excitation_width_ms * 1e-3 * fs,
                             shape, key[keyboards.POSITION], width=key[keyboards.HALF_WIDTH],
                             hammer_velocity=key[keyboards.SPEED_HARD],
                             hammer_mass=key[keyboards.HAMMER_MASS], felt=key[keyboards.FELT],
                             felt_exponent=key[keyboards.FELT_EXPONENT])


def save_preset(preset: Preset, path: str | os.PathLike) -> Path:
    """Write `preset` to `path` atomically: a failed or interrupted write leaves no file that
    looks complete, and an old file of that name intact. Tensors are stored in the dtypes
    the kind's schema gives."""
    path = Path(path)
    schema = find_kind(preset.kind).tensors(preset.model, preset.n_modes)
    tensors = {name: np.ascontiguousarray(preset.tensors[name], dtype=dtype)
               for name, (_, dtype) in schema.items()}
    for part in (preset.body, preset.keyboard):
        if part is not None:
            tensors.update(part.tensors())
    metadata = {METADATA_KEY: json.dumps(preset.metadata())}
    with replace_atomically(path) as temporary:
        save_file(tensors, temporary, metadata=metadata)
    return path


def load_preset(path: str | os.PathLike) -> Preset:
    """Read and validate a preset file; PresetError names the file and what is wrong."""
    path = Path(path)
    try:
        return _load(path)
    except PresetError as error:
        message = str(error)
        raise PresetError(one_line(message if message.startswith(str(path)) else
                                   f"{path}: {message}")) from None
    except Exception as error:  # whatever a malformed description makes the reader meet
        raise PresetError(one_line(f"{path}: {_describe(error)}")) from None


def _describe(error: Exception) -> str:
    if isinstance(error, KeyError):
        return f"missing field {error.args[0]!r}"
    if isinstance(error, ParameterError | ValueError):
        return str(error)
    return f"malformed description ({type(error).__name__}: {error})"


def _load(path: Path) -> Preset:
    if not path.is_file():
        raise PresetError(f"{path}: no such preset file")
    try:
        with safe_open(path, "np") as handle:
            metadata = handle.metadata() or {}
            stored = {key: handle.get_tensor(key) for key in handle.keys()}
    except (SafetensorError, OSError) as error:
        raise PresetError(f"{path}: not a readable safetensors file ({error})") from None
    if METADATA_KEY not in metadata:
        raise PresetError(f"{path}: a safetensors file, but not a neural-strings preset "
                          f"(no {METADATA_KEY!r} metadata)")
    try:
        meta = json.loads(metadata[METADATA_KEY])
    except json.JSONDecodeError as error:
        raise PresetError(f"{path}: preset description is not valid JSON ({error})") from None
    except RecursionError:
        raise PresetError(f"{path}: preset description is nested too deeply") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise PresetError(f"{path}: not a neural-strings preset description")
    if meta.get("version") != VERSION:
        raise PresetError(f"{path}: preset format version {meta.get('version')!r}; this "
                          f"program reads version {VERSION}")
    for section in ("model", "string", "excitation", "controls", "provenance", "body",
                    "keyboard"):
        if section in meta and not isinstance(meta[section], dict) \
                and not (section in ("body", "keyboard") and meta[section] is None):
            raise PresetError(f"{section} must be a JSON object, got {meta[section]!r:.40}")
    kind = find_kind(meta["kind"], meta.get("package"))
    model, string, excitation = dict(meta["model"]), meta["string"], meta["excitation"]
    n_modes = check_mode_count(model.pop("n_modes"))
    if n_modes > MAX_PRESET_MODES:
        raise PresetError(f"{n_modes} modes: a preset may have at most {MAX_PRESET_MODES} "
                          "(more cannot play in real time)")
    model = kind.check_model(model, n_modes)
    tensors = {}
    for name, (shape, _) in kind.tensors(model, n_modes).items():
        if name not in stored:
            raise PresetError(f"missing tensor {name!r}")
        found = tuple(stored[name].shape)
        if len(found) != len(shape) or any(s is not None and s != f
                                           for s, f in zip(shape, found, strict=True)):
            expected = tuple("any" if s is None else s for s in shape)
            raise PresetError(f"tensor {name!r} has shape {found}, expected {expected}")
        if not np.isfinite(stored[name]).all():
            raise PresetError(f"tensor {name!r} holds non-finite values")
        largest = float(np.abs(stored[name]).max(initial=0.0))
        if largest > MAX_TENSOR_VALUE:
            raise PresetError(f"tensor {name!r} holds a value of {largest:.3g}, beyond the "
                              f"+-{MAX_TENSOR_VALUE:g} a preset may hold")
        tensors[name] = stored[name].astype(np.float64)
    physical = string.get("physical")
    if physical is not None:
        physical = PhysicalString(**{**physical, "t60_low": tuple(physical["t60_low"]),
                                     "t60_high": tuple(physical["t60_high"])})
    controls = meta.get("controls", {})
    unknown = sorted(set(controls) - set(PARAMS))
    if unknown:
        raise PresetError(f"unknown control(s) {unknown}")
    for name, value in controls.items():
        _finite(f"controls.{name}", value)
    preset = Preset(
        name=str(meta["name"]), kind=kind.name, n_modes=n_modes, model=model,
        string=StringParams(**string["normalised"]),
        reference_note=_finite("string.reference_note", string["reference_note"]),
        excitation_type=excitation["type"],
        pluck_position=_finite("excitation.position", excitation["position"]),
        excitation_width_ms=_finite("excitation.width_ms", excitation["width_ms"]),
        amplitude=_finite("excitation.amplitude", excitation["amplitude"]),
        pickup=_finite("pickup", meta["pickup"]),
        output_gain=_finite("output_gain", meta["output_gain"]),
        description=str(meta.get("description", "")), physical=physical, controls=controls,
        provenance=meta.get("provenance", {}), tensors=tensors,
        body=None if meta.get("body") is None else body_from_file(meta["body"], stored),
        hammer=_hammer(excitation.get("hammer")),
        keyboard=None if meta.get("keyboard") is None
        else keyboard_from_file(meta["keyboard"], stored), path=path)
    if preset.excitation_type not in EXCITATION_TYPES:
        raise PresetError(f"excitation type {preset.excitation_type!r} is not one of "
                          f"{', '.join(EXCITATION_TYPES)}")
    if preset.excitation_type == "hammer" and not preset.keys().hammered():
        raise PresetError("a hammer needs a keyboard with hammers, or the excitation's hammer "
                          "and the string's physical description (its length and linear "
                          "density)")
    faults = kind.check_tensors(preset)
    if faults:
        raise PresetError("; ".join(faults))
    return preset


def _hammer(table) -> Hammer | None:
    if table is None:
        return None
    if not isinstance(table, dict):
        raise PresetError(f"excitation.hammer must be a JSON object, got {table!r:.40}")
    return Hammer(mass=table["mass"], stiffness=table["stiffness"], exponent=table["exponent"],
                  width=table["width"], speeds=tuple(table["speeds"]))


def _finite(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PresetError(f"{name} must be a finite number, got {value!r}")
    if name in RANGES and not RANGES[name][0] < value < RANGES[name][1]:
        low, high = RANGES[name]
        raise PresetError(f"{name} must lie between {low:g} and {high:g} (both excluded), "
                          f"got {value!r}")
    return float(value)


def user_directory() -> Path:
    """Where user presets are saved. Finding presets never creates it (it may be missing or
    read-only); saving one does, through `writable_user_directory`."""
    return Path(platformdirs.user_data_dir("neural-strings")) / "presets"


def writable_user_directory() -> Path:
    """The user preset directory, created if missing; OutputError if presets cannot be
    saved there."""
    directory = user_directory()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"cannot save presets: {directory} cannot be created "
                          f"({error.strerror or error})") from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise OutputError(f"cannot save presets: no permission to write in {directory}")
    return directory


def preset_directories() -> list[Path]:
    """Where presets are found by name: the user's, the shipped ones, and those of every
    installed kind that ships some, in that order."""
    plugins = [kind.presets for kind in installed_kinds().values() if kind.presets]
    return [user_directory(), SHIPPED, *plugins]


def shipped_presets() -> list[Path]:
    """The presets that come with the package and with the installed kinds."""
    return sorted(path for directory in preset_directories()[1:]
                  for path in Path(directory).glob("*.safetensors"))


def body_of(name_or_path: str | os.PathLike) -> Body:
    """The body of a preset given by name or path; PresetError if it has none, naming the
    shipped presets that have one."""
    preset = load_preset(find_preset(name_or_path))
    if preset.body is None:
        with_bodies = [path.stem for path in shipped_presets()
                       if load_preset(path).body is not None]
        raise PresetError(f"{preset.name} has no body; presets with one: "
                          f"{', '.join(with_bodies)}")
    return preset.body


def find_preset(name_or_path: str | os.PathLike | None) -> Path:
    """A preset file from a path, or from a name among the user's, the shipped and the
    installed kinds' presets (None: the default preset)."""
    if name_or_path is None:
        name_or_path = DEFAULT_PRESET
    if not isinstance(name_or_path, str | os.PathLike):
        raise PresetError(f"a preset is given by name or file path, got {name_or_path!r:.60}")
    path = Path(name_or_path)
    if path.suffix == ".safetensors" or path.exists():
        return path
    directories = preset_directories()
    for directory in directories:
        candidate = Path(directory) / f"{name_or_path}.safetensors"
        if candidate.exists():
            return candidate
    names = sorted({p.stem for d in directories for p in Path(d).glob("*.safetensors")})
    raise PresetError(f"no preset called {str(name_or_path)!r}; available: {', '.join(names)}")
