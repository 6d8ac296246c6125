"""Benchmarks: each runs its floor (the cheapest way to do the same work) in the same
process and reports the ratio, so the figures mean something on any machine."""
