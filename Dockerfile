# Studio on an official PyTorch CUDA runtime image (Python, CUDA and cuDNN come with the base), running the
# PyTorch release the test suite runs (the Makefile's TORCH pin; a test keeps the two the same).
#   docker build -t studio .
#   docker run --gpus all --ipc=host -v $PWD/runs:/workspace/runs studio fit --config configs/text/char-lstm.yaml
ARG BASE_IMAGE=pytorch/pytorch:2.8.0-cuda12.9-cudnn9-runtime
FROM ${BASE_IMAGE}
ARG TORCH=torch==2.13.0

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    STUDIO_CACHE=/workspace/.cache/studio WANDB_DIR=/workspace MPLCONFIGDIR=/workspace/.cache/matplotlib

# FluidSynth and a General MIDI soundfont for rendering MIDI samples to audio.
RUN apt-get update \
 && apt-get install -y --no-install-recommends fluidsynth fluid-soundfont-gm \
 && rm -rf /var/lib/apt/lists/*

# The tested PyTorch release replaces the base image's (its CUDA libraries come with the wheel).
RUN pip install "${TORCH}" && python -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '${TORCH}'.split('==')[1])"

# Dependencies in their own cached layer: it is rebuilt only when pyproject.toml changes.
WORKDIR /opt/studio
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
      > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt

# The source, installed without touching the dependencies (and the tested torch) again.
COPY README.md ./
COPY studio ./studio
COPY datamodules ./datamodules
RUN pip install --no-deps .

# A non-root user whose working folder holds checkpoints/, samples/, wandb/ and the presets.
RUN useradd --create-home --uid 1000 studio \
 && mkdir -p /workspace/checkpoints /workspace/samples /workspace/.cache \
 && chown -R studio:studio /workspace
COPY --chown=studio:studio configs /workspace/configs
USER studio
WORKDIR /workspace
# `studio serve --host 0.0.0.0` listens here (publish it with -p 8000:8000).
EXPOSE 8000
ENTRYPOINT ["studio"]
CMD ["--help"]
