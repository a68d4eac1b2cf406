"""Every file the package writes, on a real full disk: one line saying so, no file that
looks complete, and an old file of the same name untouched. And `render` streams: memory
stays flat whatever the length of the piece."""

import os
import socket
import subprocess
import sys

import mido
import numpy as np
import pytest
import soundfile
from conftest import fill, small_disk

from synth.cli import main
from synth.engine import Engine
from synth.errors import OutputError
from synth.files import replace_atomically
from synth.presets import load_preset, save_preset
from synth.render import demo_events, render_to_file
from synth.settings import Settings

GOOD = np.full((4800, 2), 0.25)


@pytest.fixture
def disk(tmp_path):
    with small_disk(tmp_path / "disk", 1024) as folder:
        yield folder


def good_wav(folder):
    """An existing, valid WAV that a failed write must leave as it is."""
    path = folder / "out.wav"
    soundfile.write(path, GOOD, 48000, subtype="PCM_24")
    return path, path.read_bytes()


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name not in ("out.wav", "ballast"))


def test_render_refuses_before_starting_when_the_disk_cannot_hold_the_piece(disk, capsys):
    out, before = good_wav(disk)
    assert main(["render", "--demo", str(out), "--quiet"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "needs" in error and "free" in error, error
    assert out.read_bytes() == before and leftovers(disk) == []


def test_a_render_that_fills_the_disk_leaves_the_old_file_whole(disk):
    out, before = good_wav(disk)
    fill(disk, leave=200_000)  # room for about 0.7 s of the 16 s phrase
    engine = Engine("nylon-guitar")
    with pytest.raises(OutputError, match="the disk is full"):
        render_to_file(engine, demo_events(engine.fs), out, 16 * 48000)
    assert out.read_bytes() == before and leftovers(disk) == []


def test_simulate_on_a_full_disk_says_so_and_leaves_nothing(disk, capsys):
    fill(disk, leave=100_000)
    assert main(["simulate", "examples/pluck.json", str(disk / "s.npz"), "--wav",
                 str(disk / "s.wav")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "the disk is full" in error, error
    assert leftovers(disk) == []


def test_presets_and_settings_on_a_full_disk_say_so_and_keep_the_old_file(disk):
    preset = load_preset("presets/stretch-128.safetensors")
    path = save_preset(preset, disk / "mine.safetensors")
    before = path.read_bytes()
    fill(disk)
    with pytest.raises(OutputError, match="the disk is full"):
        save_preset(preset, path)
    assert path.read_bytes() == before
    with pytest.raises(OutputError, match="the disk is full"):
        Settings(block=256).save(disk / "settings.json")
    assert sorted(p.name for p in disk.iterdir()) == ["ballast", "mine.safetensors"]


def test_a_write_that_a_kill_interrupted_is_cleaned_up_by_the_next_one(tmp_path):
    target = tmp_path / "take.wav"
    script = ("import sys, os, time\n"
              "from synth.files import replace_atomically\n"
              "with replace_atomically(sys.argv[1]) as t:\n"
              "    t.write_bytes(b'half a file'); print('writing', flush=True); time.sleep(60)\n")
    writer = subprocess.Popen([sys.executable, "-c", script, str(target)],
                              stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().startswith("writing")
    writer.kill()
    writer.wait()
    host = socket.gethostname()
    assert [p.name for p in tmp_path.iterdir()] == [f".take.wav.{host}-{writer.pid}.partial"]
    elsewhere = tmp_path / ".take.wav.other-host-1.partial"  # a shared folder's other writer
    elsewhere.write_bytes(b"theirs")
    with replace_atomically(target) as temporary:
        temporary.write_bytes(b"whole")
    assert sorted(p.name for p in tmp_path.iterdir()) == [elsewhere.name, "take.wav"]


def test_a_library_failure_on_a_full_disk_is_one_line(disk):
    """np.save (datasets), torch.save (checkpoints) and libsndfile report a full disk their
    own ways; each becomes the same OutputError."""
    fill(disk, leave=4096)
    with pytest.raises(OutputError, match="the disk is full"), \
            replace_atomically(disk / "big.npy") as temporary, open(temporary, "wb") as file:
        np.save(file, np.zeros(100_000))
    with pytest.raises(OutputError, match="the disk is full"), \
            replace_atomically(disk / "run.pt") as temporary:
        raise RuntimeError("PytorchStreamWriter failed writing file data/0")
    assert leftovers(disk) == []


def long_piece(path, minutes: float) -> None:
    """A sparse piece: a short note every 30 s for `minutes`."""
    midi = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    midi.tracks.append(track)
    for _ in range(round(minutes * 2)):  # 120 bpm: 60 beats in 30 s
        track.append(mido.Message("note_on", note=60, velocity=80, time=0))
        track.append(mido.Message("note_off", note=60, velocity=0, time=480))
        track.append(mido.Message("control_change", control=1, value=0, time=59 * 480))
    midi.save(path)


def test_render_streams_a_long_piece_in_flat_memory(tmp_path):
    """10 minutes of stereo float32 would take 230 MB in memory; the render stays far below
    (its peak is that of a short one)."""
    peaks = {}
    for minutes in (0.5, 10):
        long_piece(tmp_path / "piece.mid", minutes)
        render = subprocess.Popen([sys.executable, "-m", "synth", "render",
                                   str(tmp_path / "piece.mid"), str(tmp_path / "out.wav"),
                                   "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(render.pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, render.stderr.read()
        peaks[minutes] = usage.ru_maxrss * 1024  # bytes (ru_maxrss is in KiB on Linux)
        assert soundfile.info(tmp_path / "out.wav").duration > minutes * 60
    assert peaks[10] < peaks[0.5] + 40e6, peaks


def test_render_refuses_an_absurd_length_before_starting(tmp_path, capsys):
    midi = mido.MidiFile(ticks_per_beat=96)
    midi.tracks.append(mido.MidiTrack([
        mido.Message("note_on", note=60, velocity=100, time=0),
        mido.Message("note_off", note=60, velocity=0, time=0x0FFFFFFF)]))  # largest delta
    midi.save(tmp_path / "rest.mid")
    assert main(["render", str(tmp_path / "rest.mid"), str(tmp_path / "o.wav")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "--max-length" in error and "388 h" in error, error
    assert main(["render", "--demo", str(tmp_path / "o.wav"), "--max-length", "5"]) == 2
    assert "more than the 5.0 s limit" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [tmp_path / "rest.mid"]


def test_a_read_only_user_data_directory_stops_only_the_saving_of_presets(tmp_path):
    """Finding presets never writes; saving one says why it cannot, in one line."""
    with small_disk(tmp_path / "data", 64, read_only=True) as data:
        environment = {**os.environ, "XDG_DATA_HOME": str(data),
                       "XDG_CONFIG_HOME": str(data / "config")}
        out = tmp_path / "o.wav"
        result = subprocess.run([sys.executable, "-m", "synth", "render", "--demo", str(out),
                                 "--preset", "steel-guitar", "--quiet", "--tail", "0"],
                                capture_output=True, text=True, env=environment, timeout=600)
        assert result.returncode == 0, result.stderr
        assert soundfile.info(out).duration > 10
        saving = subprocess.run(
            [sys.executable, "-c", "from gui.browser import user_preset_path\n"
             "user_preset_path('mine')"], capture_output=True, text=True, env=environment)
        assert "OutputError: cannot save presets:" in saving.stderr
        assert "Read-only file system" in saving.stderr


def test_a_dataset_larger_than_the_free_disk_is_refused_before_simulating(tmp_path):
    """(A write that fails midway is the np.save case above, on the same atomic writer.)"""
    from synth.dataset import DatasetConfig, generate, string_bytes
    from synth.errors import DatasetError

    config = DatasetConfig.load("examples/quickstart/tiny-strings.toml")
    with small_disk(tmp_path / "datasets", 8192) as disk:
        generate(config, root=disk, jobs=1, progress=False, count=0)  # the manifest alone
        fill(disk, leave=2 * string_bytes(config))
        with pytest.raises(DatasetError, match=r"3 strings need 5.8 MB .* which has 3.8 MB"):
            generate(config, root=disk, jobs=1, progress=False, count=3)
        assert list((disk / config.name / "strings").iterdir()) == []
