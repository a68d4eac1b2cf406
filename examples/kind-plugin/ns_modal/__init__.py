"""neural-strings-modal: an example plugin for neural-strings. It adds a model kind,
`learned-modal` (`ns_modal.kind`, its Numba kernels in `ns_modal.kernels`), and the training
family of the same name (`ns_modal.family`, torch), without changing neural-strings itself:
both register through entry points (pyproject.toml)."""
