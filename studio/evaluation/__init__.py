"""Measuring quality: statistics of generated music and text against real data, and how far apart two sets are."""
