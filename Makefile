# Two commands for a fresh machine:  `make demo`  and  `make test`.
# `make install` builds .venv with the pinned stack; it is idempotent (a stamp file records the
# requirement files it was built from, and pip's wheel cache keeps the ~9 min mmcv build).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.cast-installed
REQS   := setup.py requirements/build.txt requirements/runtime.txt requirements/tests.txt \
          requirements/docs.txt

TORCH_VERSION ?= 2.13.0
MMCV_VERSION  ?= 2.1.0
SPIN_API_VERSION ?= 1.0.0
# mmcv's setup.py compiles its ops with ninja through torch's cpp_extension, which runs
# MAX_JOBS jobs at once (ninja's default, cores + 2, overloads small machines): one per core.
MAX_JOBS      ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: install demo test test-isa docs clean-venv

install: $(STAMP)

$(STAMP): $(REQS) Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade "pip>=23"
	$(BIN)/pip install -q -r requirements/build.txt
	$(BIN)/pip install -q torch==$(TORCH_VERSION)
	@# mmcv needs its compiled ops (mmseg imports mmcv.ops); built once, then served by pip's cache.
	@# Its setup.py is known to build under setuptools<70; torch 2.13 itself declares >=77.0.3.
	$(BIN)/python -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '$(MMCV_VERSION)'" 2>/dev/null || { \
	  $(BIN)/pip install -q "setuptools<70" && \
	  MMCV_WITH_OPS=1 MAX_JOBS=$(MAX_JOBS) $(BIN)/pip install --no-build-isolation mmcv==$(MMCV_VERSION); }
	@# MMEngine resolves `mmseg::` config paths with pkg_resources, which setuptools 81 dropped.
	$(BIN)/pip install -q "setuptools>=77.0.3,<81"
	$(BIN)/python -c "import fast_slic" 2>/dev/null || \
	  $(BIN)/pip install -q --no-build-isolation fast-slic==0.4.0
	$(BIN)/pip install -q -r requirements/runtime.txt -r requirements/tests.txt \
	  -r requirements/docs.txt
	@# spin-api (SPIN's own loader, compared against in the tests) without its unpinned OpenCV.
	$(BIN)/pip install -q --no-deps spin-dataset-api==$(SPIN_API_VERSION)
	@# OpenCV: mmcv and mmengine pull the plain opencv-python; SEEDS needs the contrib build.
	@# Both write the same cv2/ files (the last installed wins, uninstalling one deletes the
	@# other's), so the plain build goes and the contrib build is (re)installed over the gap.
	-$(BIN)/pip uninstall -q -y opencv-python opencv-python-headless 2>/dev/null
	$(BIN)/python -c "import cv2; cv2.ximgproc.createSuperpixelSEEDS" 2>/dev/null || \
	  $(BIN)/pip install -q --force-reinstall --no-deps \
	    "$$(grep -E '^opencv-contrib-python==' requirements/runtime.txt)"
	$(BIN)/pip install -q --no-build-isolation --no-deps -e .
	$(BIN)/python -c "import cast, mmseg.models, mmpretrain.models, dgl, fast_slic, pycocotools, spin, \
	  cv2; cv2.ximgproc.createSuperpixelSEEDS"
	touch $(STAMP)

DEMO_CONFIG  ?= configs/demo/synthetic_spin.py
DEMO_DIR     ?= work_dirs/demo
# One torch thread: the demo's operations are small, and a second thread waits at every
# operation for whatever else holds the other core (its own data workers on 2 cores; other jobs
# on a shared machine), which made iterations up to 15x slower here.
DEMO_THREADS ?= 1

# Generates the data on first use; a second run resumes the finished training (nothing is
# overwritten) and tests again. The test decodes jointly (the config's decoding, and the
# pictures), then decodes the same checkpoint level by level and prints both side by side.
demo: install
	$(BIN)/python tools/generate_synthetic_spin.py data/synthetic_spin
	OMP_NUM_THREADS=$(DEMO_THREADS) $(BIN)/python tools/train.py $(DEMO_CONFIG) \
	  --work-dir $(DEMO_DIR) --resume
	OMP_NUM_THREADS=$(DEMO_THREADS) $(BIN)/python tools/test.py $(DEMO_CONFIG) \
	  "$$(cat $(DEMO_DIR)/last_checkpoint)" \
	  --work-dir $(DEMO_DIR) --eval mIoU SpCS SeCS --show-dir $(DEMO_DIR)/pictures \
	  --compare-decodings independent

test: install
	$(BIN)/python -m pytest -q tests

# The suite again on the next instruction set below the machine's (AVX-512 -> AVX2 -> default)
# and one thread, so a result that depends on which kernels ran fails on any machine (CI runs
# both). ISA=... picks another set (default, avx2, avx512). The tests that launch processes
# test the launch, not the kernels, and run once, in `make test`.
ISA ?= $(shell $(BIN)/python -c "import torch; \
  print({'AVX512': 'avx2'}.get(torch.backends.cpu.get_cpu_capability(), 'default'))" 2>/dev/null)
test-isa: install
	ATEN_CPU_CAPABILITY=$(ISA) OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -m "not multiprocess" tests

# The documentation site (docs/: Sphinx, MyST pages, the API from the docstrings) as HTML in
# docs/_build/html; warnings are errors, as in tests/test_docs.py.
docs: install
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

clean-venv:
	rm -rf $(VENV)
