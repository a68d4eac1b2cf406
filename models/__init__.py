"""neural-strings training side (torch): datasets, model families, training, evaluation, export.

Imports `synth` for the physics and the preset format; nothing in `synth` imports this.
"""
