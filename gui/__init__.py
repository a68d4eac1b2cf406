"""The instrument window (PySide6 + pyqtgraph); it talks to the engine only via its public API.

`app` starts it, `window` lays it out and runs audio, MIDI and the refresh loop; `controls`
(physical sliders, MIDI learn), `displays` (scope, spectrum, modal energy, pitch), `piano`
(on-screen keyboard), `browser` (presets) and `audio_setup` (devices) are its panels.
Qt-free parts: `units` (values in physical units), `analysis` (what the displays compute),
`keyboard` (the two-row computer keyboard), `midi_learn` (bindings, soft takeover),
`settings` (persisted choices) and `preset_info` (a preset's summary). `bench` measures
underruns with the window open against the same run without it.
"""
