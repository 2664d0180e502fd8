FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml setup.py README.md ./
COPY domain ./domain
COPY ledger ./ledger
COPY projections ./projections
COPY api ./api
COPY generate ./generate
COPY rulebooks ./rulebooks
# The judge compiled with mypyc (ADR 22: a rebuild judges every case of the log), once the
# dependencies it is type-checked against are installed; the C compiler is needed for the
# build only, and goes with mypy once the modules are built.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && pip install --no-cache-dir -e . "mypy>=1.10" setuptools wheel \
    && PETITION_COMPILE=1 pip install --no-cache-dir --no-build-isolation --no-deps -e . \
    && python -c "from projections import compilation as c; assert c.compiled() == list(c.MODULES)" \
    && pip uninstall -y mypy \
    && apt-get purge -y --auto-remove gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/* build
ENV DATABASE_URL=sqlite:///data/petition-ledger.sqlite3
EXPOSE 8000
CMD ["petition", "serve", "--host", "0.0.0.0", "--port", "8000"]
