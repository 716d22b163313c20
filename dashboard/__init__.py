"""Quality dashboard over published corpora: DuckDB queries, a local web app, a static report."""
