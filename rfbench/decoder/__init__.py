"""The decoder stage: pre-processing, anchors, output layouts, decoding, NMS, post-processing presets."""

#: The post-processing presets (:func:`rfbench.decoder.postprocess.get_preset`), here so that a
#: command line can offer them without importing the decoder.
PRESET_NAMES: tuple[str, ...] = ("omz", "insightface", "biubug6", "biubug6-fddb")
