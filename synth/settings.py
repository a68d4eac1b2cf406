"""The player's settings, kept between runs in the user config directory as JSON: the
window's (device, rate, block, MIDI, polyphony, octave, MIDI-learn bindings) and the last
preset played, which `play` records too and bare `neural-strings` opens.

A missing file gives the defaults; a corrupt or foreign one gives the defaults too, with the
reason in `Settings.problem` (the window shows it on its status line), and is replaced on the
next save. Unknown keys are ignored and values of the wrong type fall back to their default,
so settings written by another version never stop the instrument from starting.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import platformdirs

from synth.errors import OutputError
from synth.files import replace_atomically

FILE_NAME = "settings.json"


@dataclass
class Settings:
    """Audio device (name or None for the default), sample rate (Hz, None: the device's),
    block (frames), MIDI API and input port names (None: every hardware input), polyphony,
    keyboard octave shift, the last preset, and MIDI-learn bindings {controller: param}."""

    audio_device: str | None = None
    sample_rate: float | None = None
    block: int = 128
    midi_api: str = "auto"
    midi_ports: list[str] | None = None
    polyphony: int = 16
    octave: int = 0
    preset: str | None = None
    bindings: dict[str, str] = field(default_factory=dict)
    problem: str | None = field(default=None, compare=False)

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> Settings:
        path = Path(path) if path else default_path()
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as error:
            return cls(problem=f"settings {path} unreadable, using defaults ({error})")
        if not isinstance(data, dict):
            return cls(problem=f"settings {path} is not a JSON object, using defaults")
        settings, defaults = cls(), cls()
        for item in fields(cls):
            if item.name == "problem" or item.name not in data:
                continue
            value, default = data[item.name], getattr(defaults, item.name)
            if _same_kind(value, default, item.name):
                setattr(settings, item.name, value)
        return settings

    def save(self, path: str | os.PathLike | None = None) -> Path:
        """Write atomically (a crash leaves the previous file); OutputError if it cannot."""
        path = Path(path) if path else default_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OutputError(f"{path.parent}: cannot create ({error.strerror})") from None
        data = {k: v for k, v in asdict(self).items() if k != "problem"}
        with replace_atomically(path) as temporary:
            temporary.write_text(json.dumps(data, indent=1))
        return path


def default_path() -> Path:
    return Path(platformdirs.user_config_dir("neural-strings")) / FILE_NAME


_OPTIONAL = {"audio_device": str, "sample_rate": (int, float), "midi_ports": list,
             "preset": str}


def _same_kind(value, default, name: str) -> bool:
    if name in _OPTIONAL:
        return value is None or (isinstance(value, _OPTIONAL[name])
                                 and not isinstance(value, bool))
    if isinstance(default, bool) or isinstance(value, bool):
        return type(value) is type(default)
    if isinstance(default, dict):
        return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str)
                                               for k, v in value.items())
    return isinstance(value, type(default))
