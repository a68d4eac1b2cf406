"""An instrument body as a preset holds it: damped modes heard at two microphones, and how the
strings' direct sound spreads across the stereo field.

Mode k rings at frequencies[k] Hz with decay rate decays[k] (1/s; T60 = 3 ln 10 / decay) and
microphone c (0 left, 1 right) hears it with gains[k, c] per unit mode velocity, so the body's
transfer from bridge force to microphone c is

    Y_c(f) = sum_k gains[k, c] i w / (w_k^2 + sigma_k^2 - w^2 + 2 i sigma_k w),  w = 2 pi f,

the velocity response of `synth.kernels.body` (which plays it) and `models.body.BodyTwin`
(its torch twin). A string's direct sound is panned by its note: notes from range[0] to
range[1] (MIDI) spread over `spread` of the stereo field (0 centre, 1 hard left to hard right),
low notes left as a player hears a piano. Where the numbers come from is the preset's
provenance ("body" in its description).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from synth.errors import PresetError
from synth.keyboards import note_range, range_faults

MAX_BODY_MODES = 512  # 512 modes in stereo cost about 7 % of a core at 48 kHz
MAX_BODY_FREQUENCY = 24000.0  # Hz
MAX_BODY_DECAY = 1e4  # 1/s (a T60 of 0.7 ms)
MAX_BODY_GAIN = 1e5
TENSORS = ("body.frequencies", "body.decays", "body.gains")


@dataclass(frozen=True, eq=False)
class Body:
    """frequencies (K,) Hz, decays (K,) 1/s, gains (K, 2); spread 0..1 of the stereo field
    over the notes range (low, high); name and provenance say what instrument it is and where
    its numbers come from."""

    frequencies: np.ndarray
    decays: np.ndarray
    gains: np.ndarray
    spread: float = 0.0
    range: tuple[float, float] = (21.0, 108.0)
    name: str = ""
    provenance: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for fault in self.faults():
            raise PresetError(f"body: {fault}")

    def faults(self) -> list[str]:
        """What makes this body unplayable, one line each (none: it plays)."""
        f, d, g = self.frequencies, self.decays, self.gains
        modes = f.shape[0] if f.ndim == 1 else -1
        if not 1 <= modes <= MAX_BODY_MODES:
            return [f"frequencies must be a list of 1 to {MAX_BODY_MODES} modes, got shape "
                    f"{f.shape}"]
        if d.shape != (modes,) or g.shape != (modes, 2):
            return [f"{modes} modes need decays of shape ({modes},) and gains of shape "
                    f"({modes}, 2), got {d.shape} and {g.shape}"]
        faults = []
        if not (np.isfinite(f).all() and (f > 0).all() and (f <= MAX_BODY_FREQUENCY).all()):
            faults.append(f"mode frequencies must lie in (0, {MAX_BODY_FREQUENCY:g}] Hz")
        if not (np.isfinite(d).all() and (d > 0).all() and (d <= MAX_BODY_DECAY).all()):
            faults.append(f"mode decay rates must lie in (0, {MAX_BODY_DECAY:g}] 1/s")
        if not (np.isfinite(g).all() and (np.abs(g) <= MAX_BODY_GAIN).all()):
            faults.append(f"mode gains must be finite and within +-{MAX_BODY_GAIN:g}")
        if not (isinstance(self.spread, float | int) and 0.0 <= self.spread <= 1.0):
            faults.append(f"spread must lie in [0, 1], got {self.spread!r}")
        return faults + range_faults(self.range)

    def tensors(self) -> dict[str, np.ndarray]:
        """The body's tensors as a preset file stores them (float64)."""
        return dict(zip(TENSORS, (self.frequencies, self.decays, self.gains), strict=True))

    def description(self) -> dict:
        """The body's settings as a preset's description stores them."""
        return {"name": self.name, "spread": self.spread, "range": list(self.range),
                "provenance": self.provenance}

    def response(self, frequencies: np.ndarray, gains: np.ndarray | None = None) -> np.ndarray:
        """(F, C) complex: what each microphone hears per unit bridge force at `frequencies`
        Hz (the continuous-time velocity response above); with `gains` (K, C) instead of the
        microphones', what those gains pick up (the bridge's own, for its mobility)."""
        w = 2 * np.pi * np.asarray(frequencies, dtype=np.float64)[:, None]
        wk, sigma = 2 * np.pi * self.frequencies[None, :], self.decays[None, :]
        mobility = 1j * w / (wk ** 2 + sigma ** 2 - w ** 2 + 2j * sigma * w)  # (F, K)
        return mobility @ (self.gains if gains is None else gains)

    def t60s(self) -> np.ndarray:
        """(K,) each mode's T60 (s), 3 ln 10 / decay."""
        return np.log(1000.0) / self.decays


def body_from_file(description: dict, tensors: dict[str, np.ndarray]) -> Body:
    """The body a preset file describes; PresetError says what is missing or wrong."""
    if not isinstance(description, dict):
        raise PresetError(f"body must be a JSON object, got {description!r:.40}")
    missing = [name for name in TENSORS if name not in tensors]
    if missing:
        raise PresetError(f"body: missing tensor(s) {missing}")
    spread = description.get("spread", 0.0)
    if isinstance(spread, bool) or not isinstance(spread, int | float):
        raise PresetError(f"body: spread must be a number, got {spread!r:.40}")
    provenance = description.get("provenance", {})
    return Body(*(np.asarray(tensors[name], dtype=np.float64) for name in TENSORS),
                spread=float(spread), range=note_range(description, "body"),
                name=str(description.get("name", "")),
                provenance=provenance if isinstance(provenance, dict) else {})
