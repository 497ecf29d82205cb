# pose_bringup / humanpose developer commands. Each target sets up what it needs.
#   make test   virtual environment + humanpose[test], then the test suite
#   make lint   flake8 (ROS style), pydocstyle (pep257), mypy
#   make demo   the pose pipeline on a generated scene (CPU, ONNX Runtime)
#   make bench  per-stage latency on generated scenes (humanpose bench)
# The NumPy range and the ROS distributions' Python stacks, each in its own environment
# (CI runs them all, see .ci/run):
#   make test-numpy-oldest  the suite with the oldest NumPy that has wheels for $(PYTHON)
#   make test-humble-stack  Python 3.10 + Ubuntu 22.04's NumPy 1.21.5, SciPy, OpenCV, then the
#                           README's Humble pip lines (onnxruntime 1.12)
#   make test-jazzy-stack   Python 3.12 + Ubuntu 24.04's NumPy 1.26.4, SciPy, OpenCV, then the
#                           README's Jazzy pip lines

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

# The oldest NumPy pyproject.toml allows on CI's Python 3.11 (1.21 on Python 3.10).
NUMPY_OLDEST ?= 1.23.3
HUMBLE_PYTHON ?= $(shell .ci/find-python 3.10)
JAZZY_PYTHON ?= $(shell .ci/find-python 3.12)
# The distributions' apt packages (python3-numpy, -scipy, -opencv, -yaml), same versions from
# PyPI; Ubuntu 22.04's PyYAML 5.4.1 has no Python 3.10 wheel, 6.0 stands in.
HUMBLE_APT := numpy==1.21.5 scipy==1.8.0 opencv-python-headless==4.5.4.60 pyyaml==6.0
JAZZY_APT := numpy==1.26.4 scipy==1.11.4 opencv-python-headless==4.6.0.66 pyyaml==6.0.1
PYTEST := -m pytest -q -p no:cacheprovider test

.PHONY: test lint demo bench clean test-numpy-oldest test-humble-stack test-jazzy-stack

$(STAMP): pyproject.toml setup.py src/humanpose/_simcc.c $(wildcard src/humanpose/cues/csrc/*)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) $(PYTEST)

test-numpy-oldest:
	.ci/stack-venv .venv-numpy-oldest $(PYTHON) "numpy==$(NUMPY_OLDEST)"
	.venv-numpy-oldest/bin/python $(PYTEST)

test-humble-stack:
	@test -n "$(HUMBLE_PYTHON)" || { echo 'no Python 3.10 here (HUMBLE_PYTHON=...)'; exit 1; }
	.ci/stack-venv .venv-humble $(HUMBLE_PYTHON) "$(HUMBLE_APT)" ros-pip-humble
	.venv-humble/bin/python $(PYTEST)

test-jazzy-stack:
	@test -n "$(JAZZY_PYTHON)" || { echo 'no Python 3.12 here (JAZZY_PYTHON=...)'; exit 1; }
	.ci/stack-venv .venv-jazzy $(JAZZY_PYTHON) "$(JAZZY_APT)" ros-pip-jazzy
	.venv-jazzy/bin/python $(PYTEST)

lint: $(STAMP)
	$(PY) -m flake8 src test launch scripts setup.py .ci
	$(PY) -m pydocstyle src
	$(PY) -m mypy

demo: $(STAMP)
	$(VENV)/bin/humanpose demo --out out

bench: $(STAMP)
	$(VENV)/bin/humanpose bench --json out/bench.json

clean:
	rm -rf $(VENV) .venv-numpy-oldest .venv-humble .venv-jazzy build out *.egg-info src/*.egg-info src/humanpose/_simcc.*.so src/humanpose/cues/_kernel.*.so
