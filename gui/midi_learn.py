"""MIDI learn with soft takeover: bind a hardware knob (a control change) to a parameter.

`arm(name)` waits for the next control change, which binds its controller number to the
parameter (a controller drives one parameter, a parameter listens to one controller). A bound
knob does not move its parameter until the knob passes the parameter's current value (soft
takeover), so grabbing a knob that sits elsewhere never makes the sound jump; moving the
parameter from the window (`release`) asks for the takeover again. Knob positions map onto a
parameter's range as its record says (`synth.params.knob_value`).
"""

from __future__ import annotations

from synth.params import PARAMS, knob_position, knob_value

CATCH = 1.0  # a knob within this many steps (of 127) of the parameter takes over at once


class MidiLearn:
    """Controller bindings, the learn gesture, and soft takeover."""

    def __init__(self) -> None:
        self.bindings: dict[int, str] = {}  # controller number -> parameter name
        self.armed: str | None = None
        self._caught: dict[int, bool] = {}
        self._last: dict[int, float] = {}

    def arm(self, name: str) -> None:
        """The next control change binds its controller to `name`."""
        if name not in PARAMS:
            raise KeyError(f"unknown parameter {name!r}")
        self.armed = name

    def cancel(self) -> None:
        self.armed = None

    def unbind(self, name: str) -> None:
        for controller in [c for c, bound in self.bindings.items() if bound == name]:
            del self.bindings[controller]
            self._caught.pop(controller, None)
            self._last.pop(controller, None)

    def controller_of(self, name: str) -> int | None:
        return next((c for c, bound in self.bindings.items() if bound == name), None)

    def release(self, name: str) -> None:
        """`name` was moved from elsewhere: its knob must catch it again."""
        controller = self.controller_of(name)
        if controller is not None:
            self._caught[controller] = False

    def control_change(self, controller: int, position: int,
                       current: float) -> tuple[str, float] | None:
        """Handle a control change (controller 0..127, position 0..127) given the bound
        parameter's `current` value; returns (parameter, new value) when it should move."""
        if self.armed is not None:
            self.unbind(self.armed)
            self.bindings[controller] = self.armed
            self._caught[controller] = False
            self._last[controller] = float(position)
            self.armed = None
            return None
        name = self.bindings.get(controller)
        if name is None:
            return None
        here = knob_position(name, current)
        last = self._last.get(controller)
        self._last[controller] = float(position)
        if not self._caught.get(controller, False):
            crossed = last is not None and (last - here) * (position - here) <= 0.0
            if not (crossed or abs(position - here) <= CATCH):
                return None
            self._caught[controller] = True
        return name, knob_value(name, position)
