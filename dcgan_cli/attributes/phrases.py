"""Phrases in a data set's words, and the arithmetic expressions over them: "smiling woman - 0.5 woman + man".

Here, below the capabilities, because arithmetic, `sample --label`, interpolate's word ends and the
explorer all read phrases. Holds the parser (terms joined by + and -, each an optional number and a phrase; errors name
the column), the vocabulary (a data set's labels plus plain-English aliases) and the label
values each phrase asks for.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from ..core.errors import UsageError
from .expectations import Attribute, Want

# word -> (attribute, value). CelebA's 40 attributes by plain English name.
CELEBA_ALIASES: dict[str, tuple[str, int]] = {
    "smiling": ("Smiling", 1),
    "smile": ("Smiling", 1),
    "neutral": ("Smiling", 0),
    "man": ("Male", 1),
    "male": ("Male", 1),
    "men": ("Male", 1),
    "woman": ("Male", 0),
    "female": ("Male", 0),
    "women": ("Male", 0),
    "glasses": ("Eyeglasses", 1),
    "eyeglasses": ("Eyeglasses", 1),
    "blond": ("Blond_Hair", 1),
    "blonde": ("Blond_Hair", 1),
    "bald": ("Bald", 1),
    "beard": ("No_Beard", 0),
    "bearded": ("No_Beard", 0),
    "beardless": ("No_Beard", 1),
    "mustache": ("Mustache", 1),
    "moustache": ("Mustache", 1),
    "hat": ("Wearing_Hat", 1),
    "young": ("Young", 1),
    "old": ("Young", 0),
    "lipstick": ("Wearing_Lipstick", 1),
    "bangs": ("Bangs", 1),
    "makeup": ("Heavy_Makeup", 1),
    "goatee": ("Goatee", 1),
    "earrings": ("Wearing_Earrings", 1),
    "necklace": ("Wearing_Necklace", 1),
    "necktie": ("Wearing_Necktie", 1),
    "tie": ("Wearing_Necktie", 1),
    "pale": ("Pale_Skin", 1),
    "chubby": ("Chubby", 1),
    "attractive": ("Attractive", 1),
    "sideburns": ("Sideburns", 1),
    "brunette": ("Brown_Hair", 1),
}

_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"  # 2, 0.5, .25, 1e3: "1e308 red" is a number, not the word e308
# A word may join parts with - or / ("t-shirt/top"); one that names no class is read as words and
# operators again ("woman-man"). A quoted class name is one word whatever it holds ("'Ankle boot'").
_TOKEN = re.compile(rf"""\s*(?:(?P<quoted>"[^"]*"|'[^']*')|(?P<op>[+-])|(?P<num>{_NUMBER})"""
                    r"|(?P<word>[^\W\d_][\w']*(?:[-/][\w']+)*)|(?P<bad>\S))")


def concept_word(name: str) -> str:
    """A class name as one concept word: lower case, each run of spaces, hyphens, slashes and other
    marks as one underscore ("T-shirt/top" -> "t_shirt_top", "Ankle boot" -> "ankle_boot")."""
    return re.sub(r"[^\w']+", "_", name.strip().lower()).strip("_")


@dataclass(frozen=True)
class Term:
    coef: float  # sign included
    words: tuple[str, ...]
    pos: int  # 1-based column where the term starts

    @property
    def phrase(self) -> str:
        return " ".join(self.words)


class ParseError(UsageError):
    pass


# Data sets whose labels are the digits: there "7 - 1 + 0" means the classes, as "seven - one + zero" does.
DIGIT_LABELLED = ("mnist", "svhn")


def _digits_as_words(tokens: list[tuple[str, str, int]]) -> list[tuple[str, str, int]]:
    """A lone digit (followed by an operator or the end) is a class word; "2 7" stays twice seven."""
    out = []
    for k, (kind, value, col) in enumerate(tokens):
        after = tokens[k + 1][0] if k + 1 < len(tokens) else "op"
        lone = kind == "num" and len(value) == 1 and value.isdigit() and after == "op"
        out.append(("word", value, col) if lone else (kind, value, col))
    return out


def _tokens(text: str, vocab: dict[str, tuple[int, int]] | None) -> list[tuple[str, str, int]]:
    """(kind, value, column) of each token; words as concept words, a joined word that names no class
    in `vocab` split at its hyphens into words and minus signs."""
    out: list[tuple[str, str, int]] = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if kind is None:
            continue
        value, col = m.group(kind), m.start(kind) + 1
        if kind == "quoted":
            out.append(("word", concept_word(value[1:-1]), col) if value[1:-1].strip() else ("bad", value, col))
        elif kind == "word" and "-" in value and (vocab is None or concept_word(value) not in vocab):
            for k, part in enumerate(value.split("-")):
                if k:
                    out.append(("op", "-", col - 1))
                if part:
                    out.append(("word", concept_word(part), col))
                col += len(part) + 1
        else:
            out.append((kind, concept_word(value) if kind == "word" else value, col))
    return out


def _joined(words: list[str], vocab: dict[str, tuple[int, int]] | None) -> list[str]:
    """Runs of words that together name a class ("ankle boot" -> "ankle_boot"), longest first."""
    if vocab is None:
        return words
    longest = max((k.count("_") + 1 for k in vocab), default=1)  # a run longer than any class name joins nothing
    out, i = [], 0
    while i < len(words):
        for j in range(min(len(words), i + longest), i + 1, -1):
            if "_".join(words[i:j]) in vocab:
                out.append("_".join(words[i:j]))
                i = j
                break
        else:
            out.append(words[i])
            i += 1
    return out


def parse_expression(text: str, digit_words: bool = False, vocab: dict[str, tuple[int, int]] | None = None) -> list[Term]:
    """'smiling woman - 0.5 woman + man' -> terms. Errors name the 1-based column. With `digit_words`
    (a data set labelled by digits) a lone digit is the class: '7 - 1 + 0'. With the data set's
    `vocab`, class names of several words, hyphens or slashes are found as written ("ankle boot",
    "t-shirt/top"), besides their concept words ("ankle_boot") and quoted forms."""
    tokens = _tokens(text, vocab)
    if digit_words:
        tokens = _digits_as_words(tokens)
    if not tokens:
        raise ParseError("the expression is empty; write e.g. \"smiling woman - woman + man\"")
    terms: list[Term] = []
    sign, i = 1.0, 0

    def fail(msg: str, col: int) -> ParseError:
        return ParseError(f"{msg} at column {col} of {text!r}")

    if tokens[0][0] == "op":
        sign = -1.0 if tokens[0][1] == "-" else 1.0
        i = 1
    while True:
        if i >= len(tokens):
            raise fail("expected a concept after the operator", len(text) + 1)
        kind, value, col = tokens[i]
        start = col
        coef = 1.0
        if kind == "num":
            coef = float(value)
            i += 1
            if i >= len(tokens):
                raise fail(f"expected a concept after the number {value}", len(text) + 1)
            kind, value, col = tokens[i]
        if kind == "bad":
            raise fail(f"unexpected character {value!r}", col)
        if kind != "word":
            hint = (
                "; a number before a word is its coefficient, so write digits as words (three - 2 three + seven)"
                if coef != 1.0 or tokens[i - 1][0] == "num"
                else ""
            )
            raise ParseError(f"expected a concept word, found {value!r} at column {col} of {text!r}{hint}")
        words: list[str] = []
        while i < len(tokens) and tokens[i][0] == "word":
            words.append(tokens[i][1].lower())
            i += 1
        terms.append(Term(sign * coef, tuple(_joined(words, vocab)), start))
        if i == len(tokens):
            return terms
        kind, value, col = tokens[i]
        if kind == "bad":
            raise fail(f"unexpected character {value!r}", col)
        if kind != "op":
            raise fail(f"expected + or -, found {value!r}", col)
        sign = -1.0 if value == "-" else 1.0
        i += 1


# Fashion-MNIST's class names as its documentation writes them, for the short names the loader gives.
FASHION_ALIASES = {"t_shirt_top": "tshirt", "t_shirt": "tshirt", "ankle_boot": "boot", "trousers": "trouser"}


def vocabulary(dataset: str, label_names: list[str]) -> dict[str, tuple[int, int]]:
    """word -> (label column, value). Every label name, as its concept word, means 'this label is on'."""
    vocab: dict[str, tuple[int, int]] = {concept_word(name): (j, 1) for j, name in enumerate(label_names)}
    if dataset == "fashion-mnist":
        for word, name in FASHION_ALIASES.items():
            if name in vocab:
                vocab.setdefault(word, vocab[name])
    if dataset == "celeba":
        for word, (attr, value) in CELEBA_ALIASES.items():
            if attr in label_names:
                vocab.setdefault(word, (label_names.index(attr), value))
    if dataset in DIGIT_LABELLED:
        vocab |= {str(d): (d, 1) for d in range(10) if d < len(label_names)}
    return vocab


def _labelled_by(word: str) -> list[str]:
    """The built-in vocabularies that know a word: which kind of run it needs."""
    from ..data.shapes import LABEL_NAMES
    from ..data.source import CIFAR10, DIGITS, FASHION

    sets = {"celeba": set(CELEBA_ALIASES), "shapes": set(LABEL_NAMES), "mnist": set(DIGITS), "fashion-mnist": set(FASHION),
            "cifar10": set(CIFAR10)}
    return [name for name, words in sets.items() if word in words]


def phrase_constraints(terms: list[Term], vocab: dict[str, tuple[int, int]], dataset: str = "") -> list[dict[int, int]]:
    """Each term's required label values. A phrase fixes every attribute named anywhere in the
    expression: what it does not name is held 'off' (the paper's neutral woman)."""
    for t in terms:
        for w in t.words:
            if w not in vocab:
                close = difflib.get_close_matches(w, vocab, n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                model = f"this model was trained on {dataset}, whose labels give" if dataset else "the known words are"
                elsewhere = _labelled_by(w)
                needs = f" ({w!r} needs a model trained on {' or '.join(elsewhere)})" if elsewhere else ""
                joined = ("; a class name of several words is written as it is, with _ for its spaces and marks, or quoted"
                          if any("_" in k for k in vocab) and dataset != "celeba" else "")
                raise UsageError(f"unknown concept word {w!r}{hint or ';'} {model}: {', '.join(sorted(vocab))}{needs}{joined}")
    named = sorted({vocab[w][0] for t in terms for w in t.words})
    out = []
    for t in terms:
        want = {col: 0 for col in named}
        for w in t.words:
            col, value = vocab[w]
            want[col] = value
        out.append(want)
    return out


def term_wants(terms: list[Term], vocab: dict[str, tuple[int, int]], attrs: list[Attribute], neutral: bool = True) -> list[Want]:
    """Each term's asked values: what its words name. With `neutral`, a free label named anywhere in
    the expression is 'off' in the terms that do not name it (the paper's neutral woman); a group a
    term does not name is left open (an exclusive group has no neutral value)."""
    by_column = {c: (a, j) for a, attr in enumerate(attrs) for j, c in enumerate(attr.columns)}
    named_free = set()
    wants: list[Want] = []
    for t in terms:
        want: Want = {}
        for w in t.words:
            col, on = vocab[w]
            a, j = by_column[col]
            if attrs[a].free:
                want[a] = on
                named_free.add(a)
            elif on:
                want[a] = j
        wants.append(want)
    for want in wants if neutral else []:
        for a in named_free:
            want.setdefault(a, 0)
    return wants
