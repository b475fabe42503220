"""Tracker benchmark with ground truth: composited real faces on known trajectories (see README)."""
