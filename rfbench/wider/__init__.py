"""WIDER FACE files: the ground truth (text and .mat) and prediction files in the submission layout."""
