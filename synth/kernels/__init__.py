"""Numba step kernels: per-sample updates for many strings, with no allocation per step.

`sav` advances the SAV scheme, `potentials` evaluates V and grad V, `linear` computes the
per-mode coefficients (warping, mode dropping), `aligned` allocates cache-line aligned arrays.
"""
