"""robustclap: flows."""
