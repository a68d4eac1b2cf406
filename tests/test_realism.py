"""`bench realism`: the same measurements on a preset's renders and on references, the
references made from the FluidR3 soundfont with fluidsynth, and the figures drawn."""

import shutil

import numpy as np
import pytest
import soundfile
from conftest import skip_or_fail

from synth.bench import realism
from synth.cli import main
from synth.presets import find_preset, load_preset


def test_a_render_and_its_own_recording_measure_the_same(tmp_path):
    """References are read from WAV files: a render written as one (24-bit) and read back
    gives the render's own figures, so the two columns differ only by what they hold."""
    preset = load_preset(find_preset("steel-guitar"))
    for note in realism.notes_of(preset):
        for velocity in realism.VELOCITIES:
            audio = realism.render_note(preset, note, velocity)
            soundfile.write(realism.reference_path(tmp_path, note, velocity), audio,
                            realism.FS, subtype="PCM_24")
    for _, _, ours, theirs in realism.compare(preset, tmp_path):
        for key, value in ours.items():
            assert theirs[key] == pytest.approx(value, rel=0.02, abs=0.5), key


def test_bench_realism_against_fluidsynth_references(tmp_path, capsys):
    if shutil.which("fluidsynth") is None or not realism.GM_SOUNDFONT.is_file():
        skip_or_fail("fluidsynth and fluid-soundfont-gm are not installed")
    references, figures = tmp_path / "references", tmp_path / "figures"
    assert main(["bench", "realism", "nylon-guitar", "--reference", str(references),
                 "--make-reference", "24", "--figures", str(figures)]) == 0
    out = capsys.readouterr().out
    assert sorted(p.name for p in references.iterdir()) == sorted(
        f"{n}-{v}.wav" for n in (55, 67) for v in (40, 80, 120))
    audio, fs = soundfile.read(references / "55-80.wav")
    assert fs == 48000 and np.abs(audio).max() > 0.01  # a real note, dry
    assert "note 55: velocities" in out and "note 67: velocities" in out
    row = next(line for line in out.splitlines() if line.strip().startswith("f0 (Hz)"))
    values = [float(v) for v in row.replace("|", " ").split()[2:]]
    assert len(values) == 6 and all(abs(v - 196.0) < 2.0 for v in values)  # G3 everywhere
    assert "what a soundfont reference cannot support" in out
    assert (figures / "realism-nylon-guitar.png").stat().st_size > 10_000
    assert main(["bench", "realism", "nylon-guitar", "--reference", str(references),
                 "--listening", str(figures), "--prefix", "x-"]) == 0
    for name in ("render", "reference"):
        audio, fs = soundfile.read(figures / f"x-nylon-guitar-55-{name}.flac")
        assert fs == 48000 and len(audio) == round(2.5 * fs)
        assert np.abs(audio).max() == pytest.approx(10 ** (-3 / 20), abs=1e-3)


def test_bench_realism_refuses_a_missing_reference_folder(tmp_path, capsys):
    assert main(["bench", "realism", "nylon-guitar", "--reference",
                 str(tmp_path / "none")]) == 2
    assert "no such folder of references" in capsys.readouterr().err
    assert main(["bench", "engine", "nylon-guitar"]) == 2
    assert "takes no preset" in capsys.readouterr().err


@pytest.mark.parametrize("what", [["realism", "nylon-guitar"], ["fit"]])
def test_another_soundfont_that_is_not_there_is_refused_in_one_line(tmp_path, capsys, what):
    if shutil.which("fluidsynth") is None:
        skip_or_fail("fluidsynth is not installed")
    missing = tmp_path / "other.sf2"
    assert main(["bench", *what, "--reference", str(tmp_path / "refs"), "--make-reference",
                 "24", "--soundfont", str(missing)]) == 2
    assert capsys.readouterr().err.strip() == f"error: no soundfont at {missing}"


def test_a_reference_that_is_not_audio_is_one_line(tmp_path, capsys):
    (tmp_path / "55-80.wav").write_bytes(b"RIFF but no audio")
    assert main(["bench", "realism", "nylon-guitar", "--reference", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: {tmp_path / '55-80.wav'}: not a readable audio file")
