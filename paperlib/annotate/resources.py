"""Packaged lexical resources of the offline annotator: WordNet, wordfreq, CMUdict.

WordNet 3.0 comes from Debian's ``wordnet-base`` (data/index/exception files)
and ``wordnet-sense-index`` (``index.sense``) packages under /usr/share/wordnet.
nltk's WordNet reader needs them in an NLTK_DATA tree with a ``lexnames`` file,
which Debian does not ship: :func:`ensure_wordnet` copies the files once into
``<paperlib cache>/nltk_data/corpora/wordnet`` (atomically: built in a
temporary folder, then renamed) and writes ``lexnames`` from the table below
(WordNet's lexnames(5WN)). ``nltk.download`` is never called.

Frequencies are wordfreq's Zipf values (log10 of occurrences per billion
words; 3 = once per million words). Pronunciations are CMUdict via
``pronouncing``.
"""
from __future__ import annotations

import functools
import os
import shutil
import tempfile
import unicodedata
import warnings
from pathlib import Path

from paperlib.core.errors import DataError
from paperlib.core.paths import cache_dir as default_cache_dir

WORDNET_SOURCE = Path("/usr/share/wordnet")
WORDNET_FILES = tuple(f"{kind}.{pos}" for kind in ("data", "index") for pos in
                      ("noun", "verb", "adj", "adv")) + (
    "noun.exc", "verb.exc", "adj.exc", "adv.exc", "index.sense", "cntlist.rev")
LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute "
    "noun.body noun.cognition noun.communication noun.event noun.feeling noun.food "
    "noun.group noun.location noun.motive noun.object noun.person noun.phenomenon "
    "noun.plant noun.possession noun.process noun.quantity noun.relation noun.shape "
    "noun.state noun.substance noun.time verb.body verb.change verb.cognition "
    "verb.communication verb.competition verb.consumption verb.contact verb.creation "
    "verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative "
    "verb.weather adj.ppl").split()
_LEX_POS = {"adj": 3, "adv": 4, "noun": 1, "verb": 2}
INSTALL_HINT = "apt-get install wordnet-base wordnet-sense-index"

# Latin-script languages compared with English by frequency (wordfreq "large" lists).
LATIN_LANGUAGES = {"fr": "French", "de": "German", "es": "Spanish", "it": "Italian",
                   "pt": "Portuguese", "nl": "Dutch", "pl": "Polish", "sv": "Swedish"}
# Unicode script (first word of a letter's name) -> language family shown in concepts.
SCRIPTS = {"CYRILLIC": "Cyrillic-script", "CJK": "Chinese", "HIRAGANA": "Japanese",
           "KATAKANA": "Japanese", "HANGUL": "Korean", "ARABIC": "Arabic",
           "HEBREW": "Hebrew", "GREEK": "Greek", "DEVANAGARI": "Hindi", "THAI": "Thai"}
FOREIGN_MIN_ZIPF = 3.0     # the word is common in the other language ...
FOREIGN_MIN_GAP = 1.0      # ... at least 10x more frequent there than in English ...
COMMON_ENGLISH_ZIPF = 3.5  # ... and rare in English; or at least FOREIGN_STRONG_GAP more.
FOREIGN_STRONG_GAP = 2.5
ENGLISH_MIN_ZIPF = 3.0     # "an English word": this frequent, or in WordNet


def wordnet_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """NLTK_DATA root that holds ``corpora/wordnet`` (under the paperlib cache)."""
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return root / "nltk_data"


def ensure_wordnet(cache_dir: str | os.PathLike | None = None,
                   source: str | os.PathLike = WORDNET_SOURCE) -> Path:
    """Build (once) and return the NLTK_DATA root holding WordNet 3.0.

    Raises DataError naming the apt packages when the Debian files are missing.
    """
    data_root = wordnet_dir(cache_dir)
    target = data_root / "corpora" / "wordnet"
    if (target / "lexnames").exists():
        return data_root
    source = Path(source)
    missing = [f for f in WORDNET_FILES if not (source / f).is_file()]
    if missing:
        raise DataError(f"WordNet files missing in {source}: {', '.join(missing)}; "
                        f"install them with `{INSTALL_HINT}`")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".wordnet.", dir=target.parent))
    try:
        for name in WORDNET_FILES:
            shutil.copyfile(source / name, tmp / name)
        lines = [f"{i:02d}\t{name}\t{_LEX_POS[name.split('.')[0]]}"
                 for i, name in enumerate(LEXNAMES)]
        (tmp / "lexnames").write_text("\n".join(lines) + "\n", encoding="utf-8")
        try:
            os.rename(tmp, target)
        except OSError:  # another process built it first
            if not (target / "lexnames").exists():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return data_root


@functools.lru_cache(maxsize=2)
def load_wordnet(cache_dir: str | None = None):
    """nltk's WordNetCorpusReader over the folder of :func:`ensure_wordnet`."""
    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    data_root = ensure_wordnet(cache_dir)
    if str(data_root) not in nltk.data.path:
        nltk.data.path.append(str(data_root))
    with warnings.catch_warnings():  # "multilingual functions are not available"
        warnings.simplefilter("ignore", UserWarning)
        return WordNetCorpusReader(str(data_root / "corpora" / "wordnet"), None)


@functools.lru_cache(maxsize=65536)
def zipf(word: str, lang: str = "en") -> float:
    """wordfreq Zipf frequency of ``word`` in ``lang`` (0 when unseen)."""
    import wordfreq

    return wordfreq.zipf_frequency(word, lang, wordlist="large")


def script_language(word: str) -> str | None:
    """Language family of the first non-Latin letter of ``word``, or None."""
    for ch in word:
        if ch.isalpha() and ord(ch) > 0x24F:
            head = unicodedata.name(ch, "").split(" ")[0]
            return SCRIPTS.get(head, "non-Latin-script")
    return None


def foreign_language(word: str) -> tuple[str, str] | None:
    """(language, reason) if ``word`` is better explained as non-English, else None.

    Non-Latin letters decide by script. Otherwise the word must be common in a
    Latin-script language (Zipf >= FOREIGN_MIN_ZIPF) and much more frequent
    there than in English (gap >= FOREIGN_MIN_GAP while English Zipf <
    COMMON_ENGLISH_ZIPF, or gap >= FOREIGN_STRONG_GAP).
    """
    script = script_language(word)
    if script is not None:
        return script, f"{script} letters"
    low = word.lower()
    if not low.isalpha():
        return None
    en = zipf(low, "en")
    best = max(LATIN_LANGUAGES, key=lambda lang: (zipf(low, lang), lang))
    other = zipf(low, best)
    gap = other - en
    if other >= FOREIGN_MIN_ZIPF and ((gap >= FOREIGN_MIN_GAP and en < COMMON_ENGLISH_ZIPF)
                                      or gap >= FOREIGN_STRONG_GAP):
        return LATIN_LANGUAGES[best], f"Zipf {other:.1f} in {best} vs {en:.1f} in en"
    return None


def synsets(word: str, depth: int = 2) -> list:
    """The first ``depth`` WordNet synsets of ``word`` (most frequent senses first)."""
    return _synsets(word)[:depth]


@functools.lru_cache(maxsize=65536)
def _synsets(word: str) -> tuple:
    wn = load_wordnet()
    return tuple(wn.synsets(word.replace(" ", "_")))


def in_wordnet(word: str) -> bool:
    """Whether WordNet knows ``word`` (any inflection, via morphy)."""
    return bool(_synsets(word))


def is_english(word: str) -> bool:
    """A WordNet word, or one with English Zipf >= ENGLISH_MIN_ZIPF, and not foreign."""
    if foreign_language(word) is not None:
        return False
    return in_wordnet(word) or zipf(word.lower(), "en") >= ENGLISH_MIN_ZIPF


@functools.lru_cache(maxsize=65536)
def rhyming_parts(word: str) -> tuple[str, ...]:
    """CMUdict rhyming parts (last stressed vowel onwards) of ``word``'s pronunciations."""
    import pronouncing

    phones = pronouncing.phones_for_word(word.lower())
    return tuple(dict.fromkeys(pronouncing.rhyming_part(p) for p in phones))
