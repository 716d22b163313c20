"""robustclap: quality."""
