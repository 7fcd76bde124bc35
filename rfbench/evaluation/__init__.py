"""WIDER FACE evaluators: the official Easy/Medium/Hard protocol and the OMZ 64-px protocol.

Both run in three phases (match per image, accumulate PR arrays, summarise to AP) and
return :class:`ProtocolResult` records that keep their PR arrays for plotting.
"""

from rfbench.evaluation.ap import voc_ap
from rfbench.evaluation.common import ProtocolResult
from rfbench.evaluation.official import evaluate_official
from rfbench.evaluation.omz import evaluate_omz

__all__ = ["ProtocolResult", "evaluate_official", "evaluate_omz", "voc_ap"]
