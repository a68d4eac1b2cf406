"""Shared test set-up: tests/ importable (for the NumPy reference), hypothesis profiles."""

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import settings

sys.path.insert(0, str(Path(__file__).parent))

# CI must be repeatable: there hypothesis replays a fixed sequence of examples. Local runs
# keep exploring new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")

JACK_RATE, JACK_PERIOD = 48000, 128


def die_with_parent() -> None:
    """For subprocesses the tests start: get SIGTERM when the test process dies, so a killed
    test run cannot leave a JACK server or an engine behind (Linux prctl)."""
    import ctypes
    import signal

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def skip_or_fail(reason: str) -> None:
    """Skip a test that needs a missing facility; under CI a skip is a failure."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI needs this: {reason}")
    pytest.skip(reason)


def start_jack_server(name: str) -> subprocess.Popen:
    """Start a JACK dummy server (48 kHz, 128 frames) called name and wait until it serves;
    skips (fails under CI) when jackd is missing or does not come up."""
    jackd = shutil.which("jackd")
    if jackd is None:
        skip_or_fail("jackd is not installed (Debian package jackd2)")
    if subprocess.run(["jack_lsp", "-s", name], capture_output=True).returncode == 0:
        skip_or_fail(f"a JACK server named {name!r} is already running (another test run?)")
    # jackd's messages go to a file: a pipe nobody reads fills up when jackd logs a burst of
    # xruns, and jackd then blocks in write() with the whole server hung.
    log = tempfile.TemporaryFile("w+")
    server = subprocess.Popen(
        [jackd, "--no-realtime", "-n", name, "-d", "dummy", "-r", str(JACK_RATE), "-p",
         str(JACK_PERIOD)], stdout=subprocess.DEVNULL, stderr=log, text=True,
        preexec_fn=die_with_parent)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if server.poll() is not None:
            log.seek(0)
            reasons = [line for line in log.read().splitlines()
                       if "rror" in line or "ail" in line or "already" in line]
            skip_or_fail(f"jackd exited: {'; '.join(reasons) or 'no reason given'}")
        probe = subprocess.run(["jack_lsp", "-s", name], capture_output=True, text=True)
        if probe.returncode == 0 and "system:playback" in probe.stdout:
            return server
        time.sleep(0.2)
    server.kill()
    skip_or_fail("jackd did not come up within 15 s")


def stop_jack_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()


@contextlib.contextmanager
def jack_serving(name: str):
    """A JACK dummy server called `name`, made this process's default (JACK_DEFAULT_SERVER,
    which PortAudio, python-rtmidi and JACK-Client read) for the block. At the end PortAudio
    is shut down if it is initialised (it aborts at exit once its server is gone), then the
    server stops and the environment is restored."""
    server = start_jack_server(name)
    previous = {k: os.environ.get(k) for k in ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER")}
    os.environ.update(JACK_DEFAULT_SERVER=name, JACK_NO_START_SERVER="1")
    try:
        yield name
    finally:
        sounddevice = sys.modules.get("sounddevice")
        if sounddevice is not None and sounddevice._initialized:
            sounddevice._terminate()
        stop_jack_server(server)
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def jack_server():
    """A private JACK dummy server for the session; yields its name."""
    # One fixed name: JACK keeps a registry of server names in shared memory, and a server
    # that was killed keeps its slot, so fresh names per run would eventually fill it.
    with jack_serving("ns-test") as name:
        yield name


@contextlib.contextmanager
def small_disk(folder, kilobytes: int, read_only: bool = False):
    """A real file system of `kilobytes` (tmpfs) mounted at `folder` for the block, so a
    write meets a genuinely full disk (ENOSPC from the kernel), or with read_only a
    read-only one (EROFS, even for root). Needs root (CI is root)."""
    folder.mkdir(parents=True, exist_ok=True)
    options = f"size={kilobytes}k" + (",ro" if read_only else "")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        skip_or_fail(f"cannot mount a small disk ({mounted.stderr.strip()}); run as root")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder, leave: int = 0) -> None:
    """Fill the disk of `folder` until `leave` bytes are free."""
    free = shutil.disk_usage(folder).free - leave
    with open(folder / "ballast", "wb") as file:
        file.write(b"\0" * max(free, 0))


RECORDED_RATE = 48000  # Hz: the rate `record` keeps a note at


def record(path, preset, key, velocity=80, seconds=2.5, snr_db=30.0, seed=0):
    """`key` of `preset` rendered as a recorder would keep it: 0.1 s of room noise first,
    noise at `snr_db` below the note's RMS throughout, 24-bit, peaking at -6 dBFS."""
    import numpy as np
    import soundfile

    from synth.fit import render

    x = np.concatenate([np.zeros(round(0.1 * RECORDED_RATE)),
                        render(preset, key, velocity, RECORDED_RATE, seconds)])
    noise = np.random.default_rng(seed).standard_normal(len(x))
    noise *= np.sqrt(np.mean(x ** 2) / np.mean(noise ** 2)) * 10 ** (-snr_db / 20)
    x = x + noise
    soundfile.write(path, 0.5 * x / np.abs(x).max(), RECORDED_RATE, subtype="PCM_24")
    return path


@pytest.fixture(scope="session")
def steel_note(tmp_path_factory):
    """A steel guitar's B3, recorded (`record`), 2 s."""
    from synth.presets import find_preset, load_preset

    return record(tmp_path_factory.mktemp("rec") / "steel B3.wav",
                  load_preset(find_preset("steel-guitar")), 59, seconds=2.0)


@pytest.fixture(scope="session")
def fitted_by_command(steel_note, tmp_path_factory):
    """`neural-strings fit` run once as a user would: no --out (so into the user preset
    directory), the note named, the kind given, the body refined by gradient and the
    string's nonlinearity learned (one step: what it learns is tests/test_nonlinearity.py's);
    (its output, the preset's path). Shared by the fit's tests and the real-time ones."""
    from synth.presets import find_preset

    data = tmp_path_factory.mktemp("data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_DATA_HOME", str(data))
        printed = subprocess.run(
            [sys.executable, "-m", "synth", "fit", str(steel_note), "--note", "B3", "--kind",
             "guitar", "--name", "my-guitar", "--seconds", "1.5", "--refine",
             "--learn-nonlinearity", "--nonlinearity-steps", "1"],
            capture_output=True, text=True, timeout=600)
        assert printed.returncode == 0, printed.stderr
        found = find_preset("my-guitar")
    assert found.is_relative_to(data)  # where `play --preset my-guitar` finds it
    return printed.stdout, found
