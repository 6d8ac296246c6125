# The two commands a newcomer needs (see README.md):
#   make demo   run the platform on embedded defaults
#   make test   lint, type-check, check the import layers and run every test
# Both create .venv and install what they need, including Debian packages when missing.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test check lint typecheck imports pytest bench clean system-deps screenshots constraints

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[gateway,server,dev]'
	touch $(STAMP)

# Re-resolve every dependency to its newest allowed release and pin the result.
constraints:
	rm -rf .venv-constraints
	$(PYTHON) -m venv .venv-constraints
	.venv-constraints/bin/pip install --quiet --upgrade pip
	.venv-constraints/bin/pip install --quiet -e '.[gateway,server,dev]'
	{ head -n 2 constraints.txt; .venv-constraints/bin/pip freeze --exclude-editable; } > constraints.new
	mv constraints.new constraints.txt
	rm -rf .venv-constraints

system-deps:
	@scripts/system-deps

demo: system-deps $(STAMP)
	$(BIN)/telecare demo

test: system-deps $(STAMP) check pytest

check: lint typecheck imports

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

pytest: $(STAMP)
	$(BIN)/pytest

# The README's pictures, taken from a running demo (scripts/demo_screenshot.py).
screenshots: system-deps $(STAMP)
	scripts/demo-screenshot

bench: $(STAMP)
	$(BIN)/telecare bench decode

clean:
	rm -rf $(VENV) build .mypy_cache .pytest_cache .ruff_cache .hypothesis
