# LQFace Workbench. `make demo` and `make test` set everything up on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# Local mirror of datasets and models (see README, "Offline use"): ../shared when it exists.
ifneq ($(wildcard ../shared/datasets),)
export LQFACE_MIRROR ?= $(abspath ../shared)
endif

RUN ?= results/$(shell date -u +%Y%m%d-%H%M%S)-demo
DATASET ?= lfw
PROCESSED ?= processed_dataset/$(DATASET)
PAPERMILL := $(PY) -m papermill --no-progress-bar

.PHONY: install demo test bench clean-venv

install: $(STAMP)

$(STAMP): requirements.txt requirements-nodeps.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-nodeps.txt
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -c "import torch, torchvision, onnxruntime, cv2, insightface; torchvision.ops.nms; print('installed: torch', torch.__version__, '| torchvision', torchvision.__version__, '| onnxruntime', onnxruntime.__version__)"
	touch $(STAMP)

demo: $(STAMP)
	mkdir -p $(RUN)
	$(PAPERMILL) notebooks/01_prepare_dataset.ipynb $(RUN)/01_prepare_dataset.ipynb \
		-p dataset $(DATASET) -p processed_dir $(PROCESSED) -p run_dir $(RUN)/01_prepare_dataset
	$(PAPERMILL) notebooks/02_baseline.ipynb $(RUN)/02_baseline.ipynb \
		-p processed_dir $(PROCESSED) -p run_dir $(RUN)/02_baseline
	@echo "run folder: $(RUN)"

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) benchmarks/embedding_throughput.py --images 100 --out results/bench/embedding_throughput.json

clean-venv:
	rm -rf $(VENV)
