# CUDA Workbench. Two commands do all the set-up on a fresh machine:
#   make lab0     grade your lab 0 (makes .venv first)
#   make test     run the project's tests (makes .venv first)
# A machine with an NVIDIA driver gets CuPy for its CUDA major version; one without gets the
# CPU build of torch and NVRTC only (the CUDA C is compiled, kernels run under numba's simulator).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CWB := $(BIN)/cwb
TORCH_VERSION ?= 2.13.0
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
# The labs come from their registry (labs/__init__.py), read with the system's python3.
LABS := $(shell $(PYTHON) -m labs names)

# cuda13 where the driver speaks CUDA 13, cuda12 otherwise (and where there is no driver).
CUDA_EXTRA ?= $(shell nvidia-smi 2>/dev/null | sed -n 's/.*CUDA Version: \([0-9]*\).*/\1/p' | \
	awk '{ print ($$1 >= 13) ? "cuda13" : "cuda12" }' | head -n 1)
ifeq ($(CUDA_EXTRA),)
CUDA_EXTRA := cuda12
endif
HAVE_DRIVER := $(shell nvidia-smi >/dev/null 2>&1 && echo yes)

.PHONY: help venv test lint format selftest doctor gpu-check bench clean $(LABS)

help:
	@$(PYTHON) -m labs help
	@echo "make test            the project's tests (GPU tests skip without a GPU)"
	@echo "make selftest        reference solutions get full marks, known-wrong submissions get 0"
	@echo "make doctor          what this machine has, and what will and won't work"
	@echo "make gpu-check       on a GPU: GPU tests, selftest, benchmarks and timer calibration"
	@echo "make lint            ruff check and format check"

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
ifneq ($(HAVE_DRIVER),yes)
	@# No driver: the CPU build of torch (the default wheels bundle gigabytes of CUDA).
	@if $(BIN)/python -c "import urllib.request as u; u.urlopen('$(TORCH_CPU_INDEX)/torch/', timeout=5)" 2>/dev/null; \
	then $(BIN)/pip install -q "torch==$(TORCH_VERSION)" --extra-index-url $(TORCH_CPU_INDEX); \
	else $(BIN)/pip install -q "torch==$(TORCH_VERSION)"; fi
endif
	$(BIN)/pip install -q -e ".[$(CUDA_EXTRA),dev]"
	@touch $@

venv: $(BIN)/.installed

$(LABS): venv
	$(CWB) run $@

test: venv
	$(BIN)/python -m pytest -q

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Each lab's profiler (its spec's `profile`): nsys or the CUPTI trace for lab 1, ncu for lab 2.
profile-%: venv
	$(CWB) profile $*

selftest: venv
	$(CWB) selftest all

doctor: venv
	$(CWB) doctor

# On a GPU machine: everything that needs the GPU, in one call. Its output goes in docs/gpu-runs.md.
gpu-check: venv
	$(BIN)/python -m grader.gpu_check

bench: venv
	$(BIN)/python -m pytest -q -m gpu tests/bench --benchmark-enable

# The reports laid out in headless Chromium (tests/test_report_browser.py), with a PNG of each
# page in reports/shots for a person to look at.
.PHONY: report-shots
report-shots: venv
	CWB_SCREENSHOTS=reports/shots $(BIN)/python -m pytest -q tests/test_report_browser.py

clean:
	rm -rf $(VENV) reports/*.html reports/*.json reports/selftest .pytest_cache .ruff_cache
