"""Errors and warnings that the package raises on purpose.

Every user-facing failure (a bad parameter, a broken file, a missing device) is one of these,
with a message of one line that names the offending value and what would be accepted
instead (`one_line` keeps text from a file, such as a key with a newline in it, on one line).
"""


class ParameterError(ValueError):
    """A parameter is missing, unknown, non-finite or out of its allowed range."""


class DatasetError(RuntimeError):
    """A dataset on disk is incomplete, corrupt, or does not match the requested config."""


class ModesDroppedWarning(UserWarning):
    """Some modes were dropped because they would be unstable or lie too close to Nyquist."""


class PresetError(RuntimeError):
    """A preset file is missing, corrupt, of another version, or describes an invalid model."""


class AudioError(RuntimeError):
    """No usable audio device, or the stream could not be opened or was lost."""


class PluginWarning(UserWarning):
    """An installed plugin (a model kind or a training family) could not be used and was
    skipped."""


class OutputError(RuntimeError):
    """An output file cannot be written: a missing folder, a directory given for a file, a
    wrong extension, no permission, or a full disk."""


def one_line(text: str) -> str:
    """`text` with every control character (newlines included) written as its escape."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
