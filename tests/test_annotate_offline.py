"""OfflineAnnotator on hand-made word lists (needs Debian wordnet-base + wordnet-sense-index)."""
import pytest

from paperlib.annotate import CANNOT_TELL, LEVELS, TASKS, Annotation, OfflineAnnotator
from paperlib.annotate import resources
from paperlib.core.errors import DataError, ParameterError

LISTS = {
    "python": ["def", "import", "self", "return", "lambda", "elif", "isinstance", "enumerate",
               "kwargs", "__init__", "len", "numpy", "str", "dict", "async"],
    "rhyme": ["cat", "hat", "bat", "mat", "rat", "sat", "flat", "chat", "pat", "vat"],
    "french": ["maison", "chien", "pomme", "fromage", "voiture", "fenêtre", "livre",
               "soleil", "fleur", "château"],
    "math": ["1", "2", "3", "plus", "minus", "equation", "integral", "derivative", "matrix",
             "sum", "42", "7"],
    "suffix": ["happiness", "kindness", "darkness", "sadness", "weakness", "illness",
               "fitness", "goodness"],
    "function": ["the", "of", "and", "in", "to", "with", "for", "from", "by", "at", "on", "but"],
    "verbs": ["went", "running", "eaten", "jumped", "writes", "thought", "sang", "taken",
              "buying", "swam"],
    "animals": ["cat", "dog", "horse", "cow", "sheep", "lion", "tiger", "elephant", "monkey",
                "rabbit", "wolf", "deer"],
    "junk": ["xqz", "blorf", "vtrk", "qqpl", "zzyx", "mmrg", "frb", "krrt", "wexq", "pllk"],
}


@pytest.fixture(scope="module")
def annotator():
    return OfflineAnnotator()


@pytest.fixture(scope="module")
def results(annotator):
    return {name: annotator.annotate(words) for name, words in LISTS.items()}


@pytest.mark.parametrize("name,family,tasks,level", [
    ("python", "coding", {"coding"}, "semantic"),
    ("rhyme", "rhyme", {"writing"}, "phonology"),
    ("french", "foreign", {"translation"}, "semantic"),
    ("math", "math", {"math"}, "semantic"),
    ("suffix", "affix", {"writing"}, "morphology"),
    ("function", "function", {"writing"}, "syntax"),
    ("verbs", "pos", {"writing"}, "syntax"),
    ("animals", "lexname", {"writing"}, "semantic"),
])
def test_labels(results, name, family, tasks, level):
    ann = results[name]
    assert ann.describable and ann.concept != CANNOT_TELL
    assert ann.evidence["concept"].startswith(f"{family} rule")
    assert ann.tasks == frozenset(tasks)
    assert ann.level == level


def test_concept_texts(results):
    assert results["french"].concept == "French words"
    assert results["rhyme"].concept == "words rhyming in -at"
    assert results["suffix"].concept == "words ending in -ness"
    assert results["animals"].concept == "animals"
    assert "noun.animal" in results["animals"].evidence["concept"]
    assert results["function"].concept == "prepositions"


def test_junk_is_cannot_tell(results):
    ann = results["junk"]
    assert ann.concept == CANNOT_TELL and not ann.describable
    assert ann.tasks == frozenset() and ann.level is None
    assert ann.evidence["concept"].startswith("Cannot Tell")


def test_evidence_for_every_label(results):
    for ann in results.values():
        labels = {"concept"} | {f"task:{t}" for t in ann.tasks}
        if ann.level is not None:
            labels.add(f"level:{ann.level}")
        assert set(ann.evidence) == labels
        assert all(text.strip() for text in ann.evidence.values())
        assert ann.tasks <= set(TASKS) and ann.level in (*LEVELS, None)


def test_evidence_names_supporting_words(results):
    text = results["rhyme"].evidence["level:phonology"]
    assert "10/10 words" in text and "cat, hat" in text


def test_coding_needs_code_specific_words(annotator):
    plain = ["list", "open", "print", "type", "set", "map", "range", "input", "format", "round"]
    ann = annotator.annotate(plain)
    assert "coding" not in ann.tasks
    hits = {h.family: h for h in annotator.hits(plain)}
    assert hits["coding"].gate and hits["coding"].fraction == 1.0


def test_threshold_is_applied(annotator):
    # 3 animals of 10 words (30%) is below 40%; 4 of 10 is at it.
    filler = ["xqz", "blorf", "vtrk", "qqpl", "zzyx", "mmrg", "frb"]
    assert not annotator.annotate(["cat", "dog", "horse"] + filler).describable
    ann = annotator.annotate(["cat", "dog", "horse", "cow"] + filler[:6])
    assert ann.describable and ann.concept == "animals"


def test_deterministic_across_seeds_and_calls(annotator):
    words = LISTS["animals"]
    runs = annotator.annotate_many([words, LISTS["junk"]], seeds=range(5), progress=False)
    assert [a.seed for a in runs[0]] == [0, 1, 2, 3, 4]
    first = runs[0][0]
    assert all(a.labels == first.labels and a.evidence == first.evidence for a in runs[0])
    assert all(not a.describable for a in runs[1])
    assert OfflineAnnotator().annotate(words, seed=3) == runs[0][3]


def test_sentencepiece_markers_and_roundtrip(annotator):
    ann = annotator.annotate(["▁" + w for w in LISTS["animals"]], seed=2)
    assert ann.concept == "animals"
    assert Annotation.from_dict(ann.to_dict()) == ann


@pytest.mark.parametrize("bad", ["cat dog", [], ["", "  "], [1, 2], ["a"] * 201])
def test_bad_words(annotator, bad):
    with pytest.raises(ParameterError):
        annotator.annotate(bad)


def test_bad_parameters(annotator):
    with pytest.raises(ParameterError):
        annotator.annotate(["cat"], seed=-1)
    with pytest.raises(ParameterError):
        OfflineAnnotator(min_support=1.5)


def test_ensure_wordnet_builds_folder(tmp_path):
    root = resources.ensure_wordnet(tmp_path)
    lexnames = (root / "corpora" / "wordnet" / "lexnames").read_text().splitlines()
    assert lexnames[5] == "05\tnoun.animal\t1" and len(lexnames) == 45
    assert resources.ensure_wordnet(tmp_path) == root  # second call: nothing to do


def test_ensure_wordnet_missing_source(tmp_path):
    with pytest.raises(DataError, match="apt-get install wordnet-base wordnet-sense-index"):
        resources.ensure_wordnet(tmp_path / "cache", source=tmp_path / "nowhere")
