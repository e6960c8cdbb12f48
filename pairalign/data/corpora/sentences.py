"""The built-in corpus's sentences: a small English vocabulary and grammar, sampled with a seed.

A template is a sequence of slots; each slot draws a word (or a short phrase) from one part of
speech. Sampling is rejection-based: a candidate is kept only if its word count is in range and it
differs from every sentence already kept by at least `min_edit_distance` words, so no two sentences
of one call are near-duplicates that a retrieval evaluation could not tell apart.

    rng = np.random.default_rng(0)
    generate_sentences(3, rng)  # e.g. ['The quiet farmer carried a heavy basket.', ...]
"""

from __future__ import annotations

import editdistance
import numpy as np

NOUNS = tuple(
    """
    farmer teacher doctor sailor baker painter driver singer pilot student soldier lawyer
    neighbor artist writer captain nurse hunter dancer merchant dog cat horse bird rabbit
    fox goat tiger whale monkey basket bottle candle ladder pencil blanket window garden
    kettle wagon hammer lantern mirror ribbon pillow carpet bucket violin camera wallet
    jacket helmet bridge castle island valley village forest market harbor station meadow
    kitchen library tower temple river mountain desert letter story puzzle secret message
    picture lesson problem answer record signal journey promise contract package apple
    cookie orange sandwich pepper tomato pumpkin lemon melon cabbage engine rocket bicycle
    tractor balloon umbrella compass anchor trumpet hat coat boat chair table door
    """.split()
)
ADJECTIVES = tuple(
    """
    quiet heavy bright narrow ancient gentle yellow purple silver golden tiny enormous
    careful clever angry happy lazy nervous honest famous hungry sleepy brave polite wooden
    broken empty crowded dusty frozen muddy rusty shiny smooth soft sticky strange useful
    simple modern rapid bitter sweet sour cold warm wet dry young old green orange little
    patient noisy humble fragile hollow curious loyal eager
    """.split()
)
# (base form, past tense) of transitive verbs.
VERBS = tuple(
    tuple(pair.split("/"))
    for pair in """
    carry/carried paint/painted follow/followed open/opened close/closed clean/cleaned
    watch/watched find/found bring/brought build/built catch/caught choose/chose
    forget/forgot hide/hid hold/held keep/kept leave/left lift/lifted mend/mended
    move/moved need/needed notice/noticed order/ordered pack/packed pull/pulled push/pushed
    repair/repaired return/returned sell/sold send/sent show/showed steal/stole
    throw/threw visit/visited want/wanted wash/washed borrow/borrowed deliver/delivered
    discover/discovered examine/examined measure/measured protect/protected describe/described
    answer/answered drop/dropped fold/folded guard/guarded
    """.split()
)
INTRANSITIVE = tuple(
    tuple(pair.split("/"))
    for pair in """
    sleep/slept wait/waited laugh/laughed smile/smiled shout/shouted travel/traveled
    rest/rested dance/danced swim/swam climb/climbed sing/sang whisper/whispered
    arrive/arrived wander/wandered hurry/hurried work/worked listen/listened vanish/vanished
    """.split()
)
ADVERBS = tuple(
    """
    slowly quickly quietly loudly carefully happily suddenly gently proudly calmly badly
    easily bravely eagerly softly nearly rarely often today yesterday tomorrow again early
    late
    """.split()
)
PREPOSITIONS = tuple(
    "near behind under above beside inside across along through beyond past below".split()
)
NAMES = tuple(
    """
    Anna Peter Maria Thomas Susan Robert Linda George Helen Frank Emma Oscar Julia Victor
    Nora Simon Clara Martin Laura Daniel Rosa Albert Irene Walter Sophie Hugo Diana Oliver
    """.split()
)
DETERMINERS = ("the", "a", "this", "that", "my", "her", "his", "our", "their", "every")
NUMBERS = ("two", "three", "four", "five", "several", "many", "some", "ten")
TIMES = (
    "at night",
    "last week",
    "in the morning",
    "on sunday",
    "after lunch",
    "before dinner",
    "every day",
    "in winter",
    "at noon",
    "this evening",
)
WH = ("why", "when", "where", "how")

# Slots: D determiner, A adjective, N noun, P plural noun phrase ("three red apples"), V/Vp verb
# base/past, I/Ip intransitive base/past, R adverb, O preposition, X name, T time phrase, W wh-word.
# A trailing "?" on a slot makes it optional; a template's last token is its punctuation.
TEMPLATES = (
    "D A? N Vp D A? N .",
    "D A? N Vp D N O D A? N .",
    "X Vp D A N R .",
    "X Vp P O D N .",
    "D A N Ip O D A? N T? .",
    "D N and D N Ip O D N .",
    "X will V D A N T .",
    "did X V D A? N O D N ?",
    "W did D A? N V D N ?",
    "W did X I O D A? N ?",
    "please V D A N O D N .",
    "X never Vp D A? N T .",
    "can D A? N V D A N ?",
    "O D A N X Vp D N .",
    "P Ip O D A? N R? .",
    "X and X Vp D A N T? .",
    "D A N Vp R and Ip .",
    "T X Vp P .",
)


def generate_sentences(
    n: int,
    rng: np.random.Generator,
    *,
    min_words: int = 6,
    max_words: int = 10,
    min_edit_distance: int = 3,
    max_tries: int = 1000,
) -> list[str]:
    """`n` distinct sentences, pairwise at least `min_edit_distance` words apart.

    Each sentence starts with a capital and ends with '.' or '?'. Raises `RuntimeError` when
    `max_tries` candidates in a row are rejected (the grammar cannot supply that many).
    """
    if min_words > max_words:
        raise ValueError(f"min_words={min_words} > max_words={max_words}")
    kept: list[str] = []
    kept_words: list[list[str]] = []
    failures = 0
    while len(kept) < n:
        sentence = sample_sentence(rng)
        words = sentence_words(sentence)
        if min_words <= len(words) <= max_words and all(
            editdistance.eval(words, other) >= min_edit_distance for other in kept_words
        ):
            kept.append(sentence)
            kept_words.append(words)
            failures = 0
            continue
        failures += 1
        if failures >= max_tries:
            raise RuntimeError(
                f"only {len(kept)} of {n} sentences after {max_tries} rejected candidates in a row"
            )
    return kept


def sample_sentence(rng: np.random.Generator) -> str:
    """One sentence from a random template (no length or distinctness constraint)."""
    template = TEMPLATES[rng.integers(len(TEMPLATES))].split()
    words: list[str] = []
    for slot in template[:-1]:
        if slot.endswith("?"):
            if rng.random() < 0.5:
                continue
            slot = slot[:-1]
        words.extend(_fill(slot, rng).split())
    words = _fix_articles(words)
    text = " ".join(words) + template[-1]
    return text[0].upper() + text[1:]


def sentence_words(sentence: str) -> list[str]:
    """Lowercase words without punctuation: what edit distances between sentences count."""
    return sentence.lower().rstrip(".?!").split()


def _fill(slot: str, rng: np.random.Generator) -> str:
    if slot == "P":
        adjective = f"{_pick(ADJECTIVES, rng)} " if rng.random() < 0.5 else ""
        return f"{_pick(NUMBERS, rng)} {adjective}{_plural(_pick(NOUNS, rng))}"
    tables: dict[str, tuple[str, ...]] = {
        "D": DETERMINERS,
        "A": ADJECTIVES,
        "N": NOUNS,
        "R": ADVERBS,
        "O": PREPOSITIONS,
        "X": NAMES,
        "T": TIMES,
        "W": WH,
    }
    if slot in tables:
        return _pick(tables[slot], rng)
    verbs = {"V": VERBS, "Vp": VERBS, "I": INTRANSITIVE, "Ip": INTRANSITIVE}
    if slot in verbs:
        base, past = verbs[slot][rng.integers(len(verbs[slot]))]
        return past if slot.endswith("p") else base
    if slot in {"and", "did", "will", "never", "please", "can"}:
        return slot
    raise ValueError(f"unknown template slot {slot!r}")


def _pick(words: tuple[str, ...], rng: np.random.Generator) -> str:
    return words[rng.integers(len(words))]


def _plural(noun: str) -> str:
    if noun.endswith(("s", "sh", "ch", "x")):
        return noun + "es"
    if noun.endswith("y") and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    if noun in {"tomato", "potato"}:
        return noun + "es"
    return noun + "s"


_AN_WORDS = frozenset({"honest", "umbrella"})


def _fix_articles(words: list[str]) -> list[str]:
    """'a' before a vowel sound becomes 'an' (good enough for this vocabulary)."""
    out = list(words)
    for i in range(len(out) - 1):
        following = out[i + 1].lower()
        if out[i].lower() == "a" and (following[0] in "aeio" or following in _AN_WORDS):
            out[i] = "An" if out[i] == "A" else "an"
    return out
