# Model organism (issue 4): rebuild corpus, instructions, tokenizer and both models.
# Include from the main Makefile:  include mk/organism.mk
# Needs the Debian packages listed in data/organism/README.md (make organism-apt, as root).
ORGANISM_PY ?= .venv/bin/python
ORGANISM_BUILD := data/organism/build
ORGANISM_APT := dict-gcide wordnet-base python3.11-doc perl-doc manpages manpages-dev \
	sword-text-web libsword-utils dict-foldoc dict-jargon fortunes \
	dict-freedict-eng-fra dict-freedict-eng-spa dict-freedict-eng-deu groff-base man-db bsdextrautils

.PHONY: organism organism-apt organism-data organism-train organism-test

organism-apt:
	apt-get install -y --no-install-recommends $(ORGANISM_APT)

$(ORGANISM_BUILD)/corpus/train.txt:
	$(ORGANISM_PY) data/organism/make_corpus.py

$(ORGANISM_BUILD)/instructions/train.jsonl:
	$(ORGANISM_PY) data/organism/make_instructions.py

organism-data: $(ORGANISM_BUILD)/corpus/train.txt $(ORGANISM_BUILD)/instructions/train.jsonl

# Resumable: re-running continues from data/organism/build/runs/{pt,ft}/ckpt.pt
organism-train: organism-data
	$(ORGANISM_PY) scripts/train_organism.py all --threads 2 --compile

organism: organism-train

organism-test:
	$(ORGANISM_PY) -m pytest -q tests/test_organism_pipeline.py
