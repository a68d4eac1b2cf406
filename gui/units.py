"""What a control's value means physically, as the window shows it.

The engine's live parameters are factors of the preset's string (docs/design.md, "The string
and its SAV step"): tension scales gamma^2 (so the tension in newtons), stiffness scales kappa
(Young's modulus goes with its square), decay divides every loss and brightness also those
that grow with frequency (docs/design.md, "Losses").
`describe` turns a value into text in physical units for the preset's string at its reference
note; presets without a physical string (learned ones) show the factor and its audible effect
instead.
"""

from __future__ import annotations

import math

from synth.keyboards import GAMMA, KAPPA, SIGMA0
from synth.params import PARAMS, output_of
from synth.physics.losses import L_BRIDGE_MASS, RISING, t60s
from synth.physics.pluck import plectrum_release
from synth.physics.strings import note_frequency
from synth.presets import Preset

HIGH_FREQUENCY = 2000.0  # Hz at which "brightness" reports the decay time


def describe(name: str, value: float, preset: Preset, decay: float = 1.0,
             brightness: float = 1.0) -> str:
    """Text for parameter `name` at `value`; decay and brightness are the current factors
    (both shape the decay times shown for either)."""
    if name not in PARAMS:
        raise KeyError(f"unknown parameter {name!r}")
    physical = preset.physical
    if name == "tension":
        cents = 1200.0 * math.log2(math.sqrt(value))
        base = f"{physical.tension * value:.1f} N" if physical else f"x{value:.2f}"
        return f"{base} ({cents:+.0f} cents)"
    if name == "stiffness":
        if physical:
            return f"E = {physical.youngs_modulus * value * value / 1e9:.3g} GPa"
        return f"x{value:.2f} (kappa {preset.string.kappa * value:.3g})"
    if name in ("decay", "brightness"):
        decay, brightness = (value, brightness) if name == "decay" else (decay, value)
        key = preset.keys().strings[round(preset.reference_note)]
        losses = key[SIGMA0:] / decay
        for field in RISING:
            losses[field] /= brightness
        losses[L_BRIDGE_MASS] = key[SIGMA0 + L_BRIDGE_MASS]
        fundamental = note_frequency(preset.reference_note)
        mode = 1 if name == "decay" else max(1, round(HIGH_FREQUENCY / fundamental))
        t60 = t60s(losses, key[GAMMA] ** 2, key[KAPPA], [mode])[0]
        return f"T60 {t60:.2f} s at {mode * fundamental:.0f} Hz"
    if name == "nonlinearity":
        return f"x{value:.2f} (nu {preset.string.nu * value:.4g})"
    if name in ("pluck_position", "pickup_position"):
        if physical:
            return f"{1000.0 * physical.length * value:.0f} mm from the bridge"
        return f"{value:.2f} of the length"
    if name == "excitation":
        return "pluck" if value < 0.5 else ("strike" if value < 1.5 else "hammer")  # as played
    if name == "plectrum":
        return "a plectrum" if value >= 0.5 else "a finger"
    if name == "plectrum_stiffness":
        return f"{value:.0f} N/m (lets go in {1e3 * plectrum_release(value):.2f} ms)"
    if name == "excitation_width":
        return f"{value:.2f} ms"
    if name == "gain":
        return f"{value:+.1f} dB"
    if name == "velocity_sensitivity":
        return f"{100.0 * value:.0f} %"
    if name == "bend_range":
        return f"+-{value:g} semitones"
    if name == "damper":
        return f"T60 {value:.2f} s"
    if name == "pitch_bend":
        return f"{value:+.2f}"
    if name == "output":
        return ("instrument (stereo)", "pickup (velocity)",
                "bare string")[output_of(value)]
    if name in ("body_size", "body_damping", "body_mix") and preset.body is None:
        return "no body in this preset"
    if name == "body_size":
        return f"x{value:.2f} (lowest mode {preset.body.frequencies.min() / value:.0f} Hz)"
    if name == "body_damping":
        k = preset.body.frequencies.argmin()
        return (f"x{value:.2f} (T60 {preset.body.t60s()[k] / value:.2f} s at "
                f"{preset.body.frequencies[k]:.0f} Hz)")
    if name == "body_mix":
        return f"{100 * value:.0f} % body, {100 * (1 - value):.0f} % direct"
    return "down" if value >= 0.5 else "up"  # sustain
