# Developer entry points. CI runs `make test` (see .ci/run).
#
#   make test        system packages + virtualenv, the linters, the fast tests
#   make lint        formatting (pyink) and lint (ruff) checks; `make format` fixes
#   make test-slow   the slow (learning, measurement) tests
#   make demo        collect play, train a small policy, print its success table
#   make bench       speed: JAX against PyTorch, then the environment
#   make clean       remove build and test outputs (keeps .venv)

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Re-install only when setup.py changes; delete the stamp to force it.
VENV_STAMP := $(VENV)/.playlearn-installed
# Offscreen rendering (playlearn/envs/rendering.py): EGL on Mesa's software
# driver needs the first four (libopengl0 for PyOpenGL's EGL platform), OSMesa
# the last one.
SYSTEM_PACKAGES := libegl1 libopengl0 libegl-mesa0 libgl1-mesa-dri libosmesa6
PYTEST_WORKERS ?= 2
PYTEST_ARGS ?=

.PHONY: venv system-deps lint format test test-slow demo bench clean

venv: $(VENV_STAMP)

$(VENV_STAMP): setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e '.[dev,tf,bench]'
	touch $@

# Installs the missing Debian packages when run as root; otherwise prints the
# command. Set SKIP_SYSTEM_DEPS=1 where the libraries come from elsewhere.
system-deps:
	@if [ -n "$(SKIP_SYSTEM_DEPS)" ]; then exit 0; fi; \
	if ! command -v dpkg >/dev/null 2>&1; then \
	  echo "system-deps: not a Debian system; install EGL+Mesa or OSMesa yourself."; \
	  exit 0; \
	fi; \
	missing=""; \
	for p in $(SYSTEM_PACKAGES); do \
	  dpkg -s $$p 2>/dev/null | grep -q '^Status: install ok installed' \
	    || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "system-deps: installing$$missing"; \
	  apt-get update && apt-get install -y --no-install-recommends $$missing; \
	else \
	  echo "system-deps: missing Debian packages:$$missing. Run:"; \
	  echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends$$missing"; \
	  exit 1; \
	fi

# Settings in pyproject.toml; both tools are pinned in setup.py's dev extra.
lint: venv
	$(VENV)/bin/pyink --check --quiet .
	$(VENV)/bin/ruff check --quiet .

format: venv
	$(VENV)/bin/pyink --quiet .
	$(VENV)/bin/ruff check --quiet --fix .

test: system-deps venv lint
	$(PY) -m pytest -m "not slow" -n $(PYTEST_WORKERS) --durations=10 $(PYTEST_ARGS)

test-slow: system-deps venv
	$(PY) -m pytest -m slow -n $(PYTEST_WORKERS) --durations=10 $(PYTEST_ARGS)

# The main job on an embedded default: 3 hours of scripted play as a TFDS
# dataset (about 2 minutes to generate; a video of it), a Play-GCBC policy
# trained on it (13 minutes on 2 cores), and its success table on the suite's easy
# tasks (fixtures, buttons, lamp; 6 episodes each, a video per task). The full
# suite: `scripts/evaluate.py --policy=out/demo/gcbc/policy` (README).
DEMO_DIR := out/demo
DEMO_DATA := $(DEMO_DIR)/data/playtable_play/state_full/1.3.0
demo: system-deps venv
	test -f $(DEMO_DATA)/statistics.json || \
	  $(PY) scripts/collect_play.py --dataset=playtable_play --config=state_full \
	    --data_dir=$(DEMO_DIR)/data
	$(PY) scripts/render_episode.py --dataset_dir=$(DEMO_DATA) --episode=0 \
	  --out_dir=$(DEMO_DIR)
	$(PY) scripts/train.py --config=playlearn/configs/gcbc.py:demo \
	  --workdir=$(DEMO_DIR)/gcbc
	$(PY) scripts/evaluate.py --policy=$(DEMO_DIR)/gcbc/policy \
	  --out_dir=$(DEMO_DIR)/eval --tasks=easy --episodes_per_task=6 --seeds=0 \
	  --chains=0
	@echo "demo: play video $(DEMO_DIR)/episode.mp4, tasks $(DEMO_DIR)/tasks.png,"
	@echo "      policy $(DEMO_DIR)/gcbc/policy, rollout videos $(DEMO_DIR)/eval/videos"

bench: system-deps venv
	test -f $(DEMO_DIR)/data/playtable_play/state_small/1.3.0/statistics.json || \
	  $(PY) scripts/collect_play.py --dataset=playtable_play --config=state_small \
	    --data_dir=$(DEMO_DIR)/data
	$(PY) scripts/bench_vs_torch.py --out=out/bench/vs_torch.json \
	  --dataset_dir=$(DEMO_DIR)/data/playtable_play/state_small/1.3.0
	$(PY) scripts/bench.py --out=out/bench/env.json

clean:
	rm -rf build dist out .pytest_cache *.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
