"""A small heuristic language detector: Unicode script first, then stop words for Latin script.

Why not a model: the router needs a coarse language tag per request (to keep, say, Japanese prompts
away from an English-only model) in microseconds, with no extra dependency. Non-Latin scripts decide
the language almost alone (Hangul → ko, kana → ja, Han → zh, Cyrillic → ru or uk, ...). Latin-script
text is scored against short stop-word lists of common languages; too little evidence gives "und".
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter
from typing import Final

__all__ = ["UNDETERMINED", "detect_language"]

UNDETERMINED: Final = "und"
_SAMPLE_CHARS: Final = 2000
_MIN_LETTERS: Final = 3
_MIN_STOP_HITS: Final = 2
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)

_STOP_WORDS: Final[dict[str, frozenset[str]]] = {
    lang: frozenset(words.split()) for lang, words in {
        "en": "a the and is are was to of in that it for you with on this what how can be have not i my "
              "do does please your an will would from there which me write give hi hello",
        "de": "der die das und ist nicht ich du sie wir ein eine zu mit auf für von dem den wie was "
              "bitte auch es sind kann mir mich ihr hallo danke wie geht",
        "fr": "le la les et est un une des du de que qui pour pas je vous nous il elle dans sur avec "
              "ce cette sont comment est-ce ça va bonjour salut merci au",
        "es": "el la los las y es un una de que en por para con no yo usted qué cómo del se lo está "
              "son muy pero puedo cada mi tu te me hay tengo quiero dónde cuál cuándo hola gracias",
        "it": "il lo la gli le e è un una di che per non io sono come con del della ciao cosa anche "
              "questo",
        "pt": "o a os as e é um uma de que em para com não eu você do da como está são muito mas "
              "obrigado",
        "nl": "de het een en is niet ik je van dat op te met voor zijn hoe wat ook maar er",
        "sv": "och att det är en ett jag du inte på med för som har vad hur kan",
        "pl": "i w nie na się jest to że z do jak co czy jestem ale",
        "tr": "ve bir bu da de için ne nasıl mi değil ben sen çok var",  # noqa: RUF001
    }.items()
}


_LANGUAGES_OF: Final[dict[str, tuple[str, ...]]] = {
    word: tuple(lang for lang, stop in _STOP_WORDS.items() if word in stop)
    for word in set().union(*_STOP_WORDS.values())
}


def detect_language(text: str) -> str:
    """ISO 639-1 code of `text`'s language, or "und" when it cannot tell."""
    sample = text[:_SAMPLE_CHARS]  # bounded work, whatever the prompt's length
    scripts = _script_counts(sample)
    letters = sum(scripts.values())
    if letters < _MIN_LETTERS:
        return UNDETERMINED
    script, count = scripts.most_common(1)[0]
    if script != "LATIN" or count < letters / 2:
        return _by_script(scripts, sample)
    return _by_stop_words(sample)


def _script_counts(text: str) -> Counter[str]:
    """Letters per script. Counts distinct characters first (in C), so a 2,000-character prompt costs
    a few dozen Unicode look-ups rather than one per character."""
    counts: Counter[str] = Counter()
    for char, n in Counter(text).items():
        if char.isalpha():
            counts[_script(char)] += n
    return counts


@functools.lru_cache(maxsize=4096)
def _script(char: str) -> str:
    name = unicodedata.name(char, "")
    return name.split(" ", 1)[0] if name else "UNKNOWN"


def _by_script(scripts: Counter[str], text: str) -> str:
    if scripts["HANGUL"]:
        return "ko"
    if scripts["HIRAGANA"] or scripts["KATAKANA"]:
        return "ja"
    top = scripts.most_common(1)[0][0]
    if top == "CYRILLIC":
        return "uk" if any(c in text for c in "іїєґІЇЄҐ") else "ru"
    return _SCRIPT_LANGUAGE.get(top, UNDETERMINED)


_SCRIPT_LANGUAGE: Final = {
    "CJK": "zh", "ARABIC": "ar", "HEBREW": "he", "GREEK": "el", "DEVANAGARI": "hi", "THAI": "th",
    "BENGALI": "bn", "TAMIL": "ta", "ARMENIAN": "hy", "GEORGIAN": "ka",
}


def _by_stop_words(text: str) -> str:
    words = [w.lower() for w in _WORD.findall(text)]
    hits = Counter(dict.fromkeys(_STOP_WORDS, 0))  # every language, in table order (ties below)
    for word in words:
        for lang in _LANGUAGES_OF.get(word, ()):
            hits[lang] += 1
    (best, score), *rest = hits.most_common(2)
    if score < _MIN_STOP_HITS and not (score and len(words) <= 3):
        return UNDETERMINED
    if rest and rest[0][1] == score:
        return "en" if best == "en" or rest[0][0] == "en" else UNDETERMINED
    return best
