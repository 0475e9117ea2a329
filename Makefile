# The two commands a new machine needs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY = $(VENV)/bin/python
RUN ?= runs/demo
# The demo trains on the built-in shapes for the default length (80k images at batch 64, 1,250
# steps), which drew varied shapes in every seed measured: about 3 minutes on 2 CPU cores.
TRAIN_ARGS ?=

.PHONY: demo demo-run test test-fast venv clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(MAKE) demo-run PY=$(PY)

# Train, then sample: the pictures end up in $(RUN)/.
demo-run:
	rm -rf $(RUN)
	$(PY) -m dcgan_cli train --dataset shapes --device cpu --out $(RUN) $(TRAIN_ARGS)
	$(PY) -m dcgan_cli sample $(RUN) --device cpu --seeds 0-63 --out $(RUN)/samples.png
	$(PY) -m dcgan_cli interpolate $(RUN) --device cpu --rows 4 --steps 9 --out $(RUN)/interpolation.png --gif $(RUN)/interpolation.gif

test: venv
	$(PY) -m pytest

# For iteration: everything but the tests that start processes, torchrun ranks or torch.compile.
test-fast: venv
	$(PY) -m pytest -m "not slow"

clean:
	rm -rf $(VENV) runs
