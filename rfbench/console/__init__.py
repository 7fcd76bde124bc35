"""What a long run shows on stderr, shared by every stage that runs long: benchmark_app-style
steps and a progress display (:mod:`.progress`)."""
