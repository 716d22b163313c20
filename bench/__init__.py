"""Benchmark suite (issue 7): the toolkit vs its bare engines, side by side in one run."""
