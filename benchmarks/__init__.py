"""Scripts that print speed, memory, FLOP and learning figures (benchmarks/README.md).

Run them from the repository root as modules, e.g. ``python -m benchmarks.backbone --quick``;
what they share is in :mod:`benchmarks.common`.
"""
