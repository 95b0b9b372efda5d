# Model organism (issue 4): rebuild corpus, instructions, tokenizer and both models.
# Included by the main Makefile (include organism/organism.mk).
#
#   make organism-apt    install the Debian packages the data come from (as root;
#                        listed in data/organism/README.md)
#   make organism        rebuild the pair: corpus, instruction pairs, tokenizer,
#                        pre-training, tuning, export to models/organism/{pt,ft},
#                        held-out evaluation (resumable; hours on 2 cores)
#   make organism-test   the organism's own tests (organism/tests)
#   make -j2 organism-controls
#                        the two control models of Findings 2-3 (organism/controls.py):
#                        continued pre-training (cpt) and a second tuning seed (ft_seed1),
#                        both from the shipped models/organism/pt; train (resumable from
#                        data/organism/build/runs/<name>/ckpt.pt), export to
#                        models/organism/<name>/, held-out evaluation and model card.
#                        One thread each at nice 19 (ORGANISM_NICE); -j2 runs both at once.
#
# Everything runs from the repository root as python -m organism...; build
# outputs go to the git-ignored data/organism/build/.
ORGANISM_PY ?= .venv/bin/python
ORGANISM_BUILD := data/organism/build
ORGANISM_APT := dict-gcide wordnet-base python3.11-doc perl-doc manpages manpages-dev \
	sword-text-web libsword-utils dict-foldoc dict-jargon fortunes \
	dict-freedict-eng-fra dict-freedict-eng-spa dict-freedict-eng-deu groff-base man-db bsdextrautils

.PHONY: organism organism-apt organism-data organism-train organism-test organism-controls

organism-apt:
	apt-get install -y --no-install-recommends $(ORGANISM_APT)

# (| venv: the main Makefile's virtual environment, made once; never a reason to rebuild)
$(ORGANISM_BUILD)/corpus/train.txt: | venv
	$(ORGANISM_PY) -m organism.make_corpus

$(ORGANISM_BUILD)/instructions/train.jsonl: | venv
	$(ORGANISM_PY) -m organism.make_instructions

organism-data: $(ORGANISM_BUILD)/corpus/train.txt $(ORGANISM_BUILD)/instructions/train.jsonl

# Resumable: re-running continues from data/organism/build/runs/{pt,ft}/ckpt.pt
organism-train: organism-data
	$(ORGANISM_PY) -m organism all --threads 2 --compile

organism: organism-train

organism-test: venv
	$(ORGANISM_PY) -m pytest -q organism/tests

ORGANISM_CONTROLS := cpt ft_seed1
ORGANISM_NICE ?= nice -n 19
ORGANISM_CONTROL_TARGETS := $(addprefix organism-control-,$(ORGANISM_CONTROLS))
.PHONY: $(ORGANISM_CONTROL_TARGETS)

organism-controls: $(ORGANISM_CONTROL_TARGETS)

# train resumes from runs/<name>/ckpt.pt (a finished run returns at once); export refuses an unfinished run
$(ORGANISM_CONTROL_TARGETS): organism-control-%: organism-data
	$(ORGANISM_NICE) $(ORGANISM_PY) -m organism.controls train $* --threads 1
	$(ORGANISM_PY) -m organism.controls export $* --threads 1
	$(ORGANISM_NICE) $(ORGANISM_PY) -m organism.controls evaluate $* --threads 1
