"""An accuracy run: open a model, run the read -> infer -> decode -> write pipeline, resume."""
