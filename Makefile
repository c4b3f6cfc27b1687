# LQFace Workbench. `make demo` and `make test` set everything up on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# Local mirror of datasets and models (docs/offline.md): ../shared when it exists.
ifneq ($(wildcard ../shared/datasets),)
export LQFACE_MIRROR ?= $(abspath ../shared)
endif

CONFIG ?= configs/demo.yaml

.PHONY: install demo study recipes recipes-lofo recipes-followup app test test-fast lint format bench bench-train bench-coverage bench-coverage-primary bench-search bench-detectors bench-cli clean-venv

install: $(STAMP)

$(STAMP): requirements.txt requirements-nodeps.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-nodeps.txt
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -c "import torch, torchvision, onnxruntime, cv2, insightface; torchvision.ops.nms; print('installed: torch', torch.__version__, '| torchvision', torchvision.__version__, '| onnxruntime', onnxruntime.__version__)"
	touch $(STAMP)

# Notebooks 01-05 headlessly (configs/demo.yaml: about 10 minutes on 2 cores); re-running resumes an unfinished run.
demo: $(STAMP)
	$(VENV)/bin/lqface run $(CONFIG)

# The demo at full size (configs/study.yaml: 400 people, 27 levels, dlib beside SFace; 53 min on 2 cores, dlib 23 of them).
study: $(STAMP)
	$(VENV)/bin/lqface run configs/study.yaml

# The fine-tuning recipe study (configs/recipes.yaml: the demo's data, 8 arms of three ingredients; docs/recipes.md).
recipes: $(STAMP)
	$(VENV)/bin/lqface run configs/recipes.yaml

# Leave one family out (configs/recipes_lofo.yaml: the demo's recipe without motion blur, JPEG or low light in turn).
recipes-lofo: $(STAMP)
	$(VENV)/bin/lqface run configs/recipes_lofo.yaml

# The recipe study's follow-ups (configs/recipes_followup.yaml: acquired training crops, distillation weight, 8 epochs).
recipes-followup: $(STAMP)
	$(VENV)/bin/lqface run configs/recipes_followup.yaml

# The try-it app (docs/tryit.md) on http://127.0.0.1:7860: verify, degrade, identify with any pack or run.
app: $(STAMP)
	$(VENV)/bin/lqface app

# Lint and format check first, then every test (notebooks and the mirror's real data included), the 15 slowest named.
test: lint
	$(PY) -m pytest --durations=15

# The inner loop: no notebooks, no mirror data (tests marked e2e are left out).
test-fast: $(STAMP)
	$(PY) -m pytest -m "not e2e"

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(STAMP)
	$(PY) benchmarks/embedding_throughput.py --images 100 --out results/bench/embedding_throughput.json

bench-train: $(STAMP)
	$(PY) benchmarks/training_throughput.py --processed $(or $(PROCESSED),processed_dataset/lfw) --out results/bench/training_throughput.json

# Coverage of the two-way identity bootstrap by simulation (docs/benchmarks.md); a few minutes on 2 cores.
bench-coverage: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) benchmarks/bootstrap_coverage.py --replicates 1000 --people 20 40 120 --boot 200 --out results/bench/bootstrap_coverage.json

# Coverage of the primary inference (paired TAR@FAR=1e-3, FMR/FNMR at the val threshold) under LFW-like skew (docs/benchmarks.md); ~35 min of one core.
bench-coverage-primary: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) benchmarks/primary_coverage.py --people 40 120 344 --replicates 400 400 200 --boot 200 --out results/bench/primary_coverage.json

# Open-set search with 150,000 distractors, time per probe (docs/benchmarks.md).
bench-search: $(STAMP)
	$(PY) benchmarks/identification_search.py --distractors 150000 --probes 2000 --out results/bench/identification_search.json

# How long lqface takes to answer: --help, a bad argument, a cold verify (docs/benchmarks.md); run it on an idle machine.
bench-cli: $(STAMP)
	$(PY) benchmarks/cli_latency.py --repeats 5 --out results/bench/cli_latency.json

# Where detection breaks: faces found on the crowd photo as it shrinks, SCRFD, YuNet and MTCNN (docs/benchmarks.md; MTCNN ~3 min).
bench-detectors: $(STAMP)
	$(PY) benchmarks/detector_sweep.py --out results/bench/detector_sweep

clean-venv:
	rm -rf $(VENV)
