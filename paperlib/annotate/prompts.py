"""Chat prompts of the LLM annotator, in our own words, after the paper's App D.

The paper's design, kept here: three separate conversations, each a role-play
system message, a few in-context (user, assistant) examples of high quality,
then the query.

1. Concept: the assistant plays an interpreter of network units, sums up the
   words in one concise concept without listing words, and answers exactly
   "Cannot Tell" when no single concept covers more than half of the words.
   The query is ``"Words: w1, w2, ..."``.
2. Tasks: which assistant tasks the concept is useful for. As in the paper,
   writing is offered as three sub-tasks (daily, literary, professional
   writing; any of them counts as writing) because a single "writing" option
   attracts nearly every concept. Several tasks are separated by ";", "None"
   when no task applies. The query is ``"Concept: Words are <concept>"``.
3. Level: the assistant plays a linguist and names one of phonology,
   morphology, syntax, semantic. Same query form as 2.

The few-shot examples follow the paper's choice of cases (dates, abbreviations,
programming languages, years, rhymes, URLs, ...) with our own word lists.
"""
from __future__ import annotations

CONCEPT_SYSTEM = (
    "You interpret the units of a neural network. Every unit responds to one "
    "concept, topic, theme, behaviour or pattern. You will see words that make a unit "
    "respond. Reply with a single concise concept, topic, theme, behaviour or pattern "
    "that the unit detects. Do not list example words; keep the reply as short as "
    "possible. If one clear concept cannot cover more than half of the words, reply "
    "exactly: Cannot Tell.")
CONCEPT_EXAMPLES: tuple[tuple[str, str], ...] = (
    ("March, uary, June, October, Friday, ober, August, Monday, February, Sunday, "
     "ruary", "dates"),
    ("U.S., e.g., Dr., i.e., Mr., Inc., etc., vs., NASA, FBI, St., Jr.",
     "abbreviations and acronyms"),
    ("qwv, Anyway, stair, pluck, ighth, Honda, vivid, lemon, zx, tossed",
     "Cannot Tell"),
    ("Rust, Python, JavaScript, C++, golang, Java, TypeScript, php, Kotlin, cuda",
     "programming languages"),
    ("1912, 1999, 1870, 2004, 1966, 1815, 1989, 1931, 2011, 1944", "years"),
)

TASK_SYSTEM = (
    "Decide which of these assistant tasks the given concept can be used for.\n\n"
    "Tasks: daily writing, literary writing, professional writing, solving math "
    "problems, coding, translation.\n"
    "Reply None if it serves none of these tasks. If it serves several, name all of "
    "them separated by ';'.")
TASK_EXAMPLES: tuple[tuple[str, str], ...] = (
    ("hashtags used in social media posts", "daily writing"),
    ("LaTeX commands for typesetting a table", "professional writing"),
    ("words borrowed from other languages", "translation"),
    ("web addresses", "None"),
    ("names of variables and functions in code", "coding"),
    ("words that rhyme", "literary writing"),
    ("arithmetic operators and number words", "solving math problems"),
)

LEVEL_SYSTEM = (
    "You are a linguist. Put the given concept into exactly one of these categories: "
    "Phonology, Morphology, Syntax, Semantic.")
LEVEL_EXAMPLES: tuple[tuple[str, str], ...] = (
    ("dates", "Semantic"),
    ("abbreviations and acronyms", "Morphology"),
    ("words ending in -ness", "Morphology"),
    ("verbs in the past tense", "Syntax"),
    ("prepositions", "Syntax"),
    ("medical terms", "Semantic"),
    ("words that rhyme", "Phonology"),
    ("programming languages", "Semantic"),
)


def words_query(words) -> str:
    return "Words: " + ", ".join(words)


def concept_query(concept: str) -> str:
    return f"Concept: Words are {concept}"


def _chat(system: str, examples, query: str, fmt) -> list[dict]:
    msgs = [{"role": "system", "content": system}]
    for question, answer in examples:
        msgs.append({"role": "user", "content": fmt(question)})
        msgs.append({"role": "assistant", "content": answer})
    msgs.append({"role": "user", "content": query})
    return msgs


def concept_messages(words) -> list[dict]:
    """Messages of question 1 for a word list."""
    return _chat(CONCEPT_SYSTEM, CONCEPT_EXAMPLES, words_query(words), lambda q: f"Words: {q}")


def task_messages(concept: str) -> list[dict]:
    """Messages of question 2 for a concept."""
    return _chat(TASK_SYSTEM, TASK_EXAMPLES, concept_query(concept), concept_query)


def level_messages(concept: str) -> list[dict]:
    """Messages of question 3 for a concept."""
    return _chat(LEVEL_SYSTEM, LEVEL_EXAMPLES, concept_query(concept), concept_query)
