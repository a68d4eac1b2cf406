"""The reference physics of the nonlinear string: parameters, modes, potentials, excitation
and offline simulation with the SAV scheme (DESIGN.md section 3)."""

from synth.physics.excitation import Excitation
from synth.physics.modes import (
                                 angular_frequencies,
                                 damped_frequencies,
                                 decay_rates,
                                 mode_shapes,
                                 wavenumbers,
)
from synth.physics.potentials import Potential, make_potential
from synth.physics.simulate import Simulation, SimulationSpec, simulate
from synth.physics.strings import (
                                 PhysicalString,
                                 StringParams,
                                 gamma_for_frequency,
                                 note_frequency,
                                 tuned,
)

__all__ = ["Excitation", "PhysicalString", "Potential", "Simulation", "SimulationSpec",
           "StringParams", "angular_frequencies", "damped_frequencies", "decay_rates",
           "gamma_for_frequency", "make_potential", "mode_shapes", "note_frequency",
           "simulate", "tuned", "wavenumbers"]
