# cosmoalign code location and training image: one image for the gRPC code server, run and step
# pods, and the training pods. CPU or CUDA torch by build argument:
#   docker build -t cosmoalign:0.1.0-cuda .
#   docker build --build-arg TORCH_VARIANT=cpu -t cosmoalign:0.1.0-cpu .
# Versions come from deploy/constraints.txt (`make constraints`); torch is pinned in pyproject.
FROM python:3.11-slim-bookworm

ARG TORCH_VARIANT=cuda
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    COSMOALIGN_CACHE=/var/cache/cosmoalign \
    HF_HOME=/var/cache/cosmoalign/huggingface \
    MPLCONFIGDIR=/tmp/matplotlib

WORKDIR /opt/cosmoalign
COPY pyproject.toml README.md ./
COPY deploy/constraints.txt deploy/constraints.txt
COPY cosmoalign cosmoalign
COPY pipeline pipeline
COPY assets assets
COPY resources resources

# cuda: PyPI's torch wheels bundle CUDA (the node brings the driver); cpu: PyTorch's CPU index.
RUN case "$TORCH_VARIANT" in \
      cuda) torch_index="" ;; \
      cpu) torch_index="--extra-index-url https://download.pytorch.org/whl/cpu" ;; \
      *) echo "TORCH_VARIANT must be cuda or cpu, not $TORCH_VARIANT" >&2; exit 1 ;; \
    esac \
 && pip install $torch_index --constraint deploy/constraints.txt '.[k8s]' \
 && python -c "import torch, pipeline.definitions; print('torch', torch.__version__)"

RUN useradd --uid 10001 --create-home --shell /usr/sbin/nologin cosmoalign \
 && mkdir -p /var/cache/cosmoalign \
 && chown cosmoalign:cosmoalign /var/cache/cosmoalign
USER 10001

# The code location (the chart overrides the arguments: `dagster api grpc -m pipeline.definitions`).
EXPOSE 3030
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "3030", "-m", "pipeline.definitions"]
