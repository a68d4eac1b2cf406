"""Offline simulation of one string with the SAV kernel: the reference every model is judged by.

`SimulationSpec.from_dict` reads the JSON object of `neural-strings simulate`, `simulate` runs
it from rest (or from given q0, p0) and returns a `Simulation` holding every state. Sample n of
the result is the state after n + 1 steps.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from synth.errors import ModesDroppedWarning, ParameterError
from synth.files import replace_atomically
from synth.kernels.linear import NYQUIST_FRACTION, sav_coefficients, scheme_modes
from synth.kernels.sav import EPS, LAMBDA0, sav_record
from synth.physics.excitation import Excitation
from synth.physics.modes import angular_frequencies, check_mode_count, decay_rates, mode_shapes
from synth.physics.potentials import NAMES, Potential, make_potential
from synth.physics.strings import StringParams, check_finite, check_position

REQUIRED_KEYS = ("gamma", "kappa", "nu", "sigma0", "sigma1", "x_e", "x_o", "amplitude", "t_e",
                 "excitation", "fs", "duration", "n_modes", "nonlinearity")
MODEL_NONLINEARITY = "model"  # `nonlinearity` when a preset's potential is used
OPTIONAL_KEYS = ("warp", "model")
MAX_RECORD_BYTES = 16 * 2**30  # refuse simulations whose recorded states would exceed this


@dataclass(frozen=True)
class SimulationSpec:
    """What to simulate: a string, its excitation, pickup x_o in (0, 1), sampling rate fs (Hz),
    duration (s), number of modes, potential name, frequency warping, drift control rate, and
    optionally a preset file (or name) whose potential replaces the named one (the caller
    passes that potential to `simulate`)."""

    string: StringParams
    excitation: Excitation
    pickup: float
    fs: float
    duration: float
    n_modes: int
    nonlinearity: str = "exact"
    warp: bool = False
    lambda0: float = LAMBDA0
    model: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "pickup", check_position("x_o", self.pickup))
        object.__setattr__(self, "fs", check_finite("fs", self.fs, minimum=0.0, strict=True))
        object.__setattr__(self, "duration", check_finite("duration", self.duration,
                                                          minimum=0.0, strict=True))
        object.__setattr__(self, "n_modes", check_mode_count(self.n_modes))
        object.__setattr__(self, "lambda0", check_finite("lambda0", self.lambda0, minimum=0.0))
        if not isinstance(self.warp, bool):
            raise ParameterError(f"warp must be true or false, got {self.warp!r}")
        if self.n_steps < 1:
            raise ParameterError(f"duration {self.duration:g} s is shorter than one sample at "
                                 f"fs = {self.fs:g} Hz")
        size = 2 * self.n_steps * self.n_modes * 8
        if size > MAX_RECORD_BYTES:
            raise ParameterError(f"recording {self.n_steps} steps of {self.n_modes} modes needs "
                                 f"{size / 2**30:.1f} GiB; shorten the duration or use fewer modes")

    @property
    def n_steps(self) -> int:
        """Number of recorded samples, floor(duration * fs)."""
        return math.floor(self.duration * self.fs + 1e-9)

    @classmethod
    def from_dict(cls, data: dict) -> SimulationSpec:
        """Parse the JSON object of `neural-strings simulate` (keys as in the README)."""
        if not isinstance(data, dict):
            raise ParameterError(f"parameters must be a JSON object, got {type(data).__name__}")
        unknown = sorted(set(data) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS))
        if unknown:
            raise ParameterError(f"unknown key(s) {', '.join(map(repr, unknown))}; allowed keys "
                                 f"are {', '.join(REQUIRED_KEYS + OPTIONAL_KEYS)}")
        if "model" in data:  # the preset's potential: nonlinearity may be left out
            if not isinstance(data["model"], str) or not data["model"]:
                raise ParameterError(f"model must be a preset file name, got {data['model']!r}")
            if data.setdefault("nonlinearity", MODEL_NONLINEARITY) != MODEL_NONLINEARITY:
                raise ParameterError(f"give either a model or a nonlinearity, not both (with "
                                     f"a model, leave nonlinearity out or set it to "
                                     f"{MODEL_NONLINEARITY!r})")
        missing = [key for key in REQUIRED_KEYS if key not in data]
        if missing:
            raise ParameterError(f"missing key(s) {', '.join(map(repr, missing))}")
        for key in ("excitation", "nonlinearity"):
            if not isinstance(data[key], str):
                raise ParameterError(f"{key} must be a string, got {data[key]!r}")
        numbers = {key: data[key] for key in REQUIRED_KEYS
                   if key not in ("excitation", "nonlinearity", "n_modes")}
        for key, value in numbers.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ParameterError(f"{key} must be a number, got {value!r}")
        string = StringParams(data["gamma"], data["kappa"], data["nu"], data["sigma0"],
                              data["sigma1"])
        excitation = Excitation(data["excitation"], data["x_e"], data["amplitude"], data["t_e"])
        nonlinearity = data["nonlinearity"]
        if nonlinearity not in NAMES and "model" not in data:
            raise ParameterError(f"nonlinearity must be one of {sorted(NAMES)}, got "
                                 f"{nonlinearity!r}")
        return cls(string, excitation, data["x_o"], data["fs"], data["duration"],
                   data["n_modes"], nonlinearity, data.get("warp", False),
                   model=data.get("model"))

    def to_dict(self) -> dict:
        """The JSON object that `from_dict` reads back into this spec."""
        return {**self.string.as_dict(), "x_e": self.excitation.position, "x_o": self.pickup,
                "amplitude": self.excitation.amplitude, "t_e": self.excitation.duration,
                "excitation": self.excitation.kind, "fs": self.fs, "duration": self.duration,
                "n_modes": self.n_modes, "nonlinearity": self.nonlinearity, "warp": self.warp,
                **({"model": self.model} if self.model else {})}

    def potential(self) -> Potential:
        """The named physical potential. A spec with a model (a preset) has its potential
        from the preset, which the caller loads and passes to `simulate`."""
        if self.model is not None:
            raise ParameterError(f"the potential of model {self.model!r} comes from its "
                                 "preset: load it and pass it to simulate()")
        return make_potential(self.nonlinearity, self.n_modes)


@dataclass(frozen=True)
class LinearPart:
    """The scheme's linear coefficients for one string at one rate (all shape (M,))."""

    n_active: int
    omega2: np.ndarray  # omega_s^2 the scheme uses (warped or physical), 0 for dropped modes
    sigma: np.ndarray  # sigma_s the scheme uses
    decay: np.ndarray
    stiff: np.ndarray
    gain: np.ndarray


def linear_part(string: StringParams, n_modes: int, fs: float, warp: bool) -> LinearPart:
    """Coefficients of the SAV scheme for `string`, dropping modes that would be unstable or
    lie above 0.45 fs, with a ModesDroppedWarning that says which and why."""
    omega = angular_frequencies(string, n_modes)
    sigma = decay_rates(string, n_modes)
    k = 1.0 / fs
    omega2_s, sigma_s = np.zeros(n_modes), np.zeros(n_modes)
    n_active = scheme_modes(omega, sigma, k, warp, omega2_s, sigma_s)
    if n_active < n_modes:
        f_first = omega[n_active] / (2 * np.pi)
        reason = (f"above {NYQUIST_FRACTION:g} fs = {NYQUIST_FRACTION * fs:.0f} Hz"
                  if omega[n_active] > NYQUIST_FRACTION * 2 * np.pi * fs else
                  f"unstable without warping (k omega = {k * omega[n_active]:.3f} >= 2)")
        warnings.warn(ModesDroppedWarning(
            f"kept {n_active} of {n_modes} modes: mode {n_active + 1} at {f_first:.0f} Hz and "
            f"above are {reason}"), stacklevel=2)
    decay, stiff, gain = np.zeros(n_modes), np.zeros(n_modes), np.zeros(n_modes)
    sav_coefficients(omega2_s, sigma_s, k, n_active, decay, stiff, gain)
    return LinearPart(n_active, omega2_s, sigma_s, decay, stiff, gain)


@dataclass(frozen=True, eq=False)
class Simulation:
    """Recorded states: q_t and p_t (N, M) time-major, psi and w (N,); sample n is the state
    after n + 1 steps. `q` and `p` give the (M, N) views (modes by samples)."""

    spec: SimulationSpec
    q_t: np.ndarray
    p_t: np.ndarray
    psi: np.ndarray
    w: np.ndarray
    linear: LinearPart
    potential: Potential = field(repr=False)

    @property
    def q(self) -> np.ndarray:
        return self.q_t.T

    @property
    def p(self) -> np.ndarray:
        return self.p_t.T

    @property
    def n_active(self) -> int:
        return self.linear.n_active

    def potential_values(self) -> np.ndarray:
        """V(q) at every sample, shape (N,)."""
        return np.array([self.potential.value(row) for row in self.q_t])

    def energy(self) -> np.ndarray:
        """Discrete energy at every sample, shape (N,):
        1/2 p.(1 - k^2 omega_s^2 / 4) p + 1/2 omega_s^2 q.q + 1/2 nu^2 psi^2."""
        k = 1.0 / self.spec.fs
        omega2 = self.linear.omega2
        kinetic = 0.5 * (self.p_t**2 @ (1.0 - 0.25 * k * k * omega2))
        elastic = 0.5 * (self.q_t**2 @ omega2)
        return kinetic + elastic + 0.5 * self.spec.string.nu**2 * self.psi**2

    def drift(self) -> np.ndarray:
        """|psi - sqrt(2 V(q) + eps)| at every sample, shape (N,)."""
        return np.abs(self.psi - np.sqrt(2.0 * self.potential_values() + EPS))

    def save(self, path, state: bool = True, every: int = 1, state_dtype=np.float64) -> None:
        """Write w (N,) in float64, a JSON `meta` string and, with `state`, q, p (M, N') and
        psi (N') in `state_dtype`, every `every`-th sample (N' = ceil(N / every)), in .npz
        format, to exactly `path` (atomically: an interrupted write leaves no file)."""
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ParameterError(f"every must be a whole number >= 1, got {every!r}")
        meta = {"spec": self.spec.to_dict(), "potential": self.potential.name,
                "n_active": self.n_active, "format": "neural-strings-simulation/1",
                "state": {"saved": state, "every": every,
                          "dtype": np.dtype(state_dtype).name}}
        arrays = {"w": self.w.astype(np.float64), "meta": np.array(json.dumps(meta))}
        if state:
            arrays.update(q=self.q[:, ::every].astype(state_dtype),
                          p=self.p[:, ::every].astype(state_dtype),
                          psi=self.psi[::every].astype(state_dtype))
        with replace_atomically(path) as temporary, open(temporary, "wb") as file:
            np.savez(file, **arrays)


def simulate(spec: SimulationSpec, q0: np.ndarray | None = None, p0: np.ndarray | None = None,
             potential: Potential | None = None, record_dtype=np.float64) -> Simulation:
    """Run `spec` from rest, or from modal displacement q0 and momentum p0 (shape (M,)).

    potential overrides the one named by spec.nonlinearity (a learned potential, say).
    record_dtype: dtype of the recorded states (the state itself is float64). psi starts at
    sqrt(2 V(q0) + eps). Raises RuntimeError if the state ever became non-finite.
    """
    M = spec.n_modes
    if potential is None:
        potential = spec.potential()
    elif potential.n_modes != M:
        raise ParameterError(f"the potential covers {potential.n_modes} modes but n_modes = {M}")
    linear = linear_part(spec.string, M, spec.fs, spec.warp)
    q = _initial("q0", q0, M, linear.n_active)
    p = _initial("p0", p0, M, linear.n_active)
    psi = math.sqrt(2.0 * potential.value(q) + EPS)
    N = spec.n_steps
    q_t = np.empty((N, M), dtype=record_dtype)
    p_t = np.empty((N, M), dtype=record_dtype)
    psi_t = np.empty(N, dtype=record_dtype)
    w = np.empty(N, dtype=record_dtype)
    exc = spec.excitation
    sav_record(q, p, psi, linear.n_active, linear.decay, linear.stiff, linear.gain,
               spec.string.nu**2, exc.weights(M), mode_shapes(spec.pickup, M),
               0.0, exc.amplitude, exc.duration * spec.fs, float(exc.shape),
               1.0 / spec.fs, spec.lambda0, potential.tables, potential.scratch(), q_t, p_t,
               psi_t, w)
    if not (np.isfinite(w).all() and np.isfinite(psi_t).all()):
        # The scheme's energy is bounded by the work the force does, so this is float range:
        raise ParameterError("the simulation left the float64 range; lower the amplitude or "
                             "nu (the scheme is stable, but its energy is not representable)")
    return Simulation(spec, q_t, p_t, psi_t, w, linear, potential)


def _initial(name: str, value, n_modes: int, n_active: int) -> np.ndarray:
    if value is None:
        return np.zeros(n_modes)
    value = np.array(value, dtype=np.float64)
    if value.shape != (n_modes,):
        raise ParameterError(f"{name} must have shape ({n_modes},), got {value.shape}")
    if not np.isfinite(value).all():
        raise ParameterError(f"{name} must be finite")
    if np.any(value[n_active:] != 0.0):
        warnings.warn(ModesDroppedWarning(f"{name} has energy in dropped modes "
                                          f"{n_active + 1}..{n_modes}; it is ignored"),
                      stacklevel=2)
        value[n_active:] = 0.0
    return value
