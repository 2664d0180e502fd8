FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY domain ./domain
COPY ledger ./ledger
COPY projections ./projections
COPY api ./api
COPY rulebooks ./rulebooks
RUN pip install --no-cache-dir -e .
ENV DATABASE_URL=sqlite:///data/petition-ledger.sqlite3
EXPOSE 8000
CMD ["petition", "serve", "--host", "0.0.0.0", "--port", "8000"]
