"""``rfbench sweep``: a matrix of model x runtime x precision, each cell's AP and latency, and
the trade-off (AP lost vs speed gained, Pareto front) in one table."""
