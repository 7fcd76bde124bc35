"""The decoder stage: pre-processing, anchors, output layouts, decoding, NMS, post-processing presets."""
