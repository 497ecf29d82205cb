"""Types of the optional C kernel built from csrc/ (see humanpose.cues.kernel)."""

from typing import Any, Optional

import numpy as np
from numpy.typing import NDArray

def body_cues(n: int, k: int, keypoints: Any, confidence: Any, keypoints_3d: Any,
              confidence_3d: Any, joints: Any, anchors: Any, n_head: int, hands: Any,
              settings: Any, head_position: Any, distance: Any, scale: Any, raised: Any,
              hand_state: Any, pointing: Any, hand: Any, confidence_best: Any,
              arm_confidence: Any, origin_px: Any, direction_px: Any, origin_m: Any,
              direction: Any, target_m: Any, wave_x: Any, wave_ok: Any) -> None: ...

def head_poses(keypoints: NDArray[np.floating[Any]], confidence: NDArray[np.floating[Any]],
               people: int, keypoint_count: int, face_ids: NDArray[np.intp],
               face_points: NDArray[np.float64], min_confidence: float, min_points: int,
               iterations: int, face_radius: float, camera_matrix: NDArray[np.float64],
               ratio_x: float, ratio_y: float, rays: Optional[NDArray[np.float64]],
               valid: NDArray[np.bool_], rotation: NDArray[np.float64],
               translation: NDArray[np.float64], ypr: NDArray[np.float64],
               direction: NDArray[np.float64], attention: NDArray[np.float64]) -> bool: ...

# waving.c: the temporal cues (humanpose.cues.waving, humanpose.cues.state).

def oscillation(t_s: Any, x: Any, valid: Any, signals: int, samples: int, freqs: Any,
                params: Any, waving: Any, frequency_hz: Any, amplitude: Any,
                fit: Any) -> None: ...
def track_cues(wave_x: Any, wave_ok: Any, slots: Any, looking: Any, distance: Any,
               stamp_ns: int, since_ns: int, hold_ns: int, grace_ns: int,
               engaged_min_s: float, engaged_max_m: float, sides: tuple[int, int, int],
               ring_stamps: Any, ring_x: Any, ring_valid: Any, track: Any, wave_hz: Any,
               freqs: Any, params: Any, waving: Any, waving_hand: Any, waving_hz: Any,
               duration: Any, engaged: Any) -> None: ...
