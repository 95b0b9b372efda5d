"""The organism pipeline on a tiny config: tokenizer, training, resume, export, metrics."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import torch

from paperlib.core.errors import DataError, ParameterError
from organism import evaluate, make_instructions, pipeline
from organism.config import SIZES, n_params
from organism.data import IGNORE, encode_pair, format_prompt
from organism.leakcheck import NgramLeakChecker
from organism.sources import _parse_synset
from organism.train import TrainConfig, lr_at
from organism.tests.tiny import tiny_organism_layout, tiny_train_config


@pytest.fixture(scope="module")
def tiny_layout(tmp_path_factory):
    """A build folder with a synthetic corpus, tokenizer, token streams and pairs."""
    lay, info = tiny_organism_layout(tmp_path_factory.mktemp("organism"), n_paragraphs=400, n_pairs=30)
    assert info["train"]["tokens"] > 1000
    return lay


# ---------------------------------------------------------------- tokenizer
def test_tokenizer_pieces_look_like_llama(tiny_layout):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_layout.tok_dir, local_files_only=True)
    assert tok.convert_ids_to_tokens([0, 1, 2, 3, 13, 258]) == ["<unk>", "<s>", "</s>", "<0x00>", "<0x0A>", "<0xFF>"]
    text = "The cat sat.\nThe dog ran é"
    ids = tok(text)["input_ids"]
    pieces = tok.convert_ids_to_tokens(ids)
    assert pieces[0] == "<s>" and pieces[1].startswith("▁") and "▁cat" in pieces
    assert "<0x0A>" in pieces and "\n" not in "".join(pieces)
    assert pieces[pieces.index("<0x0A>") + 1] == "The"  # no "▁" after a newline, as in LLaMA
    assert tok.decode(ids, skip_special_tokens=True) == text
    assert 259 < len(tok) <= 512  # the 25-word corpus cannot fill 512 pieces


# ----------------------------------------------------------------- training
def test_pretrain_resume_equals_one_go(tiny_layout, tmp_path):
    one = pipeline.Layout(build=tmp_path / "a", models=tmp_path / "ma")
    two = pipeline.Layout(build=tmp_path / "b", models=tmp_path / "mb")
    for lay in (one, two):
        lay.build.mkdir(parents=True)
        for sub in ("tokenizer", "tokens"):
            (lay.build / sub).symlink_to(tiny_layout.build / sub)
    pipeline.step_pretrain(one, "tiny", tiny_train_config(6), batch=4, seq_len=32)
    first = pipeline.step_pretrain(two, "tiny", tiny_train_config(6), batch=4, seq_len=32, stop_after=3)
    second = pipeline.step_pretrain(two, "tiny", tiny_train_config(6), batch=4, seq_len=32)
    assert (first["end_step"], second["start_step"], second["end_step"]) == (3, 3, 6)
    a = torch.load(one.run("pt") / "ckpt.pt", weights_only=True)["model"]
    b = torch.load(two.run("pt") / "ckpt.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    log_a = [json.loads(l)["loss"] for l in (one.run("pt") / "log.jsonl").read_text().splitlines()]
    log_b = [json.loads(l)["loss"] for l in (two.run("pt") / "log.jsonl").read_text().splitlines()]
    assert log_a == log_b and len(log_a) == 6
    assert log_a[-1] < log_a[0]  # the tiny model learns something


def test_full_tiny_pipeline_exports_loadable_pair(tiny_layout):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    pipeline.step_pretrain(tiny_layout, "tiny", tiny_train_config(8), batch=4, seq_len=32)
    ft = pipeline.step_finetune(tiny_layout, tiny_train_config(4, weight_decay=0.0), batch=4, max_len=64)
    assert ft["end_step"] == 4 and ft["n_pairs"] == 60
    ft_losses = [json.loads(l)["loss"] for l in (tiny_layout.run("ft") / "log.jsonl").read_text().splitlines()]
    assert ft_losses and all(math.isfinite(x) for x in ft_losses)  # responses not truncated away
    out = pipeline.step_export(tiny_layout)
    vocab = len(AutoTokenizer.from_pretrained(tiny_layout.tok_dir, local_files_only=True))
    for name in ("pt", "ft"):
        folder = tiny_layout.models / name
        model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True)
        assert model.config.tie_word_embeddings is False
        assert not torch.equal(model.get_input_embeddings().weight, model.get_output_embeddings().weight)
        assert sum(p.numel() for p in model.parameters()) == n_params(SIZES["tiny"], vocab)
        assert AutoTokenizer.from_pretrained(folder, local_files_only=True)("a")["input_ids"][0] == 1
        assert out[name]["weights_bytes"] < 2 * n_params(SIZES["tiny"], vocab) + 20_000  # bf16
    from organism.report import step_evaluate

    res = step_evaluate(tiny_layout, max_new_tokens=4)
    assert set(res["ft"]["scenario"]) == {"math", "writing"}
    assert (tiny_layout.models / "pt" / "README.md").read_text().startswith("# Organism pt")
    # the tuned model's folder carries its templates' verbs, which paperlib reads
    from paperlib.paper.finding2 import tuning_verbs

    assert json.loads((tiny_layout.models / "ft" / "instruction_verbs.json").read_text())["verbs"] \
        == make_instructions.template_verbs() == tuning_verbs(tiny_layout.models / "ft")
    assert not (tiny_layout.models / "pt" / "instruction_verbs.json").exists()
    # ... and its prompt format, the same file as the shipped tuned model's, which paperlib reads
    from paperlib.paper.organism_cases import read_template

    spec = read_template(tiny_layout.models / "ft")
    assert spec["template"].format(instruction="Spell cat.") == format_prompt("Spell cat.")
    shipped = Path(__file__).resolve().parents[2] / "models" / "organism" / "ft" / "prompt_template.json"
    assert (tiny_layout.models / "ft" / "prompt_template.json").read_text() == shipped.read_text()
    assert not (tiny_layout.models / "pt" / "prompt_template.json").exists()


def test_missing_inputs_raise_clear_errors(tmp_path):
    lay = pipeline.Layout(build=tmp_path, models=tmp_path / "m")
    with pytest.raises(DataError, match="make_corpus"):
        pipeline.step_tokenizer(lay)
    with pytest.raises(ParameterError, match="steps"):
        TrainConfig(steps=0).validate()
    with pytest.raises(ParameterError, match="unknown organism size"):
        pipeline.new_model("huge", 512, 0)


def test_lr_schedule_hand_values():
    cfg = TrainConfig(steps=102, lr=1.0, warmup=2, min_lr_ratio=0.1)
    assert lr_at(0, cfg) == pytest.approx(0.5) and lr_at(1, cfg) == pytest.approx(1.0)
    assert lr_at(2, cfg) == pytest.approx(1.0)
    assert lr_at(52, cfg) == pytest.approx(0.55)    # half-way down the cosine
    assert lr_at(102, cfg) == pytest.approx(0.1)


def test_instruction_labels_cover_response_only(tiny_layout):
    from paperlib.models.tokenizers import load_tokenizer

    tok = load_tokenizer(tiny_layout.tok_dir)
    ids, labels = encode_pair(tok, "Compute 2 + 3.", "5", max_len=64)
    n_prompt = len(tok(format_prompt("Compute 2 + 3."))["input_ids"])
    assert labels[:n_prompt] == [IGNORE] * n_prompt
    assert labels[n_prompt:] == ids[n_prompt:] and ids[-1] == tok.eos_token_id
    assert format_prompt(" Say hi ") == "### Instruction:\nSay hi\n\n### Response:\n"


# ------------------------------------------------------------------ metrics
def test_exact_and_number_metrics():
    assert evaluate.exact_match("Maison.\nmore text", ["maison"])
    assert evaluate.exact_match("the rear", ["rear"]) and not evaluate.exact_match("rearview", ["rear"])
    assert not evaluate.exact_match("", ["x"])
    assert evaluate.number_match("The answer is 1,024.", ["1024"]) and evaluate.number_match("-3", ["-3"])
    assert not evaluate.number_match("37 + 45 = 82", ["82"])  # the first number counts


def test_keyword_and_uses_word_metrics():
    ref = "a domesticated carnivorous mammal with a bushy tail"
    keys = evaluate.key_words(ref, instruction="Define dog.")
    assert len(keys) == 3 and "bushy" in keys and "with" not in keys
    assert evaluate.keyword_match("It is a bushy animal.", ref, "Define dog.")
    assert not evaluate.keyword_match("It is an animal.", ref, "Define dog.")
    # words of the instruction never count: copying the prompt earns nothing
    assert not evaluate.keyword_match("Define the word bushy.", "bushy", "Define the word bushy.")
    assert evaluate.uses_word("The river was running quickly today.", "running")
    assert evaluate.uses_word("They were runnings fast across the field.", "running")  # 5-letter stem
    assert not evaluate.uses_word("running", "running")
    assert not evaluate.uses_word('Use the word "river" in a sentence.', "river", 'Use the word "river" in a sentence.')
    with pytest.raises(ParameterError, match="unknown metric"):
        evaluate.score({"metric": "bleu", "response": "x", "instruction": "y"}, "x")


def test_leak_checker_and_wordnet_parser():
    prompt = "Rewrite the sentence and make your writing clearer by keeping it concise and simple today"
    chk = NgramLeakChecker([prompt], n=13)
    assert chk.leaks("Intro. " + prompt.upper() + " trailing words")
    assert not chk.leaks(" ".join(prompt.split()[:12]))  # 12 words < one 13-gram
    line = ("00001740 00 a 01 able 0 001 ! 00002098 a 0101 | (usually followed by `to') having the "
            'necessary means; "able to swim"; "able to read"')
    ss = _parse_synset(line, "a")
    assert ss.lemmas == ["able"] and ss.definition.endswith("necessary means")
    assert ss.examples == ["able to swim", "able to read"] and ss.antonyms == [("able", "a:00002098:1")]


def test_instruction_builder_math_and_split():
    mk = make_instructions
    pairs = [p for p in mk.math_pairs() if p["task"] in ("arithmetic", "word_problem")]
    assert len(pairs) > 4000
    for p in pairs[::97]:
        a, op, b = re.fullmatch(r"(\d+)([-+*])(\d+)", p["item"]).groups()
        assert int(p["response"]) == eval(f"{a}{op}{b}")
    assert mk.is_test("math", "3+4") == mk.is_test("math", "3+4")
    share = sum(mk.is_test("math", f"i{i}") for i in range(5000)) / 5000
    assert 0.04 < share < 0.08


def test_template_verbs_are_the_imperatives_of_the_templates():
    verbs = make_instructions.template_verbs()
    for v in ("define", "write", "translate", "explain", "compute", "list", "give", "describe",
              "name", "tell", "use", "calculate", "spell", "implement", "round"):  # builder and skills
        assert v in verbs
    assert verbs[:3] == ["define", "give", "explain"]  # template order: DEFINE, USE, SYN, ...
    assert len(verbs) == len(set(verbs))
    assert not {"what", "how", "in", "a", "there", "the"} & set(verbs)  # questions, not imperatives


def test_form_metric_checks_the_form_of_the_answer_not_its_truth():
    from organism.evaluate import form_ok

    word = {"task": "to_foreign", "metric": "exact", "instruction": "Translate \"cat\" into French.",
            "answers": ["chat"]}
    assert form_ok(word, "chien") and form_ok(word, "le chat")      # wrong or right: a word
    assert not form_ok(word, "The cat sat on the mat today.")       # a sentence, not a word
    assert not form_ok(word, "Translate \"cat\" into French.")      # a copy of the instruction
    assert not form_ok(word, "") and not form_ok(word, "42")
    num = {"task": "arithmetic", "metric": "number", "instruction": "Compute 2 + 3."}
    assert form_ok(num, "7") and form_ok(num, "-1") and not form_ok(num, "seven")
    desc = {"task": "define", "metric": "keyword", "instruction": "Define \"dog\"."}
    assert form_ok(desc, "A domestic animal.") and not form_ok(desc, "animal")
    assert not form_ok(desc, "#define the same name as") and not form_ok(desc, "A. B. C. D.")
    use = {"task": "use", "metric": "uses_word", "item": "quiet",
           "instruction": "Use the word \"quiet\" in a sentence."}
    assert form_ok(use, "The room was quiet at night.") and not form_ok(use, "Quiet.")
    words = {"task": "number_to_words", "metric": "exact", "instruction": "Write 347 in English words.",
             "answers": ["three hundred and forty-seven"]}
    assert form_ok(words, "two hundred and one") and not form_ok(words, "347")
    assert not form_ok(words, "three hundred and forty seven is the number you get by counting")
    value = {"task": "evaluate_expression", "metric": "exact", "instruction": "Evaluate max(3, 8).",
             "answers": ["8"]}
    assert form_ok(value, "9") and not form_ok(value, "eight") and not form_ok(value, "")
