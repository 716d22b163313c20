"""What every stage may import and what imports no stage: errors, the table schema, YAML config
loading, the on-disk layout and progress reporting."""
