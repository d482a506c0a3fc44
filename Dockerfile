FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DATA_DIR=/data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot bot
COPY handlers handlers
COPY dialogs dialogs
COPY services services
COPY storage storage
RUN pip install --no-cache-dir . && useradd --create-home emk && mkdir -p /data \
    && chown emk /data
USER emk
VOLUME ["/data"]
CMD ["python", "-m", "bot", "run"]
