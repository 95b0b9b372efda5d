"""Hand-made word lists and pattern tests used by the offline annotator's rules.

Everything here is a closed, documented list (no downloads): English function
words by class, number words, mathematical terms and symbols, programming
vocabulary (Python keywords, builtins and standard-library names, names in
common standard modules, other languages' keywords, language names), English
affixes, and the regular expressions that recognise code-like and
abbreviation-like tokens. All lookups are on the lower-cased word unless said.
"""
from __future__ import annotations

import builtins
import functools
import keyword
import re
import sys

FUNCTION_WORDS: dict[str, frozenset[str]] = {
    "pronoun": frozenset(
        "i me my mine myself you your yours yourself yourselves he him his himself she "
        "her hers herself it its itself we us our ours ourselves they them their theirs "
        "themselves who whom whose which what whoever whatever someone somebody anyone "
        "anybody everyone everybody nobody something anything everything nothing".split()),
    "determiner": frozenset(
        "the a an this that these those each every either neither some any no all both "
        "few many much more most several such another other".split()),
    "preposition": frozenset(
        "of in on at by for with about against between into through during before after "
        "above below to from up down out off over under again across along among around "
        "behind beside besides beyond despite except inside near onto outside since "
        "toward towards upon via within without throughout per".split()),
    "conjunction": frozenset(
        "and or but nor so yet because although though unless whereas while if whether "
        "than once until when whenever where wherever".split()),
    "auxiliary": frozenset(
        "be am is are was were been being have has had having do does did doing will would "
        "shall should can could may might must ought".split()),
    "particle": frozenset("not n't 's to there here very too also just only even".split()),
}
ALL_FUNCTION_WORDS: frozenset[str] = frozenset().union(*FUNCTION_WORDS.values())

NUMBER_WORDS = frozenset(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy "
    "eighty ninety hundred thousand million billion trillion first second third fourth "
    "fifth sixth seventh eighth ninth tenth half quarter twice triple double dozen".split())

MATH_TERMS = frozenset(
    "sum difference product quotient plus minus times divided divide multiply multiplied "
    "equals equal equation equations inequality formula variable variables integer integers "
    "fraction fractions decimal decimals percent percentage ratio proportion average mean "
    "median mode probability statistics algebra geometry calculus arithmetic trigonometry "
    "derivative derivatives integral integrals limit matrix matrices vector vectors scalar "
    "polynomial exponent exponential logarithm log sqrt sin cos tan theorem proof lemma axiom "
    "angle angles triangle circle radius diameter perimeter area volume square cube root "
    "prime factor factors multiple numerator denominator digit digits number numbers "
    "coefficient function graph slope intercept parabola hypotenuse infinity pi sigma "
    "addition subtraction multiplication division modulo remainder calculate solve".split())

MATH_SYMBOLS = frozenset("+ - * / = ^ % < > ≤ ≥ ≠ ≈ ± × ÷ √ ∑ ∫ ∞ π ∂ ∆ θ α β λ".split())

MATH_DOMAINS = frozenset({"mathematics", "geometry", "arithmetic", "algebra", "calculus",
                          "statistics", "trigonometry", "numeration_system"})
CODING_DOMAINS = frozenset({"computer_science", "computing", "programming", "internet"})

PROGRAMMING_TERMS = frozenset(
    "python java javascript typescript c++ c# cuda php perl ruby rust golang kotlin scala "
    "haskell matlab sql html css xml json yaml bash powershell numpy pandas pytorch "
    "tensorflow django flask react nodejs npm pip git github docker api url http https "
    "var const let null nil void int float bool boolean char struct enum interface "
    "public private protected static final extends implements namespace typedef println "
    "printf scanf malloc sizeof cout cin endl std iostream foreach func fn "
    "args kwargs argv stdin stdout stderr localhost src dst cfg config init str dict "
    "len params param repo regex utf ascii href img onclick jsx tsx "
    "async await callback compiler runtime debug debugger".split())

CODE_PUNCT = re.compile(r"(\(\)|\{|\}|\[\]|=>|->|::|==|!=|&&|\|\||</|/>|#include|\+\+|\$\{)")
SNAKE = re.compile(r"^_*[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)+_*$|^__\w+__$")
CAMEL = re.compile(r"^[a-z]+[A-Z][A-Za-z0-9]*$|^[A-Z][a-z0-9]+[A-Z][A-Za-z0-9]*$")
DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+(\(\))?$")
FILE_EXT = re.compile(r"^\.[A-Za-z][A-Za-z0-9]{0,4}$")
URLISH = re.compile(r"^(https?://|www\.)|\.(com|org|net|io)$")

NUMERAL = re.compile(r"^[+-]?(\d+([.,]\d+)*|\d*\.\d+)(%|st|nd|rd|th|s)?$")
YEAR = re.compile(r"^(1[0-9]|20)\d\d$")

ABBREVIATION = re.compile(r"^([A-Za-z]\.){1,4}[A-Za-z]?$|^[A-Za-z]{1,3}\.$|^[A-Z]{2,5}s?$")

# Affixes checked by the morphology rule, longest first so that "-ation" wins over "-tion".
SUFFIXES: tuple[str, ...] = tuple(sorted(
    "ing ed ly tion sion ation ness ment able ible ful less ous ious ive ize ise ized "
    "ization er ers est ity al ial ism ist ists ship hood ence ance ency ancy ward wise "
    "like logy ology graphy phobia cide ic ical".split(), key=lambda s: (-len(s), s)))
PREFIXES: tuple[str, ...] = tuple(sorted(
    "un re dis in im il ir non pre post over under anti mis sub super inter intra trans "
    "multi semi auto micro macro mega bio geo tele counter de co ex out".split(),
    key=lambda s: (-len(s), s)))
MIN_STEM = 3  # a word shows an affix only if at least 3 letters remain without it


def _public(names) -> set[str]:
    return {n.lower() for n in names if not n.startswith("_")}


@functools.lru_cache(maxsize=1)
def code_vocabulary() -> frozenset[str]:
    """Lower-cased Python keywords, builtins, standard-library module names, the
    public names of a few common standard modules, and PROGRAMMING_TERMS."""
    import collections
    import itertools
    import json
    import os
    import pathlib
    import string
    import subprocess
    import typing

    names = set(keyword.kwlist) | set(getattr(keyword, "softkwlist", ()))
    names |= _public(dir(builtins)) | _public(sys.stdlib_module_names) | {"self", "cls"}
    for mod in (os, os.path, sys, re, json, collections, itertools, functools, typing,
                pathlib, subprocess, string):
        names |= _public(dir(mod))
    return frozenset(n.lower() for n in names) | PROGRAMMING_TERMS


def looks_like_code(word: str) -> bool:
    """True for tokens whose *form* is code: snake_case, camelCase, dotted names,
    file extensions, URLs, or code punctuation (``()``, ``=>``, ``::`` ...)."""
    if NUMERAL.match(word):
        return False
    return bool(CODE_PUNCT.search(word) or SNAKE.match(word) or CAMEL.match(word)
                or DOTTED.match(word) or FILE_EXT.match(word) or URLISH.search(word))


def function_word_class(word: str) -> str | None:
    """The FUNCTION_WORDS class of ``word`` (lower-cased), or None."""
    low = word.lower()
    for name, members in FUNCTION_WORDS.items():
        if low in members:
            return name
    return None


def shared_affix(word: str, affix: str, suffix: bool) -> bool:
    """Whether ``word`` carries ``affix`` and keeps >= MIN_STEM letters without it."""
    low = word.lower()
    if len(low) < len(affix) + MIN_STEM or not low.isalpha():
        return False
    return low.endswith(affix) if suffix else low.startswith(affix)
