"""Synthetic kit for tests, the demo and the benchmark: scenes and generated ONNX models.

Nothing here downloads anything: models are generated with the ``onnx`` package into a
cache directory on first use.
"""

from humanpose.testing.scene import (PersonSpec, SyntheticScene, person_template, random_people,
                                     random_scene, render_scene)

__all__ = ['PersonSpec', 'SyntheticScene', 'person_template', 'random_people', 'random_scene',
           'render_scene']
