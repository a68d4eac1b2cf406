"""neural-strings runtime: the physics of nonlinear strings, their step kernels and the engine.

This package never imports torch; training lives in `models` (DESIGN.md section 2).
"""

__version__ = "0.1.0"
