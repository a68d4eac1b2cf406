"""The control panel against a real engine, offscreen (pytest-qt)."""

import os

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint, Qt

from gui.controls import SHOWN, ControlPanel
from synth.engine import Engine
from synth.params import PARAMS


@pytest.fixture
def panel(qtbot):
    engine = Engine("nylon-guitar", fs=48000, polyphony=4)
    widget = ControlPanel(engine)
    qtbot.addWidget(widget)
    return widget


@pytest.mark.parametrize("name", SHOWN)
def test_moving_each_control_changes_the_engine_target(panel, name):
    slider = panel.sliders[name]
    for position in (0, slider.maximum() // 3, slider.maximum()):
        slider.setValue(position)
        expected = PARAMS[name].clamp(slider.value_of_position())
        assert panel.engine.get_param(name) == pytest.approx(expected, rel=1e-6)
    assert panel.readouts[name].text()


def test_double_click_resets_and_the_readout_is_physical(panel, qtbot):
    slider = panel.sliders["tension"]
    slider.setValue(slider.maximum())
    assert panel.engine.get_param("tension") == pytest.approx(4.0)
    assert panel.readouts["tension"].text() == "233.2 N (+1200 cents)"
    qtbot.mouseDClick(slider, Qt.MouseButton.LeftButton, pos=QPoint(5, 5))
    assert panel.engine.get_param("tension") == pytest.approx(1.0)
    assert panel.readouts["tension"].text() == "58.3 N (+0 cents)"


def test_midi_learn_binds_a_knob_with_soft_takeover(panel):
    panel._arm("decay")  # what a right-click does
    assert panel.readouts["decay"].text() == "move a MIDI knob..."
    assert not panel.control_change(74, 0)  # binds CC 74
    assert panel.learn.bindings == {74: "decay"}
    assert not panel.control_change(74, 20)  # far below decay 1.0: no jump
    assert panel.control_change(74, 100)  # passes it: takes over
    moved = panel.engine.get_param("decay")
    assert moved > 1.0 and panel.sliders["decay"].value_of_position() == pytest.approx(
        moved, rel=1e-2)
    panel.engine.note_on(60, 100)
    assert np.isfinite(panel.engine.process(4800)).all()


def test_controls_a_model_kind_ignores_are_greyed_out_until_a_preset_uses_them(panel):
    from synth.presets import find_preset

    panel.engine.load_preset(find_preset("koopman-40"))
    panel.refresh()
    for name in ("nonlinearity", "excitation"):
        assert not panel.sliders[name].isEnabled()
        assert panel.readouts[name].text() == "no effect on a koopman model"
    assert panel.sliders["tension"].isEnabled()
    assert panel.readouts["tension"].text() == "x1.00 (+0 cents)"
    panel.engine.load_preset(find_preset("ssm-40"))  # the SSM sees the force: strike works
    panel.refresh()
    assert panel.sliders["excitation"].isEnabled()
    assert not panel.sliders["nonlinearity"].isEnabled()
    panel.engine.load_preset(find_preset("nylon-guitar"))
    panel.refresh()
    assert all(slider.isEnabled() for slider in panel.sliders.values())
