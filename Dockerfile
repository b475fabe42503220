# facestream workers and CLI. Build: docker compose build   (or: docker build -t facestream .)
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# OpenCV runtime libraries
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# torch first (its own layer: large and rarely changing). For a CPU-only image add
# --index-url https://download.pytorch.org/whl/cpu where that index is reachable.
RUN pip install torch torchvision
# facenet-pytorch pins torch<2.3, numpy<2 and Pillow<10.3 in its metadata: install without deps.
RUN pip install --no-deps facenet-pytorch==2.6.0

COPY . /app
RUN pip install .

ENV FACESTREAM_DATA_DIR=/data
VOLUME ["/data"]

ENTRYPOINT []
CMD ["facestream", "--help"]
