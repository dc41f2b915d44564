# The API, worker and migrate services of compose.yaml share this image.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY services services
COPY shared shared
COPY migrations migrations
RUN pip install --no-cache-dir .
ENV LOG_FORMAT=json
USER nobody
CMD ["python", "-m", "services.api"]
