# Artist trainer. Variables: DATA (data folder or CSV), RUN (run name), PRESET (configs/presets/*.yaml),
# FORCE=1 (rerun a finished stage),
# ARGS (extra LightningCLI overrides), CKPT / OUT / INPUT / SIZES / FLIPS / VIEWS / SPLIT for evaluate, predict, export.
DATA   ?= data/sample
RUN    ?= default
PRESET ?= default
ARGS   ?=
PYTHON := .venv/bin/python
STAMP  := .venv/.installed

comma := ,
# PRESET may combine presets, applied in order: PRESET=default,top10
TRAIN = $(PYTHON) -m artist_cli.train fit --config configs/base.yaml \
        $(foreach p,$(subst $(comma), ,$(PRESET)),--config configs/presets/$(p).yaml)

.PHONY: sweep bench install test stage1 stage2 stage3 train evaluate predict export sync sample clean

install: $(STAMP)

# torch and torchvision first, pinned: they come from this machine's disk, a bare `torch`
# would pull a multi-GB build from the index.
$(STAMP): pyproject.toml
	test -x $(PYTHON) || python3 -m venv .venv
	$(PYTHON) -m pip install -q --upgrade pip
	$(PYTHON) -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(PYTHON) -m pip install -q -e ".[dev]"
	touch $(STAMP)

test: $(STAMP)
	$(PYTHON) -m pytest -q

stage1 stage2 stage3: $(STAMP)
	$(TRAIN) --config configs/$@.yaml --run $(RUN) --data.root $(DATA) $(if $(FORCE),--force=true) $(ARGS)

train: stage1 stage2 stage3

evaluate: $(STAMP)
	@test -n "$(CKPT)" || (echo "usage: make evaluate CKPT=runs/<run>/<stage>/best.ckpt [DATA=folder | SPLIT=runs/<run>/split.csv] [FLIPS=1 | VIEWS=plain,hflip,x1.25] [OUT=file.json]" && exit 2)
	$(PYTHON) -m artist_cli.evaluate --ckpt $(CKPT) $(if $(SPLIT),--split $(SPLIT),--data $(DATA)) $(if $(FLIPS),--flips) $(if $(VIEWS),--views $(VIEWS)) $(if $(OUT),--out $(OUT))

predict: $(STAMP)
	@test -n "$(CKPT)" -a -n "$(INPUT)" || (echo "usage: make predict CKPT=... INPUT=image-or-folder [SIZES=224,260,296] [FLIPS=1 | VIEWS=plain,hflip,x1.25] [OUT=preds.csv]" && exit 2)
	$(PYTHON) -m artist_cli.predict --ckpt $(CKPT) --input $(INPUT) $(if $(SIZES),--sizes $(SIZES)) $(if $(FLIPS),--flips) $(if $(VIEWS),--views $(VIEWS)) $(if $(OUT),--out $(OUT))

export: $(STAMP)
	@test -n "$(CKPT)" || (echo "usage: make export CKPT=... [OUT=path/without/suffix] [DATA=folder for the check]" && exit 2)
	$(PYTHON) -m artist_cli.export --ckpt $(CKPT) --data $(DATA) $(if $(OUT),--out $(OUT))

# Upload a run's offline W&B logs (needs `wandb login` first).
sync: $(STAMP)
	.venv/bin/wandb sync runs/$(RUN)/stage*/wandb/offline-run-*

# Head search on a run's stage-1 weights (feature cache: no W&B account needed). HEAD=gap|spp
HEAD ?= gap
sweep: $(STAMP)
	$(PYTHON) -m artist_cli.sweep --run $(RUN) --head $(HEAD) $(ARGS)

# Speed of the pipeline against the model alone; writes bench/results.json and bench/results.md.
bench: $(STAMP)
	$(PYTHON) bench/run_bench.py $(ARGS)

sample: $(STAMP)
	$(PYTHON) -m artist_cli.make_sample ../shared/data/best-artworks-128 data/sample

clean:
	rm -rf runs .cache
