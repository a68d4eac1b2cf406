"""`neural-strings bench hammer`: the hammer's force pulse (`synth.physics.hammer`) on
published piano strings, against published contact durations.

Each note's string and hammer are Chaigne & Askenfelt's (`physics.hammer.PIANO_HAMMERS`);
the string (Kirchhoff-Carrier, 100 modes at 96 kHz, no losses that matter in 12 ms) is struck
by its hammer at 1 to 5 m/s through the SAV lanes the engine plays, and the felt's force
K c^p is read at every step. Published:

- the pulse lasts 4-5 ms at C1, falling steadily to under 1 ms at C7 (A. Chaigne et al.,
  'Reconstruction of piano hammer force from string velocity', J. Acoust. Soc. Am. 140(5),
  3504 (2016), and Chaigne's summary of historic and modern pianos);
- C4 struck at 3 m/s: contact about 3 ms, some 80 % of the period (H. Suzuki, 'Model
  analysis of a hammer-string interaction', ICASSP 1986);
- from piano to fortissimo the contact time changes by about +-20 % around its
  mezzo-forte value, shorter when harder (A. Askenfelt, E. Jansson, 'From touch to string
  vibrations', J. Acoust. Soc. Am. 1990-1993; KTH 'Five lectures on the acoustics of the
  piano').
"""

from __future__ import annotations

import numpy as np

from synth.files import replace_atomically
from synth.kernels import sav_voice
from synth.kernels.formulas import H_Y, HAMMER, excitation_record, felt_force
from synth.kernels.lanes import DRIVE
from synth.kinds.sav_string import lanes_for
from synth.physics.hammer import PIANO_HAMMERS, SOURCES
from synth.physics.losses import scheme_losses
from synth.physics.potentials import make_potential
from synth.physics.strings import PhysicalString

FS = 96000
MODES = 100
SPEEDS = (1.0, 2.0, 3.0, 4.0, 5.0)  # m/s
WINDOW = 0.012  # s
# note: (a published contact (ms) near it, low and high, and what it is, in a few words)
PUBLISHED = {"C2": ((4.0, 5.0), "4-5 ms at C1, an octave lower (Chaigne 2016)"),
             "C4": ((2.4, 3.6), "3 ms +-20 % at 3 m/s (Suzuki 1986; Askenfelt)"),
             "C7": ((0.0, 1.0), "under 1 ms (Chaigne 2016)")}


def strike(note: str, speed: float, fs: float = FS) -> np.ndarray:
    """The felt's force (N), one value per step for WINDOW seconds, of the published hammer
    of `note` meeting its string at rest at `speed` (m/s)."""
    length, density, tension, radius, hammer, position = PIANO_HAMMERS[note]
    string = PhysicalString(length=length, tension=tension, linear_density=density,
                            youngs_modulus=2.0e11, radius=radius, t60_low=(100.0, 20.0),
                            t60_high=(4000.0, 2.0)).to_normalised("kc")
    mass, felt, half_width = hammer.normalised(length, density)
    modes = min(MODES, int(0.45 * fs / (string.gamma / 2.0)))
    voices = lanes_for(make_potential("kc", modes, np.float64), fs, 1, np.float64)
    sav_voice.retune(voices, 0, string.gamma ** 2, string.kappa, scheme_losses(string.sigma0,
                     string.sigma1), string.nu ** 2, 0.5, 0)
    sav_voice.excite(voices, 0, excitation_record(
        0.0, 0.0, HAMMER, position, width=half_width, hammer_velocity=speed / length,
        hammer_mass=mass, felt=felt, felt_exponent=hammer.exponent))
    out = np.zeros((1, 1))
    force = np.zeros(int(WINDOW * fs))
    for n in range(force.size):
        compression = voices.exc[H_Y, 0] - voices.coef[DRIVE, :, 0] @ voices.q[:, 0]
        force[n] = felt_force(compression, felt, hammer.exponent) * density * length ** 2
        sav_voice.advance(voices, 1, 1, False, out)
    return force


def contact(force: np.ndarray, fs: float = FS) -> tuple[float, float]:
    """(contact duration (ms), peak force (N)) of a force pulse: from the first to the last
    step above 1 % of the peak."""
    touching = np.nonzero(force > 0.01 * force.max())[0]
    return (touching[-1] - touching[0] + 1) / fs * 1e3, float(force.max())


def measure() -> dict[str, list[tuple[float, float, float]]]:
    """For every published note: (speed m/s, contact ms, peak N) at each of SPEEDS."""
    return {note: [(speed, *contact(strike(note, speed))) for speed in SPEEDS]
            for note in PIANO_HAMMERS}


def figure(path, pulses: dict) -> None:
    """The force pulses at every speed, one panel per note, beside the published contact."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(pulses), figsize=(12, 3.6))
    for ax, (note, by_speed) in zip(axes, pulses.items(), strict=True):
        for speed, force in by_speed.items():
            t = np.arange(force.size) / FS * 1e3
            ax.plot(t, force, label=f"{speed:g} m/s")
        (low, high), text = PUBLISHED[note]
        ax.axvspan(low, high, color="0.85", zorder=0, label="published contact")
        ax.set(xlabel="time (ms)", xlim=(0, 6 if note != "C7" else 1.5))
        ax.set_title(f"{note}; published: {text}", fontsize=8)
    axes[0].set_ylabel("felt force (N)")
    axes[0].legend(fontsize=7)
    fig.suptitle("Hammer force pulses: Chaigne & Askenfelt's hammers and strings, "
                 "through the SAV lanes", fontsize=10)
    fig.tight_layout()
    with replace_atomically(path) as temporary:
        fig.savefig(temporary, format="png", dpi=110)
    plt.close(fig)


def run(figure_path=None) -> None:
    pulses = {note: {speed: strike(note, speed) for speed in SPEEDS} for note in PIANO_HAMMERS}
    print(f"{'note':5} {'speed m/s':>9} {'contact ms':>10} {'peak N':>8}   published contact")
    for note, by_speed in pulses.items():
        (low, high), text = PUBLISHED[note]
        for speed, force in by_speed.items():
            duration, peak = contact(force)
            print(f"{note:5} {speed:9.1f} {duration:10.2f} {peak:8.1f}   "
                  f"{low:g}-{high:g} ms: {text}")
    for note, source in SOURCES.items():
        print(f"  {note}: {source}")
    if figure_path:
        figure(figure_path, pulses)
        print(f"wrote {figure_path}")
