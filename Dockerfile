# One image for every connmgr process; the command picks the pool
# (`connmgr worker encryptor`, `connmgr api`, `connmgr migrate`, ...).
#
# Two stages: `build` installs the locked dependencies and the `server` and `otlp`
# extras (the OTLP trace exporter: docs/operations.md) into
# a virtualenv; the final stage copies only that virtualenv onto the same pinned
# base, without pip or any build tool, and runs as uid/gid 10001. Never the
# `dev-stack` extra: nats-server runs in its own image. Built and run by compose
# and Kubernetes (README, "Deploy"); containers cannot be built in the test
# suite, which checks this file's content instead (tests/infra/test_dockerfile.py).
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/connmgr
WORKDIR /src
# The lock first: the dependency layer is rebuilt only when it changes.
COPY requirements.lock ./
RUN /opt/connmgr/bin/pip install --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY src ./src
RUN /opt/connmgr/bin/pip install --no-deps '.[server,otlp]' \
    && /opt/connmgr/bin/pip uninstall --yes pip

FROM ${PYTHON_IMAGE}
# No pip, setuptools or wheel at run time: nothing in the image installs anything.
RUN python -m pip uninstall --yes pip setuptools wheel \
    && groupadd --gid 10001 connmgr \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin connmgr
COPY --from=build /opt/connmgr /opt/connmgr
ENV PATH=/opt/connmgr/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# Numeric, so that Kubernetes can check runAsNonRoot without reading /etc/passwd.
USER 10001:10001
# API; probe port of every worker (`connmgr health`).
EXPOSE 8080 8081
ENTRYPOINT ["connmgr"]
CMD ["--help"]
