# Artist trainer. `make` or `make help` lists the targets and variables.
DATA   ?= data/sample
RUN    ?= default
PRESET ?= default
ARGS   ?=
HEAD   ?= gap
PYTHON := .venv/bin/python
STAMP  := .venv/.installed

# Recipe lines are not echoed: `make predict ... > preds.csv` writes only the CSV.
.SILENT:
.DEFAULT_GOAL := help
.PHONY: help install test train evaluate robustness predict demo export sweep wandb-sweep sync bench sample clean

help: ## list the targets and variables
	echo "Targets:"
	grep -hE '^[a-z%-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z%-]+):.*## (.*)/\1\t\2/' | \
	  awk -F'\t' '{printf "  %-12s %s\n", $$1, $$2}' | sed 's/stage%      /stage1-3    /'
	echo "Variables:"
	echo "  DATA=a,b     data folder(s) or CSV manifest; several: one run, the first's painters the classes (default data/sample)"
	echo "  RUN=...      run name: everything goes to runs/RUN/ (default default)"
	echo "  PRESET=a,b   presets from configs/presets/, applied in order (default default)"
	echo "  ARGS=\"...\"   LightningCLI overrides, e.g. ARGS=\"--model.head=spp --trainer.max_epochs=5\""
	echo "  FORCE=1      train a finished stage again (its outputs are deleted)"
	echo "  CKPT=...     checkpoint for evaluate, predict, export"
	echo "  INPUT=...    image or folder for predict"
	echo "  SPLIT=...    a run's split.csv: evaluate scores its validation part"
	echo "  PART=test    evaluate: the split's test part instead (nothing in training saw it)"
	echo "  UNKNOWN=...  evaluate: also score this folder's paintings by artists the checkpoint does not know"
	echo "  VIEWS=a,b    test-time views (plain,hflip,x1.25,...); FLIPS=1 the 4 flips"
	echo "  SIZES=a,b    predict: sizes that vote (e.g. 224,260,296)"
	echo "  REJECT=false predict: always name an artist (no 'unknown artist' answer)"
	echo "  PORT=...     demo: the web page's port (default 7860)"
	echo "  OUT=...      output file (evaluate JSON, predict CSV, export prefix)"
	echo "  HEAD=gap|spp head of sweep and wandb-sweep"

install: $(STAMP) ## create .venv and install everything (every target does this first)

# torch and torchvision first, pinned: they come from this machine's disk, a bare `torch`
# would pull a multi-GB build from the index.
$(STAMP): pyproject.toml
	test -x $(PYTHON) || python3 -m venv .venv
	$(PYTHON) -m pip install -q --upgrade pip
	$(PYTHON) -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(PYTHON) -m pip install -q -e ".[dev]"
	touch $(STAMP)

test: $(STAMP) ## run the test suite (what CI runs)
	$(PYTHON) -m pytest -q

# Every configs/stageN.yaml is a `make stageN`.
stage%: configs/stage%.yaml $(STAMP) ## train stage N of RUN on DATA with PRESET (stage1, stage2, stage3)
	$(PYTHON) -m artist_cli.train fit --preset $(PRESET) --config $< --run $(RUN) --data.root $(DATA) \
	  $(if $(FORCE),--force=true) $(ARGS)

train: stage1 stage2 stage3 ## the three stages in order

evaluate: $(STAMP) ## score CKPT on DATA, or on the validation (or PART=test) part of SPLIT
	test -n "$(CKPT)" || (echo "usage: make evaluate CKPT=runs/<run>/<stage>/best.ckpt [DATA=folder | SPLIT=runs/<run>/split.csv [PART=test] [UNKNOWN=folder]] [FLIPS=1 | VIEWS=plain,hflip,x1.25] [OUT=file.json]" >&2 && exit 2)
	$(PYTHON) -m artist_cli.evaluate --ckpt $(CKPT) $(if $(SPLIT),--split $(SPLIT),--data $(DATA)) $(if $(PART),--part $(PART)) $(if $(UNKNOWN),--unknown $(UNKNOWN)) $(if $(FLIPS),--flips) $(if $(VIEWS),--views $(VIEWS)) $(if $(OUT),--out $(OUT))

robustness: $(STAMP) ## CKPT on SPLIT's validation part re-rendered as people have paintings (JSON + table)
	test -n "$(CKPT)" -a -n "$(SPLIT)" || (echo "usage: make robustness CKPT=runs/<run>/<stage>/best.ckpt SPLIT=runs/<run>/split.csv [VIEWS='extra,view,set;another,set'] [OUT=file.json]" >&2 && exit 2)
	$(PYTHON) -m artist_cli.robustness --ckpt $(CKPT) --split $(SPLIT) $(if $(VIEWS),--views '$(VIEWS)') $(if $(OUT),--out $(OUT))

predict: $(STAMP) ## top-3 artists of each image in INPUT (or "unknown artist"), as CSV
	test -n "$(CKPT)" -a -n "$(INPUT)" || (echo "usage: make predict CKPT=... INPUT=image-or-folder [SIZES=224,260,296] [FLIPS=1 | VIEWS=plain,hflip,x1.25] [REJECT=false] [OUT=preds.csv]" >&2 && exit 2)
	$(PYTHON) -m artist_cli.predict --ckpt $(CKPT) --input $(INPUT) $(if $(SIZES),--sizes $(SIZES)) $(if $(FLIPS),--flips) $(if $(VIEWS),--views $(VIEWS)) $(if $(REJECT),--reject $(REJECT)) $(if $(OUT),--out $(OUT))

demo: $(STAMP) ## a local web page (127.0.0.1:7860) for CKPT (default: the newest run's stage 3)
	$(PYTHON) -m artist_cli.demo $(if $(CKPT),--ckpt $(CKPT)) $(if $(PORT),--port $(PORT))

export: $(STAMP) ## CKPT to ONNX + JSON, checked against PyTorch on DATA
	test -n "$(CKPT)" || (echo "usage: make export CKPT=... [OUT=path/without/suffix] [DATA=folder for the check]" >&2 && exit 2)
	$(PYTHON) -m artist_cli.export --ckpt $(CKPT) --data $(DATA) $(if $(OUT),--out $(OUT))

sweep: $(STAMP) ## head search (configs/head_grid.yaml) on RUN's stage-1 backbone, HEAD=gap|spp
	$(PYTHON) -m artist_cli.sweep --run $(RUN) --head $(HEAD) $(ARGS)

wandb-sweep: $(STAMP) ## the same grid as a W&B sweep (needs `wandb login`), HEAD=gap|spp
	$(PYTHON) -m artist_cli.sweep --run $(RUN) --head $(HEAD) --preset $(PRESET) --wandb-config runs/$(RUN)/sweep_$(HEAD)_wandb.yaml
	.venv/bin/wandb sweep runs/$(RUN)/sweep_$(HEAD)_wandb.yaml

sync: $(STAMP) ## upload RUN's offline W&B logs (needs `wandb login`)
	.venv/bin/wandb sync runs/$(RUN)/stage*/wandb/offline-run-*

bench: $(STAMP) ## speed of the pipeline against the model alone: bench/results.json and results.md
	$(PYTHON) bench/run_bench.py $(ARGS)

sample: $(STAMP) ## rebuild data/sample from ../shared/data/best-artworks-128
	$(PYTHON) -m artist_cli.make_sample ../shared/data/best-artworks-128 data/sample

clean: ## delete runs/ and .cache/
	rm -rf runs .cache
