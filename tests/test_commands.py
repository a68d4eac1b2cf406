"""The engine's commands: render (a MIDI file or the demo), devices, play, bench engine, body."""

import json
import os
import re
import subprocess
import sys

import mido
import numpy as np
import pytest
import soundfile

from synth.cli import main
from synth.engine import Engine
from synth.presets import find_preset, load_preset


def run_command(*args, env=None, timeout=600):
    return subprocess.run([sys.executable, "-m", "synth", *args], capture_output=True,
                          text=True, timeout=timeout, env=env)


def test_render_demo_writes_the_phrase(tmp_path):
    out = tmp_path / "demo.wav"
    result = run_command("render", "--demo", str(out), "--quiet", "--tail", "1")
    assert result.returncode == 0, result.stderr
    audio, rate = soundfile.read(out)
    assert rate == 48000 and audio.shape[1] == 2 and len(audio) > 10 * rate
    assert np.isfinite(audio).all() and 0.05 < np.abs(audio).max() < 1.0


def test_render_a_midi_file_is_deterministic(tmp_path):
    midi = mido.MidiFile()
    track = mido.MidiTrack()
    midi.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=400000))  # 150 bpm
    for note in (60, 64, 67):
        track.append(mido.Message("note_on", note=note, velocity=90, time=0))
        track.append(mido.Message("note_off", note=note, velocity=0, time=240))
    track.append(mido.Message("pitchwheel", pitch=4000, time=0))
    track.append(mido.Message("control_change", control=64, value=127, time=10))
    path = tmp_path / "phrase.mid"
    midi.save(path)
    outputs = []
    for name in ("a.wav", "b.wav"):
        assert main(["render", str(path), str(tmp_path / name), "--quiet", "--tail", "0.5",
                     "--preset", "steel-guitar"]) == 0
        outputs.append(soundfile.read(tmp_path / name)[0])
    assert np.array_equal(*outputs)
    # 480 ticks per beat at 0.4 s per beat: three notes of 240 ticks (0.2 s), 10 more ticks
    # to the pedal, then the 0.5 s tail.
    assert len(outputs[0]) == round((0.6 + 10 / 480 * 0.4 + 0.5) * 48000)


def test_render_refuses_bad_input_clearly(tmp_path, capsys):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"MThd but not really")
    assert main(["render", str(bad), str(tmp_path / "x.wav")]) == 2
    assert "not a readable MIDI file" in capsys.readouterr().err
    assert main(["render", str(tmp_path / "x.wav")]) == 2
    assert "either a MIDI file or --demo" in capsys.readouterr().err
    assert main(["render", "--demo", str(tmp_path / "x.wav"), "--preset", "nope"]) == 2
    assert "no preset called 'nope'" in capsys.readouterr().err
    assert main(["render", "--demo", str(tmp_path / "x.wav"), "--polyphony", "0"]) == 2
    assert "polyphony" in capsys.readouterr().err


def test_play_without_an_audio_device_says_so():
    env = {**os.environ, "JACK_DEFAULT_SERVER": "no-such-server", "JACK_NO_START_SERVER": "1"}
    result = run_command("play", env=env, timeout=120)
    assert result.returncode == 2
    assert "no audio output device found" in result.stderr


def test_devices_lists_audio_and_midi(jack_server):
    result = run_command("devices", env=os.environ.copy(), timeout=120)
    assert result.returncode == 0, result.stderr
    assert "audio outputs:" in result.stdout and "system" in result.stdout
    assert "MIDI inputs:" in result.stdout and "jack:" in result.stdout


def test_bench_engine_runs_end_to_end():
    result = run_command("bench", "engine", "--quick", "--seconds", "0", timeout=1200)
    assert result.returncode == 0, result.stderr
    for model in ("exact potential", "Kirchhoff-Carrier", "GradNet 128"):
        assert model in result.stdout
    assert "of the core's FMA peak" in result.stdout
    for preset in ("koopman-40", "ssm-40"):  # the naive design: one kernel call per voice
        row = next(line for line in result.stdout.splitlines() if line.startswith(preset))
        voices, naive = row.split()[3], row.split("|")[1].split()[0]
        assert int(voices) > int(naive), row


def test_render_refuses_a_bad_output_path_before_any_work(tmp_path, capsys):
    """Checked first: before the preset (here a missing one) is even looked at."""
    for out, message in ((tmp_path / "no" / "such" / "x.wav", "does not exist"),
                         (tmp_path, "is a directory"),
                         (tmp_path / "out.mp3", "must be a .wav file")):
        assert main(["render", "--demo", str(out), "--preset", "nope", "--quiet"]) == 2
        error = capsys.readouterr().err
        assert error.startswith("error: ") and message in error and error.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_render_refuses_a_negative_tail_and_warns_of_a_file_without_notes(tmp_path, capsys):
    assert main(["render", "--demo", str(tmp_path / "x.wav"), "--tail", "-1"]) == 2
    assert "--tail must be from 0 to 3600 seconds" in capsys.readouterr().err
    silent = mido.MidiFile()
    silent.tracks.append(mido.MidiTrack([mido.Message("control_change", control=64,
                                                      value=127, time=0)]))
    silent.save(tmp_path / "silent.mid")
    assert main(["render", str(tmp_path / "silent.mid"), str(tmp_path / "s.wav"), "--quiet",
                 "--tail", "0.5"]) == 0
    assert "warning: " in capsys.readouterr().err and (tmp_path / "s.wav").exists()


def test_play_refuses_a_rate_of_zero(capsys):
    assert main(["play", "--rate", "0"]) == 2
    assert "sample rate must be between 8000 and 384000 Hz, got 0.0" in capsys.readouterr().err


def test_window_screenshot_to_a_missing_folder_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert main(["window", "--screenshot", str(tmp_path / "no" / "w.png")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_version_and_the_help_of_every_option():
    from synth import __version__

    result = run_command("--version", timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == f"neural-strings {__version__}"
    play = run_command("play", "--help", timeout=120).stdout
    assert "MIDI system for the virtual input" in play
    devices = run_command("devices", "--help", timeout=120).stdout
    assert "List the audio outputs PortAudio sees" in devices


def test_the_sound_libraries_stay_quiet_unless_asked():
    env = {**os.environ, "JACK_DEFAULT_SERVER": "no-such-server", "JACK_NO_START_SERVER": "1"}
    quiet = run_command("devices", env=env, timeout=120)
    assert quiet.returncode == 0, quiet.stderr
    assert "Cannot connect to server" not in quiet.stderr and "ALSA lib" not in quiet.stderr
    assert "no sound card or sound server was found" in quiet.stdout
    assert "libportaudio2" not in quiet.stdout  # installed: not what is missing
    loud = run_command("--verbose", "devices", env=env, timeout=120)
    assert "Cannot connect to server" in loud.stderr


def fresh_home(tmp_path) -> dict:
    """An environment whose home and caches are empty: a first run."""
    env = {key: value for key, value in os.environ.items() if key != "NUMBA_CACHE_DIR"}
    return {**env, "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache"),
            "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_DATA_HOME": str(tmp_path / "data")}


def test_a_first_run_says_it_compiles_and_a_second_does_not(tmp_path):
    env = fresh_home(tmp_path)
    first = run_command("render", "--demo", str(tmp_path / "a.wav"), "--tail", "0", env=env)
    assert first.returncode == 0, first.stderr
    lines = first.stderr.splitlines()
    assert lines[0].startswith("compiling the sound engine for sav-physics (first run only, "
                               "about ") and lines[0].endswith(" s)...")
    assert any(line.startswith("compiled in ") for line in lines)
    # the progress bar starts after compiling: its first line is a fresh start
    progress = [line for line in lines if line.startswith("render [")]
    elapsed, left = re.search(r"(\d+) s, +(\S+) s left", progress[0]).groups()
    assert elapsed == "0" and float(left) < 60  # no compile time in its estimate
    history = json.loads((tmp_path / "cache" / "neural-strings" / "compile-seconds.json")
                         .read_text())
    assert history["engine"] > 0 and history["kind"] > 0
    again = run_command("render", "--demo", str(tmp_path / "b.wav"), "--tail", "0", env=env)
    assert again.returncode == 0 and "compiling" not in again.stderr


def test_bench_startup_runs_end_to_end():
    result = run_command("bench", "startup", "--quick", timeout=1200)
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if line.startswith("render, one"))
    cold, naive, ratio, warm = (float(cell.rstrip("sx")) for cell in row.split()[-4:])
    assert cold > warm and naive > warm and ratio > 0


def test_body_puts_a_learned_string_on_an_instrument_at_the_shipped_level(tmp_path):
    out = tmp_path / "stretch-piano.safetensors"
    result = run_command("body", "stretch-128", str(out), "--from", "piano-wound")
    assert result.returncode == 0, result.stderr
    preset = load_preset(out)
    piano = load_preset(find_preset("piano-wound"))
    np.testing.assert_array_equal(preset.body.gains, piano.body.gains)
    assert preset.name == "stretch-piano" and preset.kind == "sav-gradnet"
    engine = Engine(preset, fs=48000, polyphony=2)
    engine.note_on(round(preset.reference_note), 100)
    peak = np.abs(engine.process(48000)).max()
    assert 20 * np.log10(peak) == pytest.approx(-12.0, abs=0.1)
    bare = tmp_path / "bare.safetensors"
    assert run_command("body", str(out), str(bare), "--bare").returncode == 0
    assert load_preset(bare).body is None


@pytest.mark.parametrize("arguments, message", [
    (["--from", "steel-string-bare"], "steel-string-bare has no body; presets with one:"),
    ([], "give either --from PRESET (whose body to use) or --bare"),
    (["--from", "steel-guitar", "--bare"], "give either --from PRESET"),
])
def test_body_refuses_what_it_cannot_do_in_one_line(tmp_path, arguments, message):
    result = run_command("body", "stretch-128", str(tmp_path / "o.safetensors"), *arguments)
    assert result.returncode == 2 and message in result.stderr
    assert result.stderr.count("\n") == 1
