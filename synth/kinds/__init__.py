"""Model kinds: the contract a kind fulfils (`contract`) and the installed kinds
(`registry`). The shipped kinds live in `synth.kinds.sav_string` and
`synth.kinds.oscillator_bank`."""

from synth.kinds.contract import CONTRACT, Kind, VoiceKernels
from synth.kinds.registry import find_kind, installed_kinds, kind_for_voices

__all__ = ["CONTRACT", "Kind", "VoiceKernels", "find_kind", "installed_kinds",
           "kind_for_voices"]
