"""The on-screen keyboard: play with the mouse, see what is held, and the computer keys' map.

`Piano` draws `OCTAVES` octaves from the computer keyboard's lowest C (so its two rows sit
on the keys they play, and each key is labelled with its letter). A click plays a note, its
velocity from how low on the key it lands (like striking a real key further out); dragging
across keys plays each in turn; releasing the button releases the note. The keys lit are
those the window reports held, from any source (mouse, computer keyboard, MIDI).
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QWidget

from gui.keyboard import BASE_NOTE, OFFSETS, ComputerKeyboard

OCTAVES = 3
WHITE_STEPS = (0, 2, 4, 5, 7, 9, 11)  # semitones of the white keys in an octave
BLACK_AFTER = {1: 0, 3: 1, 6: 3, 8: 4, 10: 5}  # black semitone: the white key (index) it follows
LIT = QColor(90, 200, 255)


class Piano(QWidget):
    """Keys from `keyboard`'s lowest C for OCTAVES octaves; emits note_on / note_off."""

    note_on = Signal(int, int)  # note, velocity
    note_off = Signal(int)

    def __init__(self, keyboard: ComputerKeyboard) -> None:
        super().__init__()
        self.keyboard = keyboard
        self.lit: set[int] = set()
        self.pressed: int | None = None  # the note the mouse holds
        self.setMinimumHeight(90)
        self.setToolTip("click to play (lower on a key is louder); computer keys: two rows "
                        "from Z and Q; - and = shift octaves")

    @property
    def lowest(self) -> int:
        return BASE_NOTE + 12 * self.keyboard.octave

    def show_held(self, notes: set[int]) -> None:
        if notes != self.lit:
            self.lit = set(notes)
            self.update()

    def key_rects(self) -> list[tuple[int, QRectF, bool]]:
        """(note, rectangle, is_black) for every key, black keys last (drawn on top)."""
        whites = 7 * OCTAVES + 1
        width = self.width() / whites
        height = self.height()
        keys, blacks = [], []
        for octave in range(OCTAVES + 1):
            for index, step in enumerate(WHITE_STEPS):
                if octave == OCTAVES and step > 0:
                    break
                column = 7 * octave + index
                keys.append((self.lowest + 12 * octave + step,
                             QRectF(column * width, 0, width, height), False))
            for step, after in BLACK_AFTER.items():
                if octave < OCTAVES:
                    x = (7 * octave + after + 1) * width - 0.3 * width
                    blacks.append((self.lowest + 12 * octave + step,
                                   QRectF(x, 0, 0.6 * width, 0.6 * height), True))
        return [k for k in keys + blacks if 0 <= k[0] <= 127]

    def note_at(self, x: float, y: float) -> tuple[int, int] | None:
        """(note, velocity) under a point, black keys first; None off the keys."""
        for note, rect, _ in reversed(self.key_rects()):
            if rect.contains(x, y):
                depth = (y - rect.top()) / rect.height()
                return note, max(1, min(127, round(30 + 97 * depth)))
        return None

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        letters = {self.lowest + offset: key.upper() for key, offset in OFFSETS.items()}
        for note, rect, black in self.key_rects():
            colour = LIT if note in self.lit else (QColor(30, 30, 34) if black
                                                    else QColor(236, 236, 232))
            painter.fillRect(rect, colour)
            painter.setPen(QColor(60, 60, 60))
            painter.drawRect(rect)
            if note in letters:
                painter.setPen(QColor(200, 200, 200) if black else QColor(90, 90, 90))
                painter.drawText(rect.adjusted(0, 0, 0, -4),
                                 Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom,
                                 letters[note])
            if not black and (note - self.lowest) % 12 == 0:
                painter.setPen(QColor(90, 90, 90))
                painter.drawText(rect.adjusted(0, 4, 0, 0), Qt.AlignmentFlag.AlignHCenter,
                                 f"C{note // 12 - 1}")

    def mousePressEvent(self, event) -> None:
        self._press(event.position().x(), event.position().y())

    def mouseMoveEvent(self, event) -> None:
        if self.pressed is not None:
            hit = self.note_at(event.position().x(), event.position().y())
            if hit is None or hit[0] != self.pressed:
                self._release()
                if hit is not None:
                    self._press(event.position().x(), event.position().y())

    def mouseReleaseEvent(self, event) -> None:
        self._release()

    def _press(self, x: float, y: float) -> None:
        hit = self.note_at(x, y)
        if hit is not None:
            self.pressed = hit[0]
            self.note_on.emit(*hit)

    def _release(self) -> None:
        if self.pressed is not None:
            self.note_off.emit(self.pressed)
            self.pressed = None
