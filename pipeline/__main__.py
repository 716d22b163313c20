"""`python -m pipeline` runs the robustclap command."""

from pipeline.cli import app

app()
