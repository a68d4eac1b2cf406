"""The engine's commands: render (a MIDI file or the demo), devices, play, bench engine."""

import os
import subprocess
import sys

import mido
import numpy as np
import soundfile

from synth.cli import main


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
