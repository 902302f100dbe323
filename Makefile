# The two commands a new user needs (see README.md):
#   make demo   - install, then predict a tumor with the bundled model on an example
#   make test   - install (with test tools), then lint, type-check and run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install fl-env browser services demo test lint typecheck bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	# pyradiomics 3.0.1 (tumorscope features) has no wheel for this Python: built against the numpy installed here
	$(BIN)/python -m pip install --quiet numpy SimpleITK PyWavelets pykwalify six "setuptools>=70" wheel
	$(BIN)/python -m pip install --quiet --no-build-isolation pyradiomics==3.0.1
	$(BIN)/python -m pip install --quiet -e '.[dev,fast,scale,radiomics]'
	touch $@

# Flower (`tumorscope federated`, docs/federated.md) in an environment of its own: it pins its own FastAPI, Ray
# and protobuf versions, which the service and the Ray engine of the main .venv must not get.
FL_VENV ?= .venv-fl
fl-env: $(FL_VENV)/.installed

$(FL_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(FL_VENV)
	$(FL_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(FL_VENV)/bin/python -m pip install --quiet torch==2.13.0
	$(FL_VENV)/bin/python -m pip install --quiet -e '.[federated]'
	touch $@

# Debian's Chromium for the report's real-browser test (driven by Playwright with executable_path; never
# `playwright install`). Installed when root (CI); otherwise the browser test skips and says why.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "note: chromium is not installed (needs root: apt-get install -y chromium); the browser test will skip"; fi; }

# Debian's PostgreSQL for the service's PostgreSQL tests (tests/serve/postgres.py starts a throwaway server of
# its own per session; the Debian cluster service is not started), dicom3tools (dciodvfy) for the DICOM
# conversion check (tests/pacs), and Orthanc with its DICOMweb plugin for the PACS tests (tests/pacs/orthanc.py
# starts a throwaway server per module; Debian's own orthanc service is stopped). Installed when root (CI);
# else those tests skip.
services:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; \
	  else echo "note: PostgreSQL is not installed (needs root: apt-get install -y postgresql); the PostgreSQL tests will skip"; fi; }
	@command -v dciodvfy >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dicom3tools; \
	  else echo "note: dicom3tools is not installed (needs root: apt-get install -y dicom3tools); the dciodvfy check will skip"; fi; }
	@{ command -v Orthanc >/dev/null 2>&1 || [ -x /usr/sbin/Orthanc ]; } && ls /usr/share/orthanc/plugins/libOrthancDicomWeb.so* >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq orthanc orthanc-dicomweb \
	    && { service orthanc stop >/dev/null 2>&1 || true; }; \
	  else echo "note: Orthanc is not installed (needs root: apt-get install -y orthanc orthanc-dicomweb); the PACS tests will skip"; fi; }

demo: install
	$(BIN)/tumorscope demo --out demo_output

lint: install
	$(BIN)/ruff check tumorscope tests bench scripts experiments
	$(BIN)/lint-imports --no-cache

typecheck: install
	$(BIN)/mypy tumorscope

test: install fl-env browser services lint typecheck
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python bench/seg_inference.py
	$(BIN)/python bench/precision.py
	nice -n 10 $(BIN)/python bench/runtimes.py

clean:
	rm -rf $(VENV) $(FL_VENV) demo_output .pytest_cache .mypy_cache .ruff_cache
