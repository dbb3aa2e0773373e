# rob-book: `make book` builds the book into _build/html, `make test` runs the whole test suite.
# Both create .venv (Python 3.11) and install the pinned environment on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
# Reinstall only when the package metadata or the pins change.
STAMP  := $(VENV)/.rob-install-stamp
TORCH  := torch==2.13.0
# Extra pip arguments for torch, e.g. a CPU-only or CUDA wheel index:
#   make book TORCH_PIP_ARGS="--extra-index-url https://download.pytorch.org/whl/cpu"
TORCH_PIP_ARGS ?=

# Two BLAS/OpenMP threads: the size of the CI machines; set them higher on a bigger machine.
export OMP_NUM_THREADS ?= 2
export MKL_NUM_THREADS ?= 2
export OPENBLAS_NUM_THREADS ?= 2
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: book test venv student clean

book: $(STAMP)
	$(BIN)/rob build

test: $(STAMP)
	$(BIN)/python -m pytest

# Course version: solutions hidden in the HTML and stripped from the downloadable notebooks,
# plus hand-out notebooks (no solutions, no outputs) in _build/handout.
student: $(STAMP)
	$(BIN)/rob build --student
	$(BIN)/rob student _build/handout

# Course assignments (otter-grader): per chapter the student notebook (no solutions, no hidden
# tests), the autograder zip and the instructor notebook, in $(ASSIGNMENTS_OUT)/<chapter>/.
# Grade a submission with: .venv/bin/rob grade SUBMISSION.ipynb
ASSIGNMENTS_OUT ?= _build/assignments
.PHONY: assignments
assignments: $(STAMP)
	$(BIN)/rob assignments $(ASSIGNMENTS_OUT)

venv: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install -c constraints.txt $(TORCH_PIP_ARGS) "$(TORCH)"
	$(BIN)/python -m pip install -c constraints.txt -e ".[book,test]"
	touch $(STAMP)

clean:
	rm -rf _build results notebooks/results .pytest_cache
	find . -name __pycache__ -not -path "./$(VENV)/*" -prune -exec rm -rf {} +
