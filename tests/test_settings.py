"""Settings files as a user, another version or a broken disk may leave them: each setting
is checked on its own, a bad one takes its default and is named, the good ones are kept,
and loading never raises."""

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synth.settings import CHECKS, Settings, _binding

BAD = [
    ({"sample_rate": 5}, "sample_rate 5"),
    ({"sample_rate": 1e30}, "sample_rate 1e+30"),
    ({"sample_rate": -48000}, "sample_rate -48000"),
    ({"sample_rate": "NaN"}, "sample_rate 'NaN'"),
    ({"bindings": {"999": "tension"}}, "binding '999'"),
    ({"bindings": {"64": "tension"}}, "binding '64'"),  # the sustain pedal's own
    ({"bindings": {"-1": "tension"}}, "binding '-1'"),
    ({"bindings": {"abc": "tension"}}, "binding 'abc'"),
    ({"bindings": {"1": "bogus"}}, "binding '1': 'bogus'"),
    ({"midi_ports": [1, 2]}, "midi_ports [1, 2]"),
    ({"midi_api": "coremidi"}, "midi_api 'coremidi'"),
    ({"block": 0}, "block 0"),
    ({"octave": 40}, "octave 40"),
]


@pytest.mark.parametrize("content, named", BAD)
def test_a_bad_setting_takes_its_default_and_is_named(tmp_path, content, named):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({**content, "block": content.get("block", 256),
                                "preset": "steel-guitar"}))
    loaded = Settings.load(path)
    assert named in loaded.problem and str(path) in loaded.problem
    default = Settings()
    for key in content:
        assert getattr(loaded, key) == getattr(default, key)
    assert loaded.preset == "steel-guitar"  # the good ones are kept
    assert "block" in content or loaded.block == 256


def test_a_good_binding_survives_beside_bad_ones(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"bindings": {"21": "tension", "1": "bogus", "64": "decay"}}))
    assert Settings.load(path).bindings == {"21": "tension"}


def test_json_nested_too_deeply_gives_the_defaults(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    loaded = Settings.load(path)
    assert loaded == Settings() and "nested too deeply" in loaded.problem


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats()
                    | st.text(max_size=6), lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=6)
KEYS = st.sampled_from([*CHECKS, "bindings", "problem", "colour"])


@given(st.dictionaries(KEYS, JSON | st.sampled_from([48000, 44100.0, 256, "alsa", -2, []])),
       st.dictionaries(st.text(max_size=4) | st.sampled_from(["1", "21", "74", "64"]),
                       JSON | st.sampled_from(["tension", "decay"]), max_size=4))
@settings(max_examples=400, deadline=None)
def test_any_settings_file_loads_to_usable_settings(tmp_path_factory, content, bindings):
    if bindings or "bindings" not in content:
        content["bindings"] = bindings
    path = tmp_path_factory.mktemp("settings") / "settings.json"
    path.write_text(json.dumps(content))
    loaded = Settings.load(path)
    for key, valid in CHECKS.items():
        value = getattr(loaded, key)
        assert valid(value), (key, value)
        if key in content and valid(content[key]):
            assert value == content[key] or (isinstance(value, float) and math.isnan(value))
    given = content["bindings"]
    good = {c: n for c, n in given.items() if _binding(c, n)} if isinstance(given, dict) else {}
    assert loaded.bindings == good
    assert (loaded.problem is None) == (
        all(valid(content[k]) for k, valid in CHECKS.items() if k in content)
        and good == given)
    loaded.save(path)  # what was loaded can be written back and read the same
    assert Settings.load(path) == loaded
