"""The instrument window (PySide6 + pyqtgraph); it talks to the engine only via its public API.

So far: `controls` (the physical sliders, double-click reset, right-click MIDI learn) and the
parts that need no Qt: `units` (controls in physical units), `keyboard` (the
two-row computer keyboard) and `midi_learn` (binding knobs, soft takeover). The window
itself comes next.
"""
