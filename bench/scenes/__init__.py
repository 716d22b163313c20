"""Composed sound scenes with exact captions: a CPU-sized benchmark for multi-view training."""
