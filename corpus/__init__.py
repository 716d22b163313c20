"""robustclap: the corpus side (publish, versions, card, export, Hub)."""
