# Two commands: `make demo` and `make test`. Both create and use .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest docs bench clean redis-server chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The main job (kling-async demo), then three app replicas sharing one account through a real
# redis-server (installed from the system packages when missing; skipped, and said, if it cannot be).
demo: $(STAMP)
	$(BIN)/kling-async demo --out demo-videos
	@if $(MAKE) --no-print-directory -s redis-server; then \
	  $(BIN)/python examples/shared_account.py; \
	else echo "no redis-server: skipped the shared-account part (see README, Scaling out)"; fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy --strict kling_async

# A real Redis for the shared governor / job store / worker tests (never a fake): Debian's
# package when the binary is missing (as root, or through sudo).
redis-server:
	@command -v redis-server >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  echo "installing redis-server from the system packages"; \
	  $$SUDO apt-get install -y -q redis-server >/dev/null 2>&1 || \
	  { $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q redis-server >/dev/null; }; }
	@command -v redis-server >/dev/null 2>&1 || { echo "redis-server could not be installed"; exit 1; }

# A real headless browser for the HTML report's test (tests/cli/test_html_report.py): Debian's
# chromium package when missing, installed as redis-server is. Playwright drives it; it never
# downloads a browser of its own. Without it that test fails (KLING_SKIP_BROWSER=1 skips it).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  echo "installing chromium from the system packages"; \
	  $$SUDO apt-get install -y -q chromium >/dev/null 2>&1 || \
	  { $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q chromium >/dev/null; }; }
	@command -v chromium >/dev/null 2>&1 || { echo "chromium could not be installed"; exit 1; }

# Bytecode is cached even where the environment turns that off (PYTHONDONTWRITEBYTECODE):
# each of the 6 workers and the processes the tests start would compile the package and the
# tests again (collection alone: 3.9 s of CPU a worker, 2.0 s with the cache).
pytest: $(STAMP) redis-server chromium
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -q -n 6 --dist worksteal

# The docs site, built offline (no fonts or cards fetched); --strict turns every warning (a
# broken link, a docstring mkdocstrings cannot read) into a failure. NO_MKDOCS_2_WARNING quiets
# mkdocs-material's banner about MkDocs 2.0.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir site

# lint, typecheck and docs run beside pytest (whose workers leave a core idle while tests wait);
# each one's output is printed whole when it ends.
test: $(STAMP) redis-server chromium
	@$(MAKE) --no-print-directory -j3 --output-sync=target lint typecheck pytest docs

bench: $(STAMP)
	$(BIN)/python benchmarks/emulator_capacity.py
	$(BIN)/python benchmarks/download_throughput.py
	$(BIN)/python benchmarks/batch_shapes.py --quick --queued

clean:
	rm -rf $(VENV) demo-videos site .mypy_cache .ruff_cache .pytest_cache
