# lungct: the two commands in the README do all the set-up on a fresh Debian 12 machine.
#   make demo   build in release mode and run lungct on the sample in Volumes/
#   make test   lint, then run the test suite
SHELL := /bin/bash
export PATH := /opt/swift/usr/bin:$(PATH)
SWIFT ?= swift
DEBIAN_PACKAGES := libdcmtk-dev dcmtk libnifti-dev libopenblas-dev libhdf5-dev hdf5-tools \
	libpng-dev libjpeg-dev zlib1g-dev pkg-config dcm2niix libjpeg-turbo-progs time \
	libopenjp2-7-dev libgdcm-tools dicom3tools orthanc
SAMPLE := Volumes/phantom-chest
DEMO_OUT := out/demo

.PHONY: deps build demo test test-venv lint format bench sample clean fuzz

# Installs whatever Debian package is missing (needs root, as on the project's machines).
deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

build: deps
	$(SWIFT) build -c release

demo: build
	@bin=$$($(SWIFT) build -c release --show-bin-path)/lungct; \
	mkdir -p $(DEMO_OUT); \
	echo "== lungct info $(SAMPLE)/dicom"; $$bin info $(SAMPLE)/dicom --stats; \
	echo; echo "== lungct convert $(SAMPLE)/dicom $(DEMO_OUT)/ct.nii.gz"; $$bin convert $(SAMPLE)/dicom $(DEMO_OUT)/ct.nii.gz; \
	echo; echo "== lungct analyze $(SAMPLE)/dicom -o $(DEMO_OUT)"; $$bin analyze $(SAMPLE)/dicom -o $(DEMO_OUT)

# A private virtualenv with the tests' Python peers: h5py (study.h5 reads with h5py and no
# custom code), Pillow (pictures lungct's own writers do not make, such as CMYK JPEG), and
# pydicom with highdicom (legacy-converted enhanced CT fixtures made from a phantom series, and
# the DICOM result objects of --dicom read back).
# Without PyPI those tests skip; nothing else needs Python.
TEST_VENV := .build/test-venv
test-venv:
	@[ -x $(TEST_VENV)/bin/python ] || python3 -m venv $(TEST_VENV) >/dev/null 2>&1 || { apt-get install -y -qq python3-venv >/dev/null && python3 -m venv $(TEST_VENV); } || true
	@$(TEST_VENV)/bin/python -c "import h5py, numpy, PIL, pydicom, highdicom" 2>/dev/null || $(TEST_VENV)/bin/pip install --quiet h5py numpy pillow pydicom highdicom >/dev/null 2>&1 || echo "note: h5py, pillow, pydicom or highdicom not installed (no PyPI?); the tests that need them will skip"

# The toolchain's swift-format with the checked-in .swift-format, and the structure checks of
# ARCHITECTURE.md (layers, declared imports, file and function sizes).
lint:
	$(SWIFT) format lint --strict --recursive Sources Tests Package.swift
	python3 scripts/check-structure.py

# Formats every Swift file in place (then `make lint` passes what formatting can fix).
format:
	$(SWIFT) format format --in-place --recursive Sources Tests Package.swift

test: deps lint test-venv
	$(SWIFT) build --build-tests
	LUNGCT_PYTHON=$(CURDIR)/$(TEST_VENV)/bin/python $(SWIFT) test --skip-build
	scripts/fuzz.sh --seconds 45 --parallel 2

# libFuzzer under AddressSanitizer on each reader (README, "Fuzzing"); FUZZ_ARGS for more, e.g.
# make fuzz FUZZ_ARGS="--runs 1000000 --parallel 2".
fuzz: deps
	scripts/fuzz.sh $(FUZZ_ARGS)

bench: build
	benchmarks/bench.sh

# Regenerates the committed sample (a small phantom; deterministic for a given seed).
sample: build
	rm -rf $(SAMPLE) && $$($(SWIFT) build -c release --show-bin-path)/lungct phantom $(SAMPLE)-tmp \
		--size 128 --slices 60 --spacing 5 --lesions 2 --seed 1 --syntax jpeg-ls --shuffle
	mv $(SAMPLE)-tmp $(SAMPLE)

clean:
	rm -rf .build out
