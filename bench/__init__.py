"""Benchmarks: ``python -m bench`` (speed harness, bench/__main__.py) and ``python -m bench.run``
(tracker benchmark with ground truth: composited real faces on known trajectories). See the README."""
