"""Benchmarks (`neural-strings bench`): medians and ratios against the naive way, in one run.

- physics: the SAV kernel against per-sample NumPy and torch loops (`physics`);
- engine: real-time voice counts, FLOP rate, the naive callback design, underruns on a JACK
  dummy server, and a soak test (`engine`, `soak`).
"""
