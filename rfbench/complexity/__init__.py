"""Complexity: parameters, MACs and FLOPs counted on the graph as the runtime sees it."""
