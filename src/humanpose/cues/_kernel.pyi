"""Types of the optional C kernel built from csrc/ (see humanpose.cues.kernel)."""
