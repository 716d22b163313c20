"""`python -m robustclap` runs the robustclap command."""

from robustclap.cli import app

app()
