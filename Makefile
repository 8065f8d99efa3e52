# The README's two commands: `make lab` and `make test` (and `make unit`, the fast tier). Everything they need is installed by
# lab/deps.sh; the lab (image, S3, host) is built once and reused.
SHELL := /bin/bash
VENV := $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export CONTAINERS_CONF := $(CURDIR)/lab/containers.conf

# The lab host's database: FerretDB with MongoDB's real tools, built from Go modules (default:
# no registry reachable here ships mongod), or `real` MongoDB on a machine that reaches
# repo.mongodb.org.
LAB_MONGODB ?= ferretdb
export LAB_MONGODB

# make test runs its own lab (name, ports, files) beside any `make lab` one. Override TEST_LAB
# (e.g. `make test TEST_LAB="LAB_NAME=tasky-b LAB_S3_PORT=7590 ..."`) to run a second one beside
# it; `make lab LAB_NAME=... LAB_S3_PORT=...` likewise (lab/common.sh lists the variables).
# LAB_MONGODB_PORT: the Molecule host's database; LAB_FERRETDB_PORT: pytest's FerretDB.
TEST_LAB := LAB_NAME=tasky-test LAB_S3_PORT=7490 LAB_MON_PORT=16790 LAB_CW_PORT=7491 \
	LAB_MONGODB_PORT=27117 LAB_FERRETDB_PORT=27190

.PHONY: deps venv unit lab lab-down lint test-lab pytest molecule molecule-online test mutants bench clean

deps:
	@lab/deps.sh

# The Python packages only (.venv from requirements.txt): what `make unit` needs.
venv:
	@lab/deps.sh venv

# The fast tier: pure logic (settings, part sizing, cron parsing, key names, the oplog and
# archive filters on fixture bytes, the drill's comparison, the page), no lab, no network.
unit: venv
	pytest -q tests/unit

# Builds (once) MongoDB's tools and FerretDB, starts the lab, puts FerretDB and the tools on the
# lab host (LAB ONLY), converges site.yml, seeds the application database as the app user.
lab: deps
	@lab/tools.sh build
	@LAB_ENV_FILE=$(CURDIR)/.lab/env lab/lab.sh up
	@if [ "$(LAB_MONGODB)" != real ]; then ansible-playbook -i inventory/local lab/playbooks/mongodb-lab.yml; fi
	ansible-playbook -i inventory/local site.yml
	@ansible-playbook -i inventory/local lab/playbooks/mongodb-lab-seed.yml
	@LAB_ENV_FILE=$(CURDIR)/.lab/env lab/lab.sh info

lab-down:
	@lab/lab.sh down

lint: deps
	yamllint --strict .
	ruff check .
	ruff format --check .
	ansible-lint --profile production

# pytest and Molecule share the test lab's S3 and CloudWatch, left running for the next warm run,
# and the lab's builds of MongoDB's tools and FerretDB (built once, lab/tools.sh).
test-lab: deps
	@lab/tools.sh build
	@$(TEST_LAB) lab/s3.sh up
	@$(TEST_LAB) lab/cloudwatch.sh up

# pytest's own FerretDB on the control machine (lab/ferretdb.sh), also left running.
pytest: test-lab
	@$(TEST_LAB) lab/ferretdb.sh up
	$(TEST_LAB) pytest

molecule: test-lab
	$(TEST_LAB) TASKY_LAB_IMAGE=$$($(TEST_LAB) lab/host.sh image) molecule test

test: lint unit pytest molecule

# One-line breaks of the safety claims, each of which its test must catch (tests/mutants.py).
# About 2 minutes (the guarding tests once on an unchanged copy, then each mutant), so not in make test.
mutants: test-lab
	@$(TEST_LAB) lab/ferretdb.sh up
	$(TEST_LAB) python tests/mutants.py

# Real MongoDB from MongoDB's repository: needs internet access to it (not on this project's
# machines). Same test lab, scenario molecule/online.
molecule-online: test-lab
	$(TEST_LAB) LAB_MONGODB=real TASKY_LAB_IMAGE=$$($(TEST_LAB) lab/host.sh image) molecule test -s online

# The benchmark gets its own S3 with room (in RAM) for the seed method's three uploads, and its
# own FerretDB holding the bench data (loaded once per size, reused). Override BENCH_LAB to run
# it beside another one. BENCH_ROUNDS: each method runs that many times (medians reported).
BENCH_LAB := LAB_NAME=tasky-bench LAB_S3_PORT=7500 LAB_MON_PORT=16800 LAB_FERRETDB_PORT=27200 \
	LAB_S3_BYTES=4294967296
BENCH_SIZE_MIB ?= 1024
BENCH_ROUNDS ?= 3
BENCH_METHODS ?= seed,pigz_awscli,mongodump_archive_awscli,pipeline_targz,pipeline_archive,pipeline_targz_age,pipeline_archive_age
bench: deps
	@lab/tools.sh build
	@lab/bench-deps.sh
	@$(BENCH_LAB) lab/s3.sh up
	@$(BENCH_LAB) lab/ferretdb.sh up
	$(BENCH_LAB) BENCH_SIZE_MIB=$(BENCH_SIZE_MIB) BENCH_ROUNDS=$(BENCH_ROUNDS) BENCH_METHODS=$(BENCH_METHODS) \
		python bench/backup_throughput.py

clean: lab-down
	@$(TEST_LAB) lab/lab.sh down
	@$(TEST_LAB) lab/ferretdb.sh down
	@$(BENCH_LAB) lab/s3.sh down
	@$(BENCH_LAB) lab/ferretdb.sh down
	rm -rf .lab
