"""Build the shipped `sav-physics` presets from published string data.

    python -m presets.make_physics_presets

Each preset is a real string: its length, tension, linear density, Young's modulus, core
radius and two decay times come from the sources cited in its metadata ([P] published,
[S] published but read from a secondary transcription, [D] derived from those, [A] assumed,
with the reason). The normalised model (gamma, kappa, nu, sigma0, sigma1) is computed from
them by `PhysicalString.to_normalised`. The excitation force at full velocity is a typical
finger pluck or hammer blow, converted with `force_to_amplitude`; the output gain is measured
so that a velocity-100 note at the reference pitch peaks at -12 dBFS.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from presets.bodies import DESIGNS
from presets.bodies import build as build_body
from presets.keyboards import (
    GUITAR_FRETS,
    NYLON_SCALE,
    STEEL_SCALE,
    grand_piano,
    guitar,
)
from synth.engine.levels import LEVEL_DBFS, level_gain, on_body
from synth.physics.hammer import CHAIGNE_ASKENFELT, PIANO_HAMMERS
from synth.physics.strings import PhysicalString
from synth.presets import Preset, save_preset

HERE = Path(__file__).resolve().parent

WOODHOUSE = ("J. Woodhouse, 'On the synthesis of guitar plucks', Acta Acustica united with "
             "Acustica 90, 928-944 (2004), Table 1 (string G3)")
DADDARIO = ("D'Addario & Co., 'A complete technical reference for fretted instrument string "
            "tensions' (string PL016, unit weight and tension at 25.5 in scale)")
CHABASSIER = ("J. Chabassier, A. Chaigne, P. Joly, 'Modeling and simulation of a grand piano', "
              "INRIA research report RR-8181 (2012), string C2 of a Steinway D")
CHAIGNE = ("A. Chaigne, A. Askenfelt, 'Numerical simulations of piano strings. I', J. Acoust. "
           "Soc. Am. 95(2), 1112-1118 (1994), Table I: damping b1 = 0.5 1/s, b3 = 6.25e-9 s")
TRAUTMANN = ("L. Trautmann, R. Rabenstein, 'Digital sound synthesis of string instruments with "
             "the functional transformation method', Signal Processing 83 (2003); string data "
             "(L, A, rho, E, losses) as used in the tension-modulated string of Parker et al., "
             "DAFx 2022")
VALETTE = ("C. Valette, 'The mechanics of vibrating strings', in Mechanics of Musical "
           "Instruments, Springer (1995): air and internal losses of steel strings")


def t60_from_b1_b3(b1: float, b3: float, frequency: float) -> float:
    """T60 (s) of a mode at `frequency` under Chaigne & Askenfelt's damping b1 + b3 omega^2."""
    omega = 2 * math.pi * frequency
    return 3 * math.log(10) / (b1 + b3 * omega * omega)


def t60_from_losses(d1: float, d3: float, tension: float, mu: float, frequency: float) -> float:
    """T60 (s) at `frequency` of a string with losses d1 u_t and d3 u_txx per unit length
    (rho A u_tt + d1 u_t - d3 u_txx + ...): sigma = (d1 + d3 k^2) / (2 mu), k = omega / c."""
    k = 2 * math.pi * frequency * math.sqrt(mu / tension)
    return 3 * math.log(10) / ((d1 + d3 * k * k) / (2 * mu))


SLACK_MU = 7800 * 0.19634e-6

STRINGS = {
    "nylon-guitar": dict(
        description="A nylon classical-guitar G string (G3, 196 Hz): warm, fast-decaying "
                    "treble, gentle pitch glide on hard plucks.",
        physical=PhysicalString(length=0.65, tension=58.3, linear_density=0.90e-3,
                                youngs_modulus=6.3e9, radius=0.50e-3,
                                t60_low=(196.0, 7.4), t60_high=(1970.0, 2.1)),
        note=55, potential="exact", n_modes=40, pluck_position=0.17, width_ms=1.0,
        force=5.0, pickup=0.83, excitation="pluck",
        sources={
            "length, tension, linear density, bending stiffness EI = 310e-6 N m^2":
                f"[S] {WOODHOUSE}",
            "radius 0.50 mm": "[D] r = sqrt(mu / (pi rho)) with nylon rho = 1140 kg/m^3 [A]; "
                              "matches D'Addario NYL040 (0.040 in)",
            "Young's modulus 6.3 GPa": "[D] E = 4 EI / (pi r^4)",
            "T60 7.4 s at 196 Hz, 2.1 s at 1.97 kHz": "[D] from Woodhouse's loss factors "
                                                     "(eta_F 1.4e-4, eta_A 1.7, eta_B 2e-2), "
                                                     "string alone, no body",
            "pluck position 0.17 L, force up to 5 N over ~1 ms": "[A] a firm finger pluck "
                                                                 "(Woodhouse: 1-10 N)"}),
    "steel-guitar": dict(
        description="A plain steel acoustic-guitar B string (B3, 247 Hz): bright and long "
                    "ringing, with a stiff-string shimmer.",
        physical=PhysicalString(length=0.6477, tension=103.6, linear_density=1.013e-3,
                                youngs_modulus=2.0e11, radius=0.2032e-3,
                                t60_low=(247.0, 19.0), t60_high=(2000.0, 4.1)),
        note=59, potential="exact", n_modes=40, pluck_position=0.15, width_ms=0.6,
        force=5.0, pickup=0.9, excitation="pluck",
        sources={
            "length 0.6477 m, tension 103.6 N, linear density 1.013e-3 kg/m": f"[P] {DADDARIO}",
            "radius 0.2032 mm": "[P] gauge 0.016 in / 2",
            "Young's modulus 200 GPa": "[A] standard steel",
            "T60 19 s at 247 Hz, 4.1 s at 2 kHz": f"[D] air damping and internal losses after "
                                                  f"{VALETTE}, rigid supports",
            "pluck position 0.15 L, force up to 5 N over ~0.6 ms (pick)": "[A] typical"}),
    "piano-wound": dict(
        description="A wound piano bass string (C2, 65.4 Hz): steel core, copper winding, "
                    "struck by a felt hammer; Kirchhoff-Carrier tension modulation over 80 "
                    "modes.",
        physical=PhysicalString(length=1.602, tension=915.0, linear_density=0.02075,
                                youngs_modulus=2.0e11, radius=0.5255e-3,
                                t60_low=(65.4, t60_from_b1_b3(0.5, 6.25e-9, 65.4)),
                                t60_high=(2000.0, t60_from_b1_b3(0.5, 6.25e-9, 2000.0))),
        note=36, potential="kc", n_modes=80, pluck_position=0.12, width_ms=2.0,
        force=80.0, pickup=0.88, excitation="hammer",
        hammer=dataclasses.replace(PIANO_HAMMERS["C2"][4], width=0.01, speeds=(0.5, 5.0)),
        sources={
            "length 1.602 m, tension 915 N, core diameter 1.051 mm, equivalent density "
            "23919 kg/m^3 (mu = 0.02075 kg/m), strike point 0.192 m": f"[S] {CHABASSIER}",
            "Young's modulus 200 GPa (steel core)": f"[S] {CHAIGNE}",
            "T60 13.8 s at 65.4 Hz, 4.6 s at 2 kHz": f"[D] sigma = b1 + b3 omega^2 with b1, b3 "
                                                     f"of {CHAIGNE}",
            "hammer 4.9 g, felt K 4.0e8 N/m^2.3, p 2.3": f"[S] {CHAIGNE_ASKENFELT} (C2)",
            "felt contact 1 cm wide": "[A] the crown of a bass hammer's felt",
            "hammer speed 0.5 m/s (velocity 1) to 5 m/s (velocity 127)":
                "[S] A. Askenfelt, E. Jansson, 'From touch to string vibrations II', J. Acoust. "
                "Soc. Am. 90(5) (1991): about 1 m/s at piano to 4-5 m/s at fortissimo; D. "
                "Russell, T. Rossing, Acustica 84 (1998): 1-6 m/s span the dynamic range",
            "contact time 2 ms, force up to 80 N (the strike when the hammer is off)":
                "[A] typical of a forte bass blow"}),
    "slack-steel": dict(
        description="A slack steel string (70 Hz) plucked hard: strongly nonlinear, its "
                    "pitch starts sharp and glides down as it decays.",
        physical=PhysicalString(length=1.0, tension=30.0, linear_density=SLACK_MU,
                                youngs_modulus=1.9e11, radius=0.25e-3,
                                t60_low=(70.0, t60_from_losses(4e-3, 6e-5, 30.0, SLACK_MU,
                                                               70.0)),
                                t60_high=(1000.0, t60_from_losses(4e-3, 6e-5, 30.0, SLACK_MU,
                                                                  1000.0))),
        note=37.3, potential="exact", n_modes=40, pluck_position=0.28, width_ms=1.5,
        force=4.0, pickup=0.6, excitation="pluck",
        sources={
            "length 1 m, cross-section 0.19634 mm^2 (r = 0.25 mm), density 7800 kg/m^3, "
            "E = 190 GPa, losses d1 = 4e-3 kg/(m s), d3 = 6e-5 kg m/s": f"[S] {TRAUTMANN}",
            "tension 30 N (70 Hz) instead of the source's 150 N": "[A] slackened to raise "
                                                                  "E A / T from 249 to 1243",
            "T60 at 70 Hz and 1 kHz": "[D] sigma = (d1 + d3 k^2) / (2 rho A) at the slack "
                                      "tension, k = omega sqrt(mu / T)",
            "pluck position 0.28 L, force up to 4 N": "[S] position from the source; "
                                                      "force [A] a firm pluck, which bends "
                                                      "the slack string's pitch audibly"}),
}


def with_body(bare: Preset, name: str, body: str, keyboard=None, controls=None) -> Preset:
    """`bare` played through the body `presets.bodies.DESIGNS[body]` (and, given one, each
    note on its own string of `keyboard`, and the live `controls` it loads with), its output
    gain measured again for the instrument's sound."""
    made, _ = build_body(DESIGNS[body])
    description = f"{bare.description} On the body of a {made.name}, in stereo."
    if keyboard is not None and keyboard.hammered():
        description += (f" Every key its own string and hammer ({keyboard.name}: "
                        f"{int(keyboard.range[1] - keyboard.range[0]) + 1} keys).")
    elif keyboard is not None:
        description += (f" Every note on the string and fret a guitarist in first position "
                        f"would use ({keyboard.name}: six strings, {GUITAR_FRETS} frets).")
    return on_body(dataclasses.replace(bare, description=description, keyboard=keyboard,
                                       controls=controls or {}), made, name)


def build(name: str, spec: dict) -> Preset:
    physical = spec["physical"]
    string = physical.to_normalised("exact" if spec["potential"] == "exact" else "kc")
    preset = Preset(
        name=name, kind="sav-physics", n_modes=spec["n_modes"],
        model={"potential": spec["potential"]}, string=string,
        reference_note=float(spec["note"]),
        excitation_type=spec["excitation"], pluck_position=spec["pluck_position"],
        excitation_width_ms=spec["width_ms"],
        amplitude=physical.force_to_amplitude(spec["force"]), pickup=spec["pickup"],
        output_gain=1.0, description=spec["description"], physical=physical,
        hammer=spec.get("hammer"),
        provenance={"sources": spec["sources"],
                    "made_by": "python -m presets.make_physics_presets",
                    "excitation_force_newtons": spec["force"],
                    "output_gain": f"velocity 100 at the reference note peaks at "
                                   f"{LEVEL_DBFS:g} dBFS"})
    return dataclasses.replace(preset, output_gain=level_gain(preset))


# The instruments: each string on its body, under the name the bare string had before
# bodies came, with the live controls it loads with (the classical guitar played with the
# fingers, the steel-string guitar with a plectrum); the bare strings keep their own names
# (the paper's setting, for research).
INSTRUMENTS = {
    "nylon-guitar": ("nylon-string-bare", "classical-guitar",
                     lambda: guitar("nylon", 0.17 * NYLON_SCALE,
                                    STRINGS["nylon-guitar"]["width_ms"] * 1e-3,
                                    name="classical guitar"), {"plectrum": 0.0}),
    "steel-guitar": ("steel-string-bare", "steel-guitar",
                     lambda: guitar("steel", 0.15 * STEEL_SCALE,
                                    STRINGS["steel-guitar"]["width_ms"] * 1e-3,
                                    name="steel-string guitar"), {"plectrum": 1.0}),
    "piano-wound": ("piano-string-bare", "grand-piano", grand_piano, {})}


def presets() -> dict[str, Preset]:
    """Every shipped physics preset by name: the bare strings and the instruments."""
    made = {}
    for name, spec in STRINGS.items():
        bare = build(name, spec)
        if name in INSTRUMENTS:
            bare_name, body, keyboard, controls = INSTRUMENTS[name]
            made[name] = with_body(bare, name, body, keyboard(), controls)
            bare = dataclasses.replace(bare, name=bare_name)
            made[bare_name] = bare
        else:
            made[name] = bare
    return made


def main() -> None:
    for name, preset in presets().items():
        path = save_preset(preset, HERE / f"{name}.safetensors")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
