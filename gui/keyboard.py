"""Playing from the computer keyboard in the usual two-row layout.

The lower row plays from C: Z S X D C V G B H N J M , L . ; / (white keys on Z X C V B N M ,
. /, black keys on the row above them), and the upper row continues an octave higher: Q 2 W 3
E R 5 T 6 Y 7 U I 9 O 0 P. The octave shift moves both rows by whole octaves, and keys whose
note would leave 0..127 play nothing.
"""

from __future__ import annotations

LOWER_ROW = "zsxdcvgbhnjm,l.;/"
UPPER_ROW = "q2w3er5t6y7ui9o0p"
BASE_NOTE = 48  # C3: the Z key at octave shift 0
OCTAVE_LIMIT = 4  # shifts from -4 to +4 octaves

OFFSETS = {**{key: i for i, key in enumerate(LOWER_ROW)},
           **{key: 12 + i for i, key in enumerate(UPPER_ROW)}}


class ComputerKeyboard:
    """Maps key characters to MIDI notes, with an octave shift."""

    def __init__(self, octave: int = 0) -> None:
        self.octave = 0
        self.shift(octave)

    def shift(self, octaves: int) -> int:
        """Move by `octaves` (clamped to +-OCTAVE_LIMIT); returns the new shift."""
        self.octave = max(-OCTAVE_LIMIT, min(OCTAVE_LIMIT, self.octave + octaves))
        return self.octave

    def note(self, key: str) -> int | None:
        """The MIDI note of a key character (case-insensitive), or None."""
        offset = OFFSETS.get(key.lower()) if len(key) == 1 else None
        if offset is None:
            return None
        note = BASE_NOTE + 12 * self.octave + offset
        return note if 0 <= note <= 127 else None
