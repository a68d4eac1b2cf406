"""Presets: one `.safetensors` file holding a model's weights and a JSON description.

The file's tensors are the model weights (none for `sav-physics`); its metadata holds one
key, "neural_strings", whose JSON value is

    {"format": "neural-strings-preset", "version": 1,
     "kind": "sav-physics" | "sav-gradnet" | "koopman" | "ssm",
     "name": str, "description": str,
     "model": {"n_modes": int, "potential": "exact" | "kc" | "gradnet",
               "activation": "leaky" | "stretch",    # GradNet only; default "leaky"
               "fs", "copies", "hidden", "rank", ...},   # koopman, ssm: see synth.bank
     "string": {"reference_note": float,   # MIDI note at which `normalised` is tuned
                "normalised": {"gamma", "kappa", "nu", "sigma0", "sigma1"},
                "physical": {"length", "tension", "linear_density", "youngs_modulus",
                             "radius", "t60_low": [Hz, s], "t60_high": [Hz, s]} | null},
     "excitation": {"type": "pluck" | "strike", "position": float, "width_ms": float,
                    "amplitude": float},   # normalised force at velocity 127
     "pickup": float, "output_gain": float,
     "controls": {param name: default value},   # optional overrides of the defaults
     "provenance": {...}}                       # sources, recipe, seeds, metrics

A `sav-gradnet` file carries tensors gradnet.weight (H, M), gradnet.bias, gradnet.log_scale_in
and gradnet.log_scale_out (H,); `koopman` and `ssm` files carry their oscillator banks and
networks in float64 (`synth.bank`; their "potential" is "none"). Loading never unpickles
anything; a broken, truncated, wrong-version or non-finite file is refused with a PresetError
naming the file and the fault.
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

from synth import bank
from synth.errors import ParameterError, PresetError
from synth.params import PARAMS
from synth.physics.modes import check_mode_count
from synth.physics.potentials import Potential, gradnet_potential, make_potential
from synth.physics.strings import PhysicalString, StringParams

FORMAT, VERSION = "neural-strings-preset", 1
METADATA_KEY = "neural_strings"
KINDS = {"sav-physics": ("exact", "kc"), "sav-gradnet": ("gradnet",), "koopman": ("none",),
         "ssm": ("none",)}
GRADNET_TENSORS = ("weight", "bias", "log_scale_in", "log_scale_out")
SHIPPED = Path(__file__).resolve().parent.parent / "presets"
DEFAULT_PRESET = "nylon-guitar"


@dataclass(frozen=True, eq=False)
class Preset:
    """A playable model: its kind, string, excitation defaults and weights."""

    name: str
    kind: str
    n_modes: int
    potential_name: str
    string: StringParams
    reference_note: float
    excitation_type: str
    pluck_position: float
    excitation_width_ms: float
    amplitude: float
    pickup: float
    output_gain: float
    description: str = ""
    activation: str = "leaky"  # the GradNet's activation (sav-gradnet only)
    settings: dict = field(default_factory=dict)  # koopman, ssm: `synth.bank.SETTINGS`
    physical: PhysicalString | None = None
    controls: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)
    weights: dict = field(default_factory=dict)
    path: Path | None = None

    def potential(self, dtype=np.float64, n_modes: int | None = None) -> Potential:
        """The potential the kernels use, with tables in `dtype`, over the first n_modes
        modes (default: all; a learned potential then sees the missing modes as zeros).
        The oscillator-bank kinds have none: the linear one stands in (and stays idle)."""
        n_modes = self.n_modes if n_modes is None else n_modes
        if self.kind in bank.FAMILY_CODES:
            return make_potential("linear", n_modes, dtype)
        if self.kind == "sav-gradnet":
            weights = {k: self.weights[k] for k in GRADNET_TENSORS}
            weights["weight"] = weights["weight"][:, :n_modes]
            return gradnet_potential(**weights, dtype=dtype, activation=self.activation)
        return make_potential(self.potential_name, n_modes, dtype)

    def metadata(self) -> dict:
        """The JSON description stored in the file."""
        physical = None
        if self.physical is not None:
            p = self.physical
            physical = {"length": p.length, "tension": p.tension,
                        "linear_density": p.linear_density,
                        "youngs_modulus": p.youngs_modulus, "radius": p.radius,
                        "t60_low": list(p.t60_low), "t60_high": list(p.t60_high)}
        return {"format": FORMAT, "version": VERSION, "kind": self.kind, "name": self.name,
                "description": self.description,
                "model": {"n_modes": self.n_modes, "potential": self.potential_name,
                          **({"activation": self.activation}
                             if self.kind == "sav-gradnet" else {}), **self.settings},
                "string": {"reference_note": self.reference_note,
                           "normalised": self.string.as_dict(), "physical": physical},
                "excitation": {"type": self.excitation_type, "position": self.pluck_position,
                               "width_ms": self.excitation_width_ms,
                               "amplitude": self.amplitude},
                "pickup": self.pickup, "output_gain": self.output_gain,
                "controls": self.controls, "provenance": self.provenance}


def save_preset(preset: Preset, path: str | os.PathLike) -> Path:
    """Write `preset` to `path` atomically (a crash leaves the old file intact)."""
    path = Path(path)
    if preset.kind in bank.FAMILY_CODES:  # float64: eigenvalue phases accumulate
        tensors = {k: np.ascontiguousarray(v, dtype=np.float64) for k, v in preset.weights.items()}
    else:
        tensors = {f"gradnet.{k}": np.ascontiguousarray(v, dtype=np.float32)
                   for k, v in preset.weights.items()}
    temporary = path.with_name(path.name + ".tmp")
    save_file(tensors, temporary, metadata={METADATA_KEY: json.dumps(preset.metadata())})
    os.replace(temporary, path)
    return path


def load_preset(path: str | os.PathLike) -> Preset:
    """Read and validate a preset file; PresetError names the file and what is wrong."""
    path = Path(path)
    try:
        return _load(path)
    except PresetError:
        raise
    except (ParameterError, KeyError, TypeError, ValueError) as error:
        raise PresetError(f"{path}: {_describe(error)}") from None


def _describe(error: Exception) -> str:
    if isinstance(error, KeyError):
        return f"missing field {error.args[0]!r}"
    return str(error)


def _load(path: Path) -> Preset:
    if not path.is_file():
        raise PresetError(f"{path}: no such preset file")
    try:
        with safe_open(path, "np") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except (SafetensorError, OSError) as error:
        raise PresetError(f"{path}: not a readable safetensors file ({error})") from None
    if METADATA_KEY not in metadata:
        raise PresetError(f"{path}: a safetensors file, but not a neural-strings preset "
                          f"(no {METADATA_KEY!r} metadata)")
    try:
        meta = json.loads(metadata[METADATA_KEY])
    except json.JSONDecodeError as error:
        raise PresetError(f"{path}: preset description is not valid JSON ({error})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise PresetError(f"{path}: not a neural-strings preset description")
    if meta.get("version") != VERSION:
        raise PresetError(f"{path}: preset format version {meta.get('version')!r}; this "
                          f"program reads version {VERSION}")
    kind = meta["kind"]
    if kind not in KINDS:
        raise PresetError(f"{path}: unknown model kind {kind!r}; this program plays "
                          f"{', '.join(KINDS)}")
    model, string, excitation = meta["model"], meta["string"], meta["excitation"]
    n_modes = check_mode_count(model["n_modes"])
    potential = model["potential"]
    if potential not in KINDS[kind]:
        raise PresetError(f"{path}: potential {potential!r} does not belong to kind {kind!r}")
    weights = {}
    if kind == "sav-gradnet":
        for name in GRADNET_TENSORS:
            key = f"gradnet.{name}"
            if key not in tensors:
                raise PresetError(f"{path}: missing tensor {key!r}")
            weights[name] = tensors[key].astype(np.float64)
        if weights["weight"].ndim != 2 or weights["weight"].shape[1] != n_modes:
            raise PresetError(f"{path}: gradnet.weight has shape {weights['weight'].shape}, "
                              f"expected (hidden, {n_modes})")
    settings = {}
    if kind in bank.FAMILY_CODES:
        settings = _bank_settings(path, kind, model)
        faults = bank.check_tensors(kind, n_modes, settings, tensors)
        if faults:
            raise PresetError(f"{path}: {'; '.join(faults)}")
        weights = {key: tensors[key].astype(np.float64) for key in
                   bank.tensor_shapes(kind, n_modes, settings)}
    for key, tensor in tensors.items():
        if not np.isfinite(tensor).all():
            raise PresetError(f"{path}: tensor {key!r} holds non-finite values")
    physical = string.get("physical")
    if physical is not None:
        physical = PhysicalString(**{**physical, "t60_low": tuple(physical["t60_low"]),
                                     "t60_high": tuple(physical["t60_high"])})
    controls = meta.get("controls", {})
    unknown = sorted(set(controls) - set(PARAMS))
    if unknown:
        raise PresetError(f"{path}: unknown control(s) {unknown}")
    for name, value in controls.items():
        _finite(path, f"controls.{name}", value)
    preset = Preset(
        name=str(meta["name"]), kind=kind, n_modes=n_modes, potential_name=potential,
        string=StringParams(**string["normalised"]),
        reference_note=_finite(path, "string.reference_note", string["reference_note"]),
        excitation_type=excitation["type"],
        pluck_position=_finite(path, "excitation.position", excitation["position"]),
        excitation_width_ms=_finite(path, "excitation.width_ms", excitation["width_ms"]),
        amplitude=_finite(path, "excitation.amplitude", excitation["amplitude"]),
        pickup=_finite(path, "pickup", meta["pickup"]),
        output_gain=_finite(path, "output_gain", meta["output_gain"]),
        description=str(meta.get("description", "")),
        activation=str(model.get("activation", "leaky")), settings=settings,
        physical=physical, controls=controls,
        provenance=meta.get("provenance", {}), weights=weights, path=path)
    if preset.excitation_type not in ("pluck", "strike"):
        raise PresetError(f"{path}: excitation type {preset.excitation_type!r} is not "
                          "'pluck' or 'strike'")
    if preset.kind == "sav-gradnet":
        preset.potential()  # validates the weights
    return preset


def _bank_settings(path: Path, kind: str, model: dict) -> dict:
    """The model settings of a koopman or ssm preset, checked."""
    settings = {}
    for key in bank.SETTINGS:
        if key == "rank" and kind == "koopman":
            continue
        value = model[key]
        if key == "width_range":
            if not isinstance(value, list) or len(value) != 2:
                raise PresetError(f"{path}: model.width_range must be [low, high] in seconds")
            settings[key] = [_finite(path, "model.width_range", v) for v in value]
        elif key in ("copies", "hidden", "rank"):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise PresetError(f"{path}: model.{key} must be a positive integer")
            settings[key] = value
        else:
            settings[key] = _finite(path, f"model.{key}", value)
            if settings[key] <= 0:
                raise PresetError(f"{path}: model.{key} must be positive")
    return settings


def _finite(path: Path, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PresetError(f"{path}: {name} must be a finite number, got {value!r}")
    return float(value)


def user_directory() -> Path:
    """Where user presets are saved (created on demand)."""
    directory = Path(platformdirs.user_data_dir("neural-strings")) / "presets"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def shipped_presets() -> list[Path]:
    return sorted(SHIPPED.glob("*.safetensors"))


def find_preset(name_or_path: str | os.PathLike | None) -> Path:
    """A preset file from a path, or from a name among the shipped and user presets
    (None: the default preset)."""
    if name_or_path is None:
        name_or_path = DEFAULT_PRESET
    path = Path(name_or_path)
    if path.suffix == ".safetensors" or path.exists():
        return path
    for directory in (user_directory(), SHIPPED):
        candidate = directory / f"{name_or_path}.safetensors"
        if candidate.exists():
            return candidate
    names = sorted({p.stem for d in (SHIPPED, user_directory())
                    for p in d.glob("*.safetensors")})
    raise PresetError(f"no preset called {str(name_or_path)!r}; available: {', '.join(names)}")
