"""The offline annotator's rules: each finds the words of a list that support one
candidate concept (a "hit"). :mod:`paperlib.annotate.offline` picks among hits.

Every rule returns at most one :class:`RuleHit` (its best candidate) with the
supporting words, so a label can always be traced to a rule and its words.
Rules (family -> level, task):

- ``coding``: Python keywords/builtins/standard-library names, names in common
  standard modules, other languages' keywords, language names, code-shaped
  tokens (snake_case, camelCase, dotted, ``()``/``=>``...), WordNet topic
  domain computer science -> semantic, coding. Gate: >= 2 "strong" words
  (code-shaped, or neither in WordNet nor a common English word), so plain
  English words that happen to be builtins (``list``, ``open``) never suffice.
- ``math``: numerals, number words, mathematical terms and symbols, WordNet
  topic domain mathematics -> semantic, math ("years" when they are years:
  no task).
- ``foreign``: words of another language (:func:`resources.foreign_language`)
  -> semantic, translation.
- ``abbreviation``: ``e.g.``-, ``Dr.``-, ``NASA``-like tokens -> morphology.
- ``function``: closed-class English words -> syntax.
- ``affix``: a shared English suffix/prefix -> morphology.
- ``rhyme``: a shared CMUdict rhyming part -> phonology.
- ``lexname``: a shared WordNet lexicographer file (first 2 senses) -> semantic.
- ``domain``: a shared WordNet topic domain (first 3 senses) -> semantic.
- ``pos``: one part of speech (verb/adjective/adverb only, lemminflect) ->
  syntax. Nouns are left to the semantic rules: nearly every semantic field
  is a list of nouns.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from paperlib.annotate import lexicon as lx
from paperlib.annotate import resources as rs

SYNSET_DEPTH = 2       # senses per word seen by the lexname rule
DOMAIN_DEPTH = 3       # senses per word seen by the topic-domain rule
MIN_STRONG_CODE = 2    # coding gate
SUBTYPE_SHARE = 0.6    # a sub-type names the concept when it covers 60% of the support
POS_LIKE_LEXNAMES = frozenset({"adj.all", "adj.pert", "adj.ppl", "adv.all", "noun.Tops"})
LEXNAME_CONCEPTS = {
    "noun.act": "acts and actions", "noun.animal": "animals", "noun.artifact":
    "man-made objects", "noun.attribute": "attributes and qualities", "noun.body":
    "body parts", "noun.cognition": "knowledge and cognition", "noun.communication":
    "communication and language", "noun.event": "events", "noun.feeling":
    "feelings and emotions", "noun.food": "food and drink", "noun.group":
    "groups and organisations", "noun.location": "places and locations", "noun.motive":
    "goals and motives", "noun.object": "natural objects", "noun.person":
    "people and roles", "noun.phenomenon": "natural phenomena", "noun.plant": "plants",
    "noun.possession": "possessions and money", "noun.process": "natural processes",
    "noun.quantity": "quantities and units", "noun.relation": "relations",
    "noun.shape": "shapes", "noun.state": "states and conditions", "noun.substance":
    "substances and materials", "noun.time": "time and dates", "verb.body":
    "bodily care", "verb.change": "change", "verb.cognition": "thinking and judging",
    "verb.communication": "telling and asking", "verb.competition":
    "fighting and sports", "verb.consumption": "eating and drinking", "verb.contact":
    "touching and hitting", "verb.creation": "making and creating", "verb.emotion":
    "feeling", "verb.motion": "movement", "verb.perception": "perception",
    "verb.possession": "buying, selling and owning", "verb.social":
    "social and political activity", "verb.stative": "being and having",
    "verb.weather": "weather"}
LANGUAGE_NAMES = frozenset("python java javascript typescript c c++ c# cuda php perl ruby "
                           "rust go golang kotlin scala haskell matlab sql html css bash "
                           "swift fortran lua r julia dart".split())
FUNCTION_CONCEPTS = {"pronoun": "pronouns", "determiner": "determiners",
                     "preposition": "prepositions", "conjunction": "conjunctions",
                     "auxiliary": "auxiliary and modal verbs", "particle": "particles"}
POS_NAMES = {"VERB": "verbs", "ADJ": "adjectives", "ADV": "adverbs"}


@dataclass(frozen=True)
class RuleHit:
    """One rule's best candidate: its words ``support`` among ``n`` words."""

    family: str
    concept: str
    level: str
    task: str | None
    rule: str
    support: tuple[str, ...]
    n: int
    gate: str = ""  # non-empty: why the hit may not be used despite its support

    @property
    def fraction(self) -> float:
        return len(self.support) / self.n

    def describe(self) -> str:
        words = ", ".join(self.support)
        note = f" [blocked: {self.gate}]" if self.gate else ""
        return (f"{self.family} rule: {self.rule}; {len(self.support)}/{self.n} words "
                f"({100 * self.fraction:.0f}%): {words}{note}")


def _hit(family, concept, level, task, rule, support, n, gate=""):
    return RuleHit(family, concept, level, task, rule, tuple(support), n, gate) if support else None


def _domains(word: str, depth: int = DOMAIN_DEPTH) -> set[str]:
    out = set()
    for s in rs.synsets(word, depth):
        out |= {d.name().split(".")[0] for d in s.topic_domains()}
    return out


def coding_rule(words: list[str]) -> RuleHit | None:
    vocab = lx.code_vocabulary()
    support, strong = [], []
    for w in words:
        low = w.lower()
        shaped = lx.looks_like_code(w)
        if shaped or low in vocab or _domains(w) & lx.CODING_DOMAINS:
            support.append(w)
            english = rs.in_wordnet(low) or rs.zipf(low) >= rs.COMMON_ENGLISH_ZIPF
            if shaped or not (english or low in lx.ALL_FUNCTION_WORDS):
                strong.append(w)
    langs = [w for w in support if w.lower() in LANGUAGE_NAMES]
    concept = ("programming languages" if len(langs) >= SUBTYPE_SHARE * max(len(support), 1)
               else "programming keywords and identifiers")
    gate = "" if len(strong) >= MIN_STRONG_CODE else (
        f"only {len(strong)} code-specific word(s), {MIN_STRONG_CODE} needed")
    return _hit("coding", concept, "semantic", "coding",
                "Python keywords, builtins, standard-library names, code-shaped tokens",
                support, len(words), gate)


def math_rule(words: list[str]) -> RuleHit | None:
    support, numerals = [], []
    terms = lx.NUMBER_WORDS | lx.MATH_TERMS | lx.MATH_SYMBOLS
    for w in words:
        low = w.lower()
        if lx.NUMERAL.match(low):
            support.append(w)
            numerals.append(w)
        elif low in terms or _domains(w) & lx.MATH_DOMAINS:
            support.append(w)
    if not support:
        return None
    years = [w for w in numerals if lx.YEAR.match(w)]
    if len(years) >= SUBTYPE_SHARE * len(support):
        return _hit("math", "years", "semantic", None, "four-digit years 1000-2099",
                    support, len(words))
    concept = ("numbers" if len(numerals) >= SUBTYPE_SHARE * len(support)
               else "numbers and mathematical terms")
    return _hit("math", concept, "semantic", "math",
                "numerals, number words, math terms/symbols, WordNet domain mathematics",
                support, len(words))


def foreign_rule(words: list[str]) -> RuleHit | None:
    found = {w: rs.foreign_language(w) for w in words}
    support = [w for w in words if found[w] is not None]
    if not support:
        return None
    langs = Counter(found[w][0] for w in support)
    lang, count = min(langs.items(), key=lambda kv: (-kv[1], kv[0]))
    concept = (f"{lang} words" if count >= SUBTYPE_SHARE * len(support)
               else "non-English words")
    reasons = "; ".join(f"{w}: {found[w][1]}" for w in support[:3])
    return _hit("foreign", concept, "semantic", "translation",
                f"words much more frequent in another language (wordfreq) or in a "
                f"non-Latin script, e.g. {reasons}", support, len(words))


def abbreviation_rule(words: list[str]) -> RuleHit | None:
    support = [w for w in words if lx.ABBREVIATION.match(w)]
    return _hit("abbreviation", "abbreviations and acronyms", "morphology", None,
                "tokens shaped like abbreviations (A., e.g., NASA)", support, len(words))


def function_rule(words: list[str]) -> RuleHit | None:
    classes = {w: lx.function_word_class(w) for w in words}
    support = [w for w in words if classes[w] is not None]
    if not support:
        return None
    name, count = min(Counter(classes[w] for w in support).items(),
                      key=lambda kv: (-kv[1], kv[0]))
    concept = (FUNCTION_CONCEPTS[name] if count >= SUBTYPE_SHARE * len(support)
               else "function words")
    return _hit("function", concept, "syntax", None,
                "closed-class English function words", support, len(words))


def affix_rule(words: list[str]) -> RuleHit | None:
    best = None
    for affixes, suffix in ((lx.SUFFIXES, True), (lx.PREFIXES, False)):
        for affix in affixes:
            support = [w for w in words if lx.shared_affix(w, affix, suffix)]
            if support and (best is None or len(support) > len(best[2])):
                best = (affix, suffix, support)
    if best is None:
        return None
    affix, suffix, support = best
    concept = f"words ending in -{affix}" if suffix else f"words beginning with {affix}-"
    where = "suffix" if suffix else "prefix"
    return _hit("affix", concept, "morphology", None,
                f"shared English {where} '{affix}' (>= {lx.MIN_STEM} letters left)",
                support, len(words))


def _common_ending(words: list[str]) -> str:
    lows = [w.lower()[::-1] for w in words]
    n = 0
    while all(len(w) > n for w in lows) and len({w[n] for w in lows}) == 1:
        n += 1
    return lows[0][:n][::-1]


def rhyme_rule(words: list[str]) -> RuleHit | None:
    groups: dict[str, list[str]] = {}
    for w in words:
        for part in rs.rhyming_parts(w):
            groups.setdefault(part, []).append(w)
    if not groups:
        return None
    part, support = min(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    ending = _common_ending(support)
    concept = f"words rhyming in -{ending}" if ending else "rhyming words"
    return _hit("rhyme", concept, "phonology", None,
                f"shared CMUdict rhyming part /{part}/", support, len(words))


def lexname_rule(words: list[str]) -> RuleHit | None:
    owners: dict[str, list[str]] = {}
    for w in words:
        names = {s.lexname() for s in rs.synsets(w, SYNSET_DEPTH)} - POS_LIKE_LEXNAMES
        for name in sorted(names):
            owners.setdefault(name, []).append(w)
    if not owners:
        return None
    name, support = min(owners.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return _hit("lexname", LEXNAME_CONCEPTS.get(name, name), "semantic", None,
                f"WordNet lexicographer file '{name}' (first {SYNSET_DEPTH} senses)",
                support, len(words))


def domain_rule(words: list[str]) -> RuleHit | None:
    owners: dict[str, list[str]] = {}
    for w in words:
        for name in sorted(_domains(w)):
            owners.setdefault(name, []).append(w)
    if not owners:
        return None
    name, support = min(owners.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    label = name.replace("_", " ")
    return _hit("domain", f"terms of {label}", "semantic", None,
                f"WordNet topic domain '{label}' (first {DOMAIN_DEPTH} senses)",
                support, len(words))


def pos_rule(words: list[str]) -> RuleHit | None:
    import lemminflect

    owners: dict[str, list[str]] = {p: [] for p in POS_NAMES}
    inflected: dict[str, list[str]] = {p: [] for p in POS_NAMES}
    for w in words:
        low = w.lower()
        if lx.function_word_class(low):
            continue
        lemmas = lemminflect.getAllLemmas(low)
        for pos in POS_NAMES:
            if pos not in lemmas:
                continue
            is_inflected = any(lemma != low for lemma in lemmas[pos])
            if set(lemmas) == {pos} or is_inflected:
                owners[pos].append(w)
                if is_inflected:
                    inflected[pos].append(w)
    pos = min(POS_NAMES, key=lambda p: (-len(owners[p]), p))
    support = owners[pos]
    concept = POS_NAMES[pos]
    if support and len(inflected[pos]) >= 0.4 * len(support):
        concept += " in inflected forms"
    return _hit("pos", concept, "syntax", None,
                f"one part of speech ({POS_NAMES[pos]}, lemminflect; only that POS or an "
                f"inflected form of it)", support, len(words))


# Order = tie-break priority when two hits have the same support.
RULES = (coding_rule, math_rule, foreign_rule, abbreviation_rule, function_rule,
         affix_rule, rhyme_rule, lexname_rule, domain_rule, pos_rule)
