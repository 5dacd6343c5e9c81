# The README's commands. Each target installs what it needs first, so it works on a fresh machine.
#   make demo   load the shipped trained model with from_pretrained and fill masked words
#   make test   the test suite (pytest, tiny models, CPU)
# PYTHON may point at a virtualenv's interpreter; PIP_ARGS adds pip options, e.g. outside this project's
# environment PIP_ARGS="--extra-index-url https://download.pytorch.org/whl/cpu" to get the CPU build of torch.

PYTHON ?= python
# Pinned: the CPU build 2.13.0+cpu satisfies it; an unpinned torch pulls several GB of CUDA wheels.
TORCH ?= torch==2.13.0
PIP_ARGS ?=
PIP_INSTALL = $(PYTHON) -m pip install --progress-bar off $(PIP_ARGS) "$(TORCH)"
# The perceiver-io library, the tests' independent reference for `convert perceiver-io`: its own requirements pin
# an old torch and Lightning, so it goes in without dependencies (einops and fairscale come with the test extra;
# Lightning and torchmetrics are stand-ins in tests/helpers/perceiver_io_standins).
# transformers' own common tests (ModelTesterMixin, ConfigTester) come from the installed version's sdist:
# scripts/fetch_transformers_tests.py puts them in .transformers-tests/ (pip download, once per version). If it
# cannot (offline), make goes on (the leading "-") and tests/test_transformers_common.py fails naming the reason.
PERCEIVER_IO = perceiver-io==0.4.0

.PHONY: install test demo

install:
	$(PIP_INSTALL) -e .

test:
	$(PIP_INSTALL) -e ".[test]"
	$(PYTHON) -m pip install --progress-bar off $(PIP_ARGS) --no-deps "$(PERCEIVER_IO)"
	-$(PYTHON) scripts/fetch_transformers_tests.py
	$(PYTHON) -m pytest tests -q -n 2

demo: install
	$(PYTHON) examples/demo.py
