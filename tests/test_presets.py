"""Presets: the shipped ones, saving and loading, and refusing broken files clearly."""

import dataclasses
import json
import os
import stat

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors import safe_open
from safetensors.numpy import save_file

from synth.engine import Engine
from synth.errors import PresetError
from synth.kinds.sav_string import potential_of
from synth.presets import (
    METADATA_KEY,
    Preset,
    find_preset,
    load_preset,
    save_preset,
    shipped_presets,
)

SHIPPED = {"nylon-guitar", "steel-guitar", "piano-wound", "slack-steel", "nylon-string-bare",
           "steel-string-bare", "piano-string-bare"}


def test_the_shipped_presets_are_real_strings_with_sources():
    presets = {p.stem: load_preset(p) for p in shipped_presets()}
    assert SHIPPED <= set(presets)
    for name in SHIPPED:
        preset = presets[name]
        assert preset.kind == "sav-physics" and preset.physical is not None
        sources = preset.provenance["sources"]
        assert len(sources) >= 4 and all(text[:3] in ("[P]", "[S]", "[D]", "[A]")
                                         for text in sources.values())
        # The normalised model is the physical string's.
        expected = preset.physical.to_normalised(
            "kc" if preset.model["potential"] == "kc" else "exact")
        assert preset.string == expected


def test_save_and_load_round_trip(tmp_path):
    preset = load_preset(find_preset("steel-guitar"))
    path = save_preset(preset, tmp_path / "copy.safetensors")
    again = load_preset(path)
    assert again.metadata() == preset.metadata()


def test_a_gradnet_preset_round_trips_its_weights(tmp_path):
    rng = np.random.default_rng(0)
    weights = {"gradnet.weight": rng.standard_normal((16, 20)),
               "gradnet.bias": rng.standard_normal(16),
               "gradnet.log_scale_in": rng.standard_normal(16) * 0.1,
               "gradnet.log_scale_out": rng.standard_normal(16) * 0.1}
    base = load_preset(find_preset("nylon-guitar"))
    preset = Preset(**{**base.__dict__, "kind": "sav-gradnet", "model": {"potential": "gradnet"},
                       "n_modes": 20, "tensors": weights, "path": None})
    again = load_preset(save_preset(preset, tmp_path / "g.safetensors"))
    for name, value in weights.items():
        assert np.allclose(again.tensors[name], value, rtol=1e-6)  # stored as float32
    q = rng.standard_normal(20) * 0.01
    assert potential_of(again).value(q) == pytest.approx(potential_of(preset).value(q),
                                                         rel=1e-5)


def test_a_saved_preset_gets_the_usual_file_permissions(tmp_path):
    mask = os.umask(0o022)
    os.umask(mask)
    path = save_preset(load_preset(find_preset("nylon-guitar")), tmp_path / "n.safetensors")
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left beside it


def test_a_preset_of_a_kind_that_is_not_installed_names_the_kind_and_its_package(tmp_path,
                                                                                 good_meta):
    good_meta.update(kind="waveguide", package="neural-strings-waveguide")
    path = write_preset(tmp_path / "w.safetensors", good_meta)
    with pytest.raises(PresetError) as error:
        load_preset(path)
    message = str(error.value)
    assert "model kind 'waveguide' is not installed" in message
    assert "pip install neural-strings-waveguide" in message and "sav-physics" in message


def write_preset(path, meta=None, tensors=None, raw_metadata=None):
    metadata = raw_metadata if raw_metadata is not None else {METADATA_KEY: json.dumps(meta)}
    save_file(tensors or {}, path, metadata=metadata)
    return path


@pytest.fixture
def good_meta():
    return load_preset(find_preset("nylon-string-bare")).metadata()


@pytest.mark.parametrize("change, message", [
    (lambda m: m.update(version=2), "format version 2; this program reads version 1"),
    (lambda m: m.update(kind="wavetable"), "model kind 'wavetable' is not installed"),
    (lambda m: m.pop("excitation"), "missing field 'excitation'"),
    (lambda m: m["model"].update(n_modes=0), "n_modes"),
    (lambda m: m["model"].update(potential="gradnet"), "model.potential must be 'exact' or 'kc'"),
    (lambda m: m["string"]["normalised"].update(gamma=-1.0), "gamma must be > 0"),
    (lambda m: m.update(pickup=float("nan")), "pickup must be a finite number"),
    (lambda m: m.update(controls={"volume": 1.0}), "unknown control(s) ['volume']"),
    (lambda m: m["excitation"].update(type="bow"), "excitation type 'bow'"),
    (lambda m: m.update(output_gain=0), "output_gain must lie between 0 and 10000"),
    (lambda m: m.update(pickup=1.5), "pickup must lie between 0 and 1"),
    (lambda m: m["excitation"].update(amplitude=1e30), "excitation.amplitude must lie"),
    (lambda m: m.update(string=5), "string must be a JSON object, got 5"),
    (lambda m: m.update(controls=[1]), "controls must be a JSON object"),
    (lambda m: m["string"].update(normalised=[]), "malformed description (TypeError"),
    (lambda m: m["model"].update(n_modes=4096), "4096 modes: a preset may have at most 256"),
])
def test_invalid_descriptions_are_refused_with_the_fault(tmp_path, good_meta, change, message):
    change(good_meta)
    path = write_preset(tmp_path / "bad.safetensors", good_meta)
    with pytest.raises(PresetError) as error:
        load_preset(path)
    assert str(path) in str(error.value) and message in str(error.value)


def test_broken_files_are_refused(tmp_path, good_meta):
    cases = {
        "garbage.safetensors": b"definitely not safetensors",
        "empty.safetensors": b"",
    }
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(PresetError, match="not a readable safetensors file"):
            load_preset(path)
    with pytest.raises(PresetError, match="no such preset file"):
        load_preset(tmp_path / "absent.safetensors")
    plain = write_preset(tmp_path / "plain.safetensors", raw_metadata={"other": "x"})
    with pytest.raises(PresetError, match="not a neural-strings preset"):
        load_preset(plain)
    not_json = write_preset(tmp_path / "json.safetensors", raw_metadata={METADATA_KEY: "{"})
    with pytest.raises(PresetError, match="not valid JSON"):
        load_preset(not_json)
    good_meta.update(kind="sav-gradnet")
    good_meta["model"].update(potential="gradnet", n_modes=4)
    nan = write_preset(tmp_path / "nan.safetensors", good_meta, tensors={
        "gradnet.weight": np.full((2, 4), np.nan, np.float32),
        "gradnet.bias": np.zeros(2, np.float32), "gradnet.log_scale_in": np.zeros(2, np.float32),
        "gradnet.log_scale_out": np.zeros(2, np.float32)})
    with pytest.raises(PresetError, match="non-finite"):
        load_preset(nan)


@given(cut=st.integers(0, 10_000), flips=st.lists(st.tuples(st.integers(0, 10_000),
                                                            st.integers(1, 255)), max_size=4))
@settings(max_examples=200, deadline=None)
def test_truncated_or_corrupted_files_never_crash_the_loader(tmp_path_factory, cut, flips):
    source = find_preset("nylon-guitar").read_bytes()
    data = bytearray(source[:cut % (len(source) + 1)])
    for position, mask in flips:
        if data:
            data[position % len(data)] ^= mask
    path = tmp_path_factory.mktemp("corrupt") / "x.safetensors"
    path.write_bytes(bytes(data))
    try:
        preset = load_preset(path)
    except PresetError as error:
        assert "x.safetensors" in str(error)
        return
    # A corruption that still parses must still be a valid, playable preset.
    engine = Engine(preset, fs=48000, polyphony=2, max_block=64)
    engine.note_on(60, 100)
    assert np.isfinite(engine.process(512)).all()


def test_unknown_preset_names_list_the_available_ones():
    with pytest.raises(PresetError, match="nylon-guitar"):
        find_preset("no-such-preset")


def test_make_physics_presets_rebuilds_the_shipped_files_to_the_last_bit_of_rounding(tmp_path):
    # the description byte for byte; the tables to 1e-14 of each one's largest value: numpy's
    # exp and pow round their last bit differently on different processors (AVX-512 or
    # not), and a rebuilt body's gains or piano's hammer table differ there by 1 ulp
    from presets.make_physics_presets import presets

    for name, preset in presets().items():
        rebuilt = save_preset(preset, tmp_path / f"{name}.safetensors")
        with safe_open(rebuilt, "numpy") as ours, safe_open(find_preset(name), "numpy") as shipped:
            assert ours.metadata() == shipped.metadata(), name
            assert sorted(ours.keys()) == sorted(shipped.keys()), name
            for key in shipped.keys():
                a, b = ours.get_tensor(key), shipped.get_tensor(key)
                assert a.dtype == b.dtype and a.shape == b.shape, (name, key)
                assert np.abs(a - b).max(initial=0.0) <= 1e-14 * np.abs(b).max(initial=0.0), \
                    (name, key)


def test_a_description_nested_too_deeply_is_refused(tmp_path, good_meta):
    nested = '{"a": ' * 5000 + "1" + "}" * 5000
    text = json.dumps(good_meta)[:-1] + ', "provenance": ' + nested + "}"
    path = write_preset(tmp_path / "deep.safetensors", raw_metadata={METADATA_KEY: text})
    with pytest.raises(PresetError, match="nested too deeply"):
        load_preset(path)


def test_weights_beyond_the_sane_range_are_refused_by_name(tmp_path):
    preset = load_preset(find_preset("stretch-128"))
    name = sorted(preset.tensors)[0]
    tensors = {**preset.tensors, name: np.full_like(preset.tensors[name], 1e30)}
    path = save_preset(dataclasses.replace(preset, tensors=tensors), tmp_path / "w.safetensors")
    with pytest.raises(PresetError, match=f"tensor '{name}' holds a value of 1e\\+30"):
        load_preset(path)


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)
FIELDS = [("kind",), ("model",), ("model", "n_modes"), ("model", "potential"), ("string",),
          ("string", "reference_note"), ("string", "normalised"), ("string", "physical"),
          ("string", "normalised", "gamma"), ("excitation",), ("excitation", "type"),
          ("excitation", "amplitude"), ("excitation", "hammer"), ("excitation", "hammer", "mass"),
          ("excitation", "hammer", "speeds"), ("pickup",), ("output_gain",), ("controls",),
          ("controls", "tension"), ("name",), ("provenance",), ("version",)]


@given(st.lists(st.tuples(st.sampled_from(FIELDS), JSON), min_size=1, max_size=4))
@settings(max_examples=300, deadline=None)
def test_any_description_loads_as_a_valid_preset_or_is_refused_in_one_line(tmp_path_factory,
                                                                           changes):
    meta = load_preset(find_preset("piano-wound")).metadata()
    for keys, value in changes:
        target = meta
        for key in keys[:-1]:
            target = target.get(key) if isinstance(target, dict) else None
        if isinstance(target, dict):
            target[keys[-1]] = value
    path = write_preset(tmp_path_factory.mktemp("meta") / "m.safetensors", meta)
    try:
        preset = load_preset(path)
    except PresetError as error:
        assert str(error).startswith(str(path)) and "\n" not in str(error)
        return
    engine = Engine(preset, fs=48000, polyphony=2, max_block=64)
    engine.note_on(60, 127)
    assert np.isfinite(engine.process(512)).all()


def test_a_model_that_blows_up_is_refused_rather_than_played_as_silence():
    """A Koopman bank whose oscillators grow (|lambda| = e per sample), built in memory past
    the loader's stability check: warm-up and a preset switch both refuse it."""
    base = load_preset(find_preset("koopman-40"))
    tensors = {**base.tensors, "bank.log_magnitude": np.ones_like(
        base.tensors["bank.log_magnitude"])}
    growing = dataclasses.replace(base, tensors=tensors, name="growing", path=None)
    with pytest.raises(PresetError, match="growing: a test note turns non-finite"):
        Engine(growing, polyphony=2).warm_up()
    engine = Engine("nylon-guitar", polyphony=2)
    with pytest.raises(PresetError, match="not playable"):
        engine.load_preset(growing)
    assert engine.preset.name == "nylon-guitar"


@pytest.fixture
def instrument():
    preset = load_preset(find_preset("nylon-guitar"))
    return preset.metadata(), dict(preset.body.tensors())


@pytest.mark.parametrize("change, message", [
    (lambda m, t: t.pop("body.gains"), "body: missing tensor(s) ['body.gains']"),
    (lambda m, t: t.update({"body.decays": t["body.decays"][:3]}), "need decays of shape"),
    (lambda m, t: t["body.frequencies"].__setitem__(0, np.nan), "mode frequencies must lie"),
    (lambda m, t: t["body.decays"].__setitem__(0, -1.0), "mode decay rates must lie"),
    (lambda m, t: t["body.gains"].__setitem__((0, 0), 1e9), "mode gains must be finite"),
    (lambda m, t: m["body"].update(spread=3.0), "spread must lie in [0, 1]"),
    (lambda m, t: m["body"].update(range=[80, 40]), "range must be two MIDI notes"),
    (lambda m, t: m.update(body=[1, 2]), "body must be a JSON object"),
])
def test_a_broken_body_is_refused_in_one_line_naming_the_fault(tmp_path, instrument, change,
                                                                message):
    meta, tensors = instrument
    tensors = {name: array.copy() for name, array in tensors.items()}
    change(meta, tensors)
    path = write_preset(tmp_path / "bad.safetensors", meta, tensors)
    with pytest.raises(PresetError) as error:
        load_preset(path)
    assert str(path) in str(error.value) and message in str(error.value)
    assert "\n" not in str(error.value)


def test_a_body_survives_saving_and_loading(tmp_path):
    preset = load_preset(find_preset("piano-wound"))
    again = load_preset(save_preset(preset, tmp_path / "p.safetensors"))
    for name, array in preset.body.tensors().items():
        np.testing.assert_array_equal(again.body.tensors()[name], array)
    assert again.body.description() == preset.body.description()


@pytest.fixture
def piano_meta():
    """The piano's bare string: its hammer in its description, no keyboard."""
    return load_preset(find_preset("piano-string-bare")).metadata()


@pytest.mark.parametrize("change, message", [
    (lambda m: m["excitation"].pop("hammer"), "a hammer needs a keyboard with hammers, or"),
    (lambda m: m["string"].update(physical=None), "a hammer needs a keyboard with hammers, or"),
    (lambda m: m["excitation"]["hammer"].update(mass=-1.0), "hammer mass must be > 0"),
    (lambda m: m["excitation"]["hammer"].update(exponent=0.5), "felt exponent must be >= 1"),
    (lambda m: m["excitation"]["hammer"].update(speeds=[6.0, 1.0]),
     "the softest hammer speed 6 m/s exceeds the hardest 1 m/s"),
    (lambda m: m["excitation"]["hammer"].update(speeds=[1.0]),
     "hammer speeds must be (softest, hardest)"),
    (lambda m: m["excitation"].update(hammer=3), "excitation.hammer must be a JSON object"),
    (lambda m: m["excitation"]["hammer"].pop("stiffness"), "missing field 'stiffness'"),
])
def test_a_broken_hammer_is_refused_in_one_line_naming_the_fault(tmp_path, piano_meta, change,
                                                                  message):
    change(piano_meta)
    path = write_preset(tmp_path / "bad.safetensors", piano_meta)
    with pytest.raises(PresetError) as error:
        load_preset(path)
    assert str(path) in str(error.value) and message in str(error.value)
    assert "\n" not in str(error.value)


def test_a_hammer_survives_saving_and_loading(tmp_path):
    preset = load_preset(find_preset("piano-wound"))
    again = load_preset(save_preset(preset, tmp_path / "p.safetensors"))
    assert again.hammer == preset.hammer and again.excitation_type == "hammer"
    assert again.hammer_normalised() == preset.hammer_normalised()
