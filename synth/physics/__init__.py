"""The reference physics of the nonlinear string (docs/design.md, "The string and its SAV
step"): parameters and tuning (`strings`), the modal basis and its formulas (`modes`),
potentials, excitation, and offline simulation with the SAV scheme (`simulate`)."""
