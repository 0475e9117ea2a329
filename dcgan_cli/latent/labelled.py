"""Seeds by what they show: the first seeds whose samples the data set's classifier reads as a phrase
("seven", "red square", "smiling man"), for `dcgan sample --label` and `interpolate --from seven`.

The answer is seeds, not z vectors, so a sample found this way is made again with `--seeds`. What
the classifier reads in seeds 0..K-1 is cached in the run's concepts/ folder (per checkpoint,
generator, classifier and truncation) and extended when more seeds are needed; a second ask, for
this phrase or another, reads the cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..attributes.bank import concepts_file
from ..attributes.classifier import AttributeModel, dataset_classifier, training_label
from ..attributes.expectations import CONFIDENT, Attribute, Want, describe, match_score
from ..attributes.phrases import (
    DIGIT_LABELLED,
    ParseError,
    parse_expression,
    phrase_constraints,
    term_wants,
    vocabulary,
)
from ..attributes.reading import labelled_attributes
from ..core.checkpoint import Checkpoint
from ..core.defaults import FIRST_SEARCH, MOST_SEARCHED
from ..core.errors import DcganError, UsageError
from ..core.generation import BATCH, check_truncation, seed_batches
from ..core.progress import Progress, phase
from ..core.tensor_cache import read_cached, write_cached


@dataclass
class SeedsShowing:
    """The first seeds whose samples read as `want` (in seed order), among seeds 0..searched-1."""

    phrase: str
    want: str  # what was asked, in the classifier's values: "seven", "red square"
    seeds: list[int]
    found: int  # how many of the searched seeds read so (at least len(seeds))
    searched: int
    every: tuple[int, ...] = ()  # all the searched seeds that read so, in order
    leaning: frozenset[int] = frozenset()  # the searched seeds the classifier leans on as the phrase (over 50%)

    def leans(self, seed: int) -> bool | None:
        """Whether the classifier leans toward the phrase for seed's sample; None beyond the searched seeds."""
        return seed in self.leaning if seed < self.searched else None

    def line(self) -> str:
        share = f"{self.found:,} of seeds 0-{self.searched - 1:,} ({100 * self.found / self.searched:.1f}%)"
        return f"samples read as {' '.join(self.phrase.lower().split())} ({100 * CONFIDENT:.0f}% sure or more): {share}"


def phrase_want(phrase: str, dataset: str, label_names: list[str], attrs: list[Attribute], flag: str = "--label") -> Want:
    """'red square' -> {colour: red, shape: square}. One phrase, no operators; unknown words get a hint."""
    vocab = vocabulary(dataset, label_names)
    if not phrase.strip():
        raise UsageError(f"{flag} is empty: name a kind of sample in this model's words, e.g. one of "
                         f"{', '.join(sorted(vocab)[:8])}{' ...' if len(vocab) > 8 else ''}")
    try:
        terms = parse_expression(phrase, digit_words=dataset in DIGIT_LABELLED, vocab=vocab)
    except ParseError as e:
        raise UsageError(f"{flag} {phrase!r}: {e}") from None
    if len(terms) != 1 or terms[0].coef != 1.0:
        raise UsageError(f"{flag} {phrase!r}: name one kind of sample in words (e.g. 'seven', 'red square'), "
                         "not an expression; dcgan arithmetic takes expressions")
    phrase_constraints(terms, vocab, dataset)  # unknown words: one line with the known ones
    words = terms[0].words
    again = next((w for i, w in enumerate(words) if w in words[:i]), None)
    if again is not None:
        raise UsageError(f"{flag} {phrase!r} names {again!r} twice; name it once")
    groups = [a for w in words for a, attr in enumerate(attrs) if not attr.free and vocab[w][0] in attr.columns]
    twice = next((a for a in groups if groups.count(a) > 1), None)
    if twice is not None:
        raise UsageError(f"{flag} {phrase!r} names two of {', '.join(attrs[twice].values)}; a sample shows one of them")
    return term_wants(terms, vocab, attrs)[0]


def seed_probabilities(c: Checkpoint, classifier: AttributeModel, upto: int, *, trunc: float = 1.0,
                       ema: bool | None = None, device: torch.device | str = "cpu",
                       on_progress: Progress | None = None) -> torch.Tensor:
    """(upto, A): the classifier's label probabilities for the samples of seeds 0..upto-1 (cached, extended)."""
    uses_ema = ema is not False and c.has_ema
    path = concepts_file(c, "seeds", classifier.key, uses_ema, trunc)
    width = len(classifier.label_names)
    cached = read_cached(path, lambda t, meta: t["probs"].ndim == 2 and t["probs"].shape[1] == width)
    probs = cached[0]["probs"] if cached is not None else torch.empty(0, width)
    if len(probs) >= upto:
        return probs[:upto]
    G = c.generator(device, ema=ema)
    seeds, parts, done = list(range(len(probs), upto)), [probs], 0
    for part, images in seed_batches(G, seeds, BATCH * 4, trunc=trunc):
        parts.append(classifier.predict(images.to(device)).cpu())
        done += len(part)
        if on_progress is not None:
            on_progress(done, len(seeds))
    probs = torch.cat(parts)
    write_cached(path, {"probs": probs}, {"classifier": classifier.key, "checkpoint": str(c.path)}, what="seed labels")
    return probs


def seeds_showing(c: Checkpoint, phrase: str, n: int, *, trunc: float = 1.0, ema: bool | None = None,
                  device: torch.device | str = "cpu", data_root: Path | None = None,
                  on_progress: Progress | None = None, flag: str = "--label") -> SeedsShowing:
    """The first `n` seeds whose samples the data set's classifier reads as `phrase` (fewer when seeds
    0..MOST_SEARCHED-1 hold fewer; none is an error that says what the samples do read as). `flag` is
    the option the phrase came from, named in the errors."""
    check_truncation(trunc)
    if not 1 <= n <= MOST_SEARCHED:
        raise UsageError(f"--n must be 1 to {MOST_SEARCHED:,} with {flag}, got {n}")
    data, attrs = labelled_attributes(c, f"{flag} needs labels to find samples by", data_root=data_root)
    want = phrase_want(phrase, data.name, data.label_names, attrs, flag)
    classifier = dataset_classifier(data, device=device, on_progress=phase(on_progress, training_label(data)))
    upto = FIRST_SEARCH
    while True:
        probs = seed_probabilities(c, classifier, upto, trunc=trunc, ema=ema, device=device,
                                   on_progress=phase(on_progress, f"reading the samples of seeds 0-{upto - 1:,}"))
        # as sure as arithmetic's matches: a blurry sample the classifier only leans on is not "a seven"
        score = match_score(probs, want, attrs)
        found = (score >= CONFIDENT).nonzero().view(-1)
        if len(found) >= n or upto >= MOST_SEARCHED:
            break
        upto = min(MOST_SEARCHED, upto * 4)
    asked = describe(want, attrs)
    if not len(found):
        raise DcganError(f"no sample of seeds 0-{upto - 1:,} reads as {asked!r} {CONFIDENT:.0%} sure or more (the bar a sample "
                         f"must pass to be shown as one); by each sample's likeliest reading, sure or not, they read as "
                         f"{_commonest(probs, attrs)}")
    leaning = frozenset((score > 0.5).nonzero().view(-1).tolist())
    return SeedsShowing(phrase, asked, found[:n].tolist(), len(found), upto, tuple(found.tolist()), leaning)


def _commonest(probs: torch.Tensor, attrs: list[Attribute]) -> str:
    """'circle 41%, square 35%, triangle 24%; red 30%, ...': what the searched samples read as instead."""
    parts = []
    for attr in attrs:
        values, _ = attr.read(probs)
        counts = torch.bincount(values, minlength=len(attr.values)).tolist()
        ranked = sorted(zip(counts, attr.values), reverse=True)[:4]
        parts.append(", ".join(f"{v} {100 * k / len(probs):.0f}%" for k, v in ranked if k))
    return "; ".join(parts)
