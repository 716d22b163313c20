"""robustclap: training."""
