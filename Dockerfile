# One image for every connmgr process; the command picks the pool.
FROM python:3.11-slim
RUN useradd --create-home --uid 10001 connmgr
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir . && rm -rf /root/.cache
USER connmgr
ENTRYPOINT ["connmgr"]
CMD ["--help"]
