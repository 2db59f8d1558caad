# loadstar — `make demo` runs a real load locally; `make test` runs the whole suite.
HOST_PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint terraform docs browser locale unit integration mutate bench soak package clean

$(STAMP): pyproject.toml
	@$(HOST_PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "loadstar needs Python 3.11 or newer as $(HOST_PYTHON)"; exit 1; }
	@echo "loadstar: creating $(VENV) and installing loadstar with its test, docs and local-stack dependencies (a minute or two, once)"
	$(HOST_PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@echo "loadstar: installed"
	@touch $@

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m loadstar.dev.demo

# Two processes, a test file each at a time: most tests wait on PostgreSQL,
# S3 or a subprocess, so two keep two cores busy.
test: lint terraform docs browser locale
	$(BIN)/python -m pytest -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check src tests bench deploy
	$(BIN)/ruff format --check src tests bench deploy
	$(BIN)/mypy
	$(BIN)/lint-imports

# The documentation site (docs/, mkdocs.yml) into site/; a broken link fails it.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir site

# Debian's headless Chromium, in which the HTML report's test renders the page.
browser:
	tests/ensure-chromium

# The en_US.UTF-8 locale, for the warehouse whose collation is not C's.
locale:
	tests/ensure-locale

# terraform fmt (and validate, where a provider mirror is at hand) and checkov
terraform:
	deploy/check-terraform

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

integration: $(STAMP)
	$(BIN)/python -m pytest tests/integration

# Mutation testing of the guarantee-bearing modules ([tool.mutmut], tests/mutate.py);
# not part of `make test`. Incremental: mutants/ keeps results between runs.
# Survivors judged equivalent go in tests/mutation-equivalents.txt.
mutate: $(STAMP)
	$(BIN)/python tests/mutate.py

bench: $(STAMP)
	$(BIN)/python -m bench.run

ROUNDS ?= 50
soak: $(STAMP)
	$(BIN)/python tests/soak.py --rounds $(ROUNDS)

# The Lambda zip, dist/loadstar-lambda.zip, for Lambda's runtime PYTHON (3.11,
# 3.12, 3.13) and ARCH (x86_64, arm64); CONFIG ships a TOML catalogue with it.
PYTHON ?= 3.11
ARCH ?= x86_64
package: $(STAMP)
	$(BIN)/python -m deploy.package --python $(PYTHON) --arch $(ARCH) \
		$(if $(CONFIG),--config $(CONFIG)) --output dist/loadstar-lambda.zip

clean:
	rm -rf $(VENV) .venv-checkov mutants site .pytest_cache .mypy_cache .ruff_cache build dist src/*.egg-info
