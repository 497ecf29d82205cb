"""The humanpose error family.

Every error a user can cause (bad input, missing model, missing backend) is a
:class:`HumanPoseError`; its message says what was expected, what came, and what to do.
Low-level errors are chained with ``raise XError(...) from err``.
"""

from __future__ import annotations


class HumanPoseError(Exception):
    """Base of all errors raised by humanpose."""


class InvalidInputError(HumanPoseError, ValueError):
    """An image, box, depth map or array does not have the expected shape, type or values."""


class UnsupportedEncodingError(InvalidInputError):
    """An image encoding that humanpose cannot convert."""


class ModelLoadError(HumanPoseError):
    """A model file is missing, corrupt, or does not match any known contract."""


class ModelCardError(ModelLoadError):
    """A model card is missing fields or contradicts the model it describes."""


class BackendUnavailableError(HumanPoseError):
    """An inference backend (onnxruntime, tensorrt, CUDA) is not installed or not usable."""


class DownloadError(HumanPoseError):
    """A model download failed or its checksum did not match."""


class BagError(HumanPoseError):
    """A rosbag2 could not be read or written as asked."""


class EvaluationError(HumanPoseError):
    """Annotations or results for keypoint evaluation are unreadable or do not fit together."""


class InferenceError(HumanPoseError):
    """A loaded model failed while running (the runtime's own error is chained)."""


class ClosedError(HumanPoseError, RuntimeError):
    """A PoseEstimator, PersonDetector or Pipeline was used after ``close()``."""
