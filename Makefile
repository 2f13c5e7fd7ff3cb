# Two commands matter: `make demo` (main job) and `make test` (tests). Both set themselves up.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEB_PACKAGES := python3-qgis qgis xvfb python3-venv python3-cairo
VERSION := $(shell sed -n 's/^version=//p' sar_eo_coreg/metadata.txt)
export QT_QPA_PLATFORM ?= offscreen
export PYTHONHASHSEED := 0

.PHONY: setup system-packages test lint demo bench bench-speed bench-models train-default lean-size package clean screenshot

setup: system-packages $(STAMP)

system-packages:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian packages: $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "Missing Debian packages. Run: sudo apt-get update && sudo apt-get install -y $$missing"; exit 1; \
	  fi; \
	fi

$(STAMP): requirements.txt requirements-dev.txt sar_eo_coreg/requirements.txt sar_eo_coreg/requirements-train.txt
	test -x $(PY) || /usr/bin/python3 -m venv --system-site-packages $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip check
	touch $(STAMP)

test: setup
	$(PY) -m ruff check sar_eo_coreg tests bench tools
	$(PY) -m pytest

lint: setup
	$(PY) -m ruff check sar_eo_coreg tests bench
	@size=$$(wc -c < README.md); if [ $$size -gt 12288 ]; then echo "README.md is $$size bytes, over 12 KB: move detail to docs/"; exit 1; fi

demo: setup
	$(PY) -m sar_eo_coreg demo --out demo_output

bench: setup
	$(PY) bench/real_airport.py
	$(PY) bench/pair_check.py --out bench/results
	for warp in random strong relief sine; do $(PY) bench/accuracy.py --warp $$warp --out bench/results || exit 1; done
	$(PY) bench/calibrate.py
	$(PY) bench/summary.py
	$(PY) bench/speed.py --out bench/results
	@echo; echo "Speed (bench/results/speed_cpu.md):"; cat bench/results/speed_cpu.md

bench-speed: setup
	$(PY) bench/speed.py --out bench/results

package: setup
	@rm -rf dist && mkdir -p dist && tmp=$$(mktemp -d) && \
	git clone --quiet . $$tmp/src && \
	(cd $$tmp/src && $(abspath $(VENV))/bin/qgis-plugin-ci package $(VERSION) >/dev/null) && \
	mv $$tmp/src/sar_eo_coreg.$(VERSION).zip dist/ && rm -rf $$tmp
	@echo "Built from the last commit (uncommitted changes are not packaged)."
	$(PY) tools/check_plugin_zip.py dist/sar_eo_coreg.$(VERSION).zip

clean:
	rm -rf dist demo_output .pytest_cache

# docs/dock.png: real QGIS under Xvfb, the dock after a run on the real airport pair (../shared/data/real)
screenshot: setup
	rm -rf .screenshot-profile && mkdir -p .screenshot-profile
	SAR_EO_COREG_PYTHON=$(abspath $(PY)) QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1600x1000x24" \
	  qgis --nologo --noversioncheck --profiles-path .screenshot-profile --code tools/screenshot_dock.py
	rm -rf .screenshot-profile

# the model family on one held-out fold (same data and budget for every model)
bench-models: setup
	$(PY) bench/models.py --steps 40 --samples 256 --fold 0 --out bench/results

# the shipped default model: dense self-supervised training on the CPU (fold 0 held out), exported to ONNX
train-default: setup
	test -f bench/work/extra_pairs.csv || $(PY) bench/real_airport.py  # its pair counts in the fold split
	$(PY) -m sar_eo_coreg train-dense --model siamese_corr --steps 900 --minutes 45 --seed 0 --fold 0 --out weights/default

# the analyst's install: a fresh venv with the lean runtime only (no torch), and its size
lean-size:
	rm -rf /tmp/sar_eo_coreg_lean && /usr/bin/python3 -m venv /tmp/sar_eo_coreg_lean
	/tmp/sar_eo_coreg_lean/bin/python -m pip install -q --no-compile --disable-pip-version-check -r sar_eo_coreg/requirements.txt
	du -sh /tmp/sar_eo_coreg_lean
