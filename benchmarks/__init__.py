"""Benchmarks: each snippet against the implementation people use today, in one
process, interleaved.

Run `make bench` (full, under 10 minutes on 2 cores) or `make bench-quick` (tiny
sizes, under a minute). Results go to benchmarks/results.json, which the performance
page renders. These are not tests: nothing here asserts a time.
"""
