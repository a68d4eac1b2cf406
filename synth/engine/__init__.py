"""The real-time engine: voices, events, live parameters and the block processor.

`from synth.engine import Engine` works; the import is deferred so that modules the engine
itself uses (presets need `synth.engine.params`) can be imported without loading it.
"""


def __getattr__(name):
    if name == "Engine":
        from synth.engine.engine import Engine

        return Engine
    raise AttributeError(f"module 'synth.engine' has no attribute {name!r}")
