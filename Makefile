# facestream: `make demo` and `make test` are the whole quick start.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
FS := $(VENV)/bin/facestream
VIDEO ?= ../shared/media/hamilton_360p.mp4
PEOPLE ?= ../shared/faces/gallery
DEMO_DIR ?= .facestream/demo
TORCH ?= torch==2.14.1 torchvision==0.29.1
PYTEST_ARGS ?=

.PHONY: install test demo clean

# torch first (a large wheel); then facenet-pytorch without its stale pins
# (torch<2.3, numpy<2, Pillow<10.3); then the project and its test tools.
$(VENV)/.installed: pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q --no-deps facenet-pytorch==2.6.0
	$(PY) -m pip install -q --no-deps face_recognition==1.3.0  # bench row (c); wants a dlib source build otherwise
	$(PY) -m pip install -q -e '.[test,bench]'
	touch $@

install: $(VENV)/.installed

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

# A fresh demo data dir each time, so that repeated demos don't enroll the same photos twice.
demo: install
	rm -rf $(DEMO_DIR)
	$(FS) --data-dir $(DEMO_DIR) enroll --dir $(PEOPLE)
	$(FS) --data-dir $(DEMO_DIR) run $(VIDEO) --out $(DEMO_DIR)/results.jsonl

clean:
	rm -rf .facestream .pytest_cache
