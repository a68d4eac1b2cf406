"""The real-time engine: voices, events, live parameters and the block processor."""

from synth.engine.engine import Engine

__all__ = ["Engine"]
