"""Types of the optional C kernel built from csrc/ (see humanpose.cues.kernel)."""

from typing import Any

def body_cues(n: int, k: int, keypoints: Any, confidence: Any, keypoints_3d: Any,
              confidence_3d: Any, joints: Any, anchors: Any, n_head: int, hands: Any,
              settings: Any, head_position: Any, distance: Any, scale: Any, raised: Any,
              hand_state: Any, pointing: Any, hand: Any, confidence_best: Any,
              arm_confidence: Any, origin_px: Any, direction_px: Any, origin_m: Any,
              direction: Any, target_m: Any, wave_x: Any, wave_ok: Any) -> None: ...
