"""Results records: their definitions, the writer of results.json / results.csv, the environment."""
