# pose_bringup / humanpose developer commands. Each target sets up what it needs.
#   make test   virtual environment + humanpose[test], then the test suite
#   make lint   flake8 (ROS style), pydocstyle (pep257), mypy
#   make demo   the pose pipeline on a generated scene (CPU, ONNX Runtime)
#   make bench  per-stage latency on generated scenes (humanpose bench)

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: test lint demo bench clean

$(STAMP): pyproject.toml setup.py src/humanpose/_simcc.c
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider test

lint: $(STAMP)
	$(PY) -m flake8 src test launch scripts setup.py
	$(PY) -m pydocstyle src
	$(PY) -m mypy

demo: $(STAMP)
	$(VENV)/bin/humanpose demo --out out

bench: $(STAMP)
	$(VENV)/bin/humanpose bench --json out/bench.json

clean:
	rm -rf $(VENV) build out *.egg-info src/*.egg-info src/humanpose/_simcc.*.so
