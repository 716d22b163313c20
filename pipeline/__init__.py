"""robustclap: pipeline."""
