# gwp: two commands for a new user — `make reproduce` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
PROFILE ?= quick
CONFIG  = experiments/$(PROFILE).yaml
RESULTS ?= results
DATASET_DIR = /usr/share/datasets/fashion-mnist

.PHONY: install test reproduce bench clean data

$(BIN)/gwp: setup.cfg
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "torch==2.14.1" "torchvision==0.29.1" || $(BIN)/pip install -q torch torchvision
	$(BIN)/pip install -q -e ".[test]"
	@touch $@

install: $(BIN)/gwp data

# Debian's package of the real Fashion-MNIST files, where apt is there and we are root.
data:
	@if [ ! -d $(DATASET_DIR) ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get update -q && apt-get install -y -q dataset-fashion-mnist || \
		echo "gwp: could not install dataset-fashion-mnist; gwp train will try --data-dir, GWP_DATA, then a download"; \
	fi

test: $(BIN)/gwp
	$(BIN)/python -m pytest -q

reproduce: install
	$(BIN)/gwp reproduce --config $(CONFIG) --results $(RESULTS)

bench: $(BIN)/gwp
	$(BIN)/gwp bench --quick --out $(RESULTS)/bench.json

clean:
	rm -rf $(RESULTS)/compare $(RESULTS)/figures $(RESULTS)/train $(RESULTS)/agents
