# The two commands a new machine needs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY = $(VENV)/bin/python
RUN ?= runs/demo
# The demo trains on the built-in shapes with the default recipe (core/recipes.py); what it costs and
# draws is in the README, "make demo".
TRAIN_ARGS ?=

.PHONY: demo demo-run test test-fast venv clean models

$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	touch $@

# Where no NVIDIA GPU is seen, the CPU-only torch (from PyTorch's CPU index when it can be reached;
# the line it prints says which): the demo venv is then about 1 GB instead of 5.6 GB.
$(VENV)/.torch: $(VENV)/.created scripts/install_torch.py
	$(PY) scripts/install_torch.py
	touch $@

# The demo needs the package, matplotlib (its curves) and the explorer's server; the tests need every extra they test.
$(VENV)/.demo: pyproject.toml $(VENV)/.torch
	$(PY) -m pip install --quiet -e '.[plot,explore]'
	touch $@

$(VENV)/.test: pyproject.toml $(VENV)/.torch
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

venv: $(VENV)/.test

demo: $(VENV)/.demo
	$(MAKE) demo-run PY=$(PY)

# Train, then sample: the pictures end up in $(RUN)/.
demo-run:
	rm -rf $(RUN)
	$(PY) -m dcgan_cli train --dataset shapes --device cpu --out $(RUN) $(TRAIN_ARGS)
	$(PY) -m dcgan_cli sample $(RUN) --device cpu --seeds 0-63 --out $(RUN)/samples.png
	$(PY) -m dcgan_cli interpolate $(RUN) --device cpu --rows 4 --steps 9 --out $(RUN)/interpolation.png --gif $(RUN)/interpolation.gif
	$(PY) scripts/demo_compare.py $(RUN) --model shapes

# The bundled models (dcgan_cli/bundled/): each seed trained by `dcgan train`, measured, the median shipped.
# Hours on 2 CPU cores; a run cut short continues where it stopped (scripts/train_models.py).
models: $(VENV)/.test
	$(PY) scripts/train_models.py all

test: $(VENV)/.test
	$(PY) -m pytest

# For iteration: everything but the tests that start processes, a browser, torchrun ranks or torch.compile.
test-fast: $(VENV)/.test
	$(PY) -m pytest -m "not slow"

clean:
	rm -rf $(VENV) runs
