# Two commands on a fresh machine:
#   make run    create the environment, run the main job on the simulation (TASK=clip: the clip cell;
#               ARM=ur5e or ARM=fr3: another simulated arm)
#   make test   create or refresh the environment with the dev extras, run the tests
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
TASK   ?= peg
ARM    ?= jaco
OUT    ?= $(if $(filter peg,$(TASK)),runs/main,runs/$(TASK))$(if $(filter jaco,$(ARM)),,_$(ARM))
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q
# The ROS 2 driver packages (ament_python) install into the venv too, so their pure-Python parts are tested.
DRIVERS := -e drivers/robot_il_pan_tilt

.PHONY: run test lint bench clean system-deps

run: $(VENV)/.installed
	$(BIN)/robot-il run --task $(TASK) --arm $(ARM) --out $(OUT)

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check robot_il tests benchmarks drivers scripts

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/sim_speed.py

system-deps:
	@bash scripts/system-deps.sh

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), f"robot-il needs Python 3.11, $(PYTHON) is {sys.version.split()[0]}; pass PYTHON=python3.11"'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

# torch goes first, pinned, so that nothing pulls the CUDA build.
$(VENV)/.installed: pyproject.toml $(wildcard drivers/*/setup.py) | $(BIN)/python system-deps
	$(PIP) install torch==2.13.0
	$(PIP) install -e . $(DRIVERS)
	@touch $@

$(VENV)/.installed-dev: pyproject.toml $(wildcard drivers/*/setup.py) | $(BIN)/python system-deps
	$(PIP) install torch==2.13.0
	$(PIP) install -e '.[dev]' $(DRIVERS)
	@touch $@ $(VENV)/.installed

clean:
	rm -rf $(VENV) runs .pytest_cache
