"""Types of the optional C kernel built from _simcc.c."""

from typing import Any

def decode(simcc_x: Any, simcc_y: Any, rows: int, bins_x: int, bins_y: int, scale_x: float,
           scale_y: float, cutoff: float, inv_split: float, keypoints: Any, scores: Any,
           confidence: Any) -> None: ...

def decode_axis(logits: Any, rows: int, bins: int, scale: float, cutoff: float,
                inv_split: float, locations: Any, peaks: Any, confidence: Any) -> None: ...
