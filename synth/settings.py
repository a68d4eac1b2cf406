"""The player's settings, kept between runs in the user config directory as JSON: the
window's (device, rate, block, MIDI, polyphony, octave, MIDI-learn bindings) and the last
preset played, which `play` records too and bare `neural-strings` opens.

A missing file gives the defaults; a corrupt or foreign one gives the defaults too, with the
reason in `Settings.problem` (the window shows it on its status line), and is replaced on the
next save. Each setting is checked on its own (type and range; each MIDI-learn binding
alone): a bad one takes its default and is named in `problem`, the good ones are kept, and
unknown keys are ignored, so no settings file, from another version or hand-edited, can
stop the instrument from starting.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import platformdirs

from synth import params
from synth.errors import OutputError, ParameterError
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
        """The settings in `path` (default: the user's file). Never raises: each setting is
        checked on its own, a bad one takes its default, and `problem` names them."""
        path = Path(path) if path else default_path()
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError, RecursionError) as error:
            reason = "nested too deeply" if isinstance(error, RecursionError) else error
            return cls(problem=f"settings {path} unreadable, using defaults ({reason})")
        if not isinstance(data, dict):
            return cls(problem=f"settings {path} is not a JSON object, using defaults")
        settings, replaced = cls(), []
        for name, valid in CHECKS.items():
            if name not in data:
                continue
            if valid(data[name]):
                setattr(settings, name, data[name])
            else:
                replaced.append(f"{name} {_shown(data[name])}")
        bindings = data.get("bindings", {})
        if isinstance(bindings, dict):
            settings.bindings = {k: v for k, v in bindings.items() if _binding(k, v)}
            replaced += [f"binding {_shown(k)}: {_shown(v)}" for k, v in bindings.items()
                         if not _binding(k, v)]
        else:
            replaced.append(f"bindings {_shown(bindings)}")
        if replaced:
            settings.problem = (f"settings {path}: bad values replaced by defaults: "
                                + "; ".join(replaced))
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


MIDI_APIS = ("auto", "alsa", "jack")
BLOCK_RANGE = (16, 8192)  # frames per audio callback
OCTAVE_RANGE = (-4, 4)  # the computer keyboard's octave shift


def _whole(value, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _text(value) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 4096 and "\0" not in value


def _rate(value) -> bool:
    try:
        params.check_rate(value)
    except ParameterError:
        return False
    return True


def _binding(controller, name) -> bool:
    """Whether {controller: name} is a binding the window can use: a controller number
    0..127 (as a decimal string) without a fixed meaning, and a live parameter."""
    return (isinstance(controller, str) and controller.isdecimal() and len(controller) <= 3
            and int(controller) < 128 and int(controller) not in params.FIXED_CONTROLLERS
            and isinstance(name, str) and name in params.PARAMS)


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


CHECKS = {  # every setting but the bindings (each checked alone): is this value usable?
    "audio_device": lambda v: v is None or _text(v),
    "sample_rate": lambda v: v is None or _rate(v),
    "block": lambda v: _whole(v, *BLOCK_RANGE),
    "midi_api": lambda v: v in MIDI_APIS,
    "midi_ports": lambda v: v is None or (isinstance(v, list) and len(v) <= 64
                                          and all(_text(p) for p in v)),
    "polyphony": lambda v: _whole(v, 1, params.MAX_POLYPHONY),
    "octave": lambda v: _whole(v, *OCTAVE_RANGE),
    "preset": lambda v: v is None or _text(v),
}
