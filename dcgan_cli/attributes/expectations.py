"""What an arithmetic expression asks of each attribute, and whether an image delivers it.

An attribute is a set of values exactly one of which an image has: an exclusive group of labels
(shape: circle/square/triangle; a digit's class) or one free label read as yes/no (CelebA's
Smiling: "Smiling" / "not Smiling"). Each term of an expression asks some attributes for a value;
the result is expected to have, per attribute, the value that the one-hot algebra of the terms
gives ("red circle - circle + square": colour red, shape circle - circle + square = square).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .classifier import group_columns


@dataclass(frozen=True)
class Attribute:
    name: str  # "circle/square/triangle", or the free label's name
    columns: tuple[int, ...]  # label columns; one for a free label
    values: tuple[str, ...]  # a group's label names; ("not X", "X") for a free label

    @property
    def free(self) -> bool:
        return len(self.columns) == 1

    def value_probs(self, probs: torch.Tensor) -> torch.Tensor:
        """(B, A) label probabilities -> (B, len(values)) probability of each value."""
        if self.free:
            p = probs[:, self.columns[0]]
            return torch.stack([1 - p, p], 1)
        return probs[:, list(self.columns)]

    def read(self, probs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The value index each image shows (B,) and its probability (B,)."""
        best = self.value_probs(probs).max(1)
        return best.indices, best.values


def attributes_of(label_names: list[str], groups: list[list[str]]) -> list[Attribute]:
    cols, free = group_columns(label_names, groups)
    out = [Attribute("/".join(label_names[i] for i in c), tuple(c), tuple(label_names[i] for i in c)) for c in cols]
    out += [Attribute(label_names[i], (i,), (f"not {label_names[i]}", label_names[i])) for i in free]
    return out


Want = dict[int, int]  # attribute index -> value index
# The match score from which a sample counts as showing a phrase: arithmetic's concepts, its boundaries' and
# separability's training samples, and `sample --label` all use this one bar.
CONFIDENT = 0.8
# A reading of one value this sure or surer is sure: the "confident" quality figure and the concept sliders' ends.
SURE = 0.9


def match_score(probs: torch.Tensor, want: Want, attrs: list[Attribute]) -> torch.Tensor:
    """(B,) product over the wanted attributes of the probability of the wanted value."""
    score = torch.ones(probs.shape[0])
    for a, v in want.items():
        score = score * attrs[a].value_probs(probs)[:, v]
    return score


def expected_values(coefs: list[float], wants: list[Want], attrs: list[Attribute]) -> Want:
    """Per attribute some term asks about: sum_i coef_i * onehot(want_i); the value whose weight is
    at least 0.5 when exactly one is, else the attribute has no clear expected value (left out)."""
    out: Want = {}
    for a, attr in enumerate(attrs):
        weight = torch.zeros(len(attr.values))
        asked = False
        for coef, want in zip(coefs, wants):
            if a in want:
                weight[want[a]] += coef
                asked = True
        top = (weight >= 0.5).nonzero().view(-1)
        if asked and len(top) == 1:
            out[a] = int(top[0])
    return out


def verdicts(expected: Want, start: Want, seen: torch.Tensor, attrs: list[Attribute]) -> dict[str, dict]:
    """One image's verdict per expected attribute: 'changed as asked', 'kept' or 'wrong'.
    `start` holds the first term's values (what the result starts from); seen (len(attrs),) values."""
    out = {}
    for a, v in expected.items():
        moved = start.get(a, v) != v
        ok = int(seen[a]) == v
        verdict = ("changed as asked" if moved else "kept") if ok else "wrong"
        out[attrs[a].name] = {"expected": attrs[a].values[v], "seen": attrs[a].values[int(seen[a])], "moved": moved,
                              "match": ok, "verdict": verdict}
    return out


def describe(want: Want, attrs: list[Attribute]) -> str:
    """'red square', 'Smiling, not Male': the values of a want in attribute order."""
    return " ".join(attrs[a].values[v] for a, v in sorted(want.items())) or "(anything)"


@dataclass
class AttributeSummary:
    """One attribute over all result images: what was expected, what was seen, how many match."""

    expected: list[str]
    seen: dict[str, int]  # value -> results showing it
    match: int
    of: int
    moved: bool  # the expression asks it to change (not to stay)

    @property
    def verdict(self) -> str:
        """'changed as asked' or 'kept' when at least two in three results show the expected value
        (a bare majority of 5 in 9 leaves too many that did not); 'partly ...' from one in three; else 'wrong'."""
        done = "changed as asked" if self.moved else "kept"
        if 3 * self.match >= 2 * self.of:
            return done
        if 3 * self.match >= self.of:
            return f"partly {done.replace(' as asked', '')} ({self.match} of {self.of})"
        return "wrong"

    def to_dict(self) -> dict:
        return {"expected": self.expected, "seen": self.seen, "match": self.match, "of": self.of, "moved": self.moved,
                "verdict": self.verdict}


@dataclass
class Judgement:
    """What the classifier sees in each result image, against what the expression expects."""

    results: list[dict]  # per result image: seen, and where expected: expected, match, verdicts, moved, all_match
    summary: dict[str, AttributeSummary]  # per attribute; empty when nothing can be expected
    first_labels: dict[str, float]  # the first result's labels read above 0.5

    @property
    def all_match(self) -> list[bool | None]:
        return [r.get("all_match") for r in self.results]


def judge(probs: torch.Tensor, label_names: list[str], attrs: list[Attribute], expected: list[Want],
          start: list[Want]) -> Judgement:
    """Judge result images from their label probabilities (R, A); `expected` and `start` per result
    image (empty lists when the expression's terms leave nothing to expect)."""
    seen = torch.stack([a.read(probs)[0] for a in attrs], 1) if attrs else torch.zeros(len(probs), 0, dtype=torch.long)
    results: list[dict] = []
    summary: dict[str, AttributeSummary] = {}
    for r in range(len(probs)):
        entry: dict = {"image": r, "seen": {a.name: a.values[int(seen[r, i])] for i, a in enumerate(attrs)}}
        if expected:
            v = verdicts(expected[r], start[r], seen[r], attrs)
            entry |= {"expected": {n: x["expected"] for n, x in v.items()}, "match": {n: x["match"] for n, x in v.items()},
                      "verdicts": {n: x["verdict"] for n, x in v.items()}, "moved": {n: x["moved"] for n, x in v.items()},
                      "all_match": all(x["match"] for x in v.values())}
            for name, x in v.items():
                s = summary.setdefault(name, AttributeSummary([], {}, 0, 0, False))
                if x["expected"] not in s.expected:
                    s.expected = sorted([*s.expected, x["expected"]])
                s.seen[x["seen"]] = s.seen.get(x["seen"], 0) + 1
                s.match += int(x["match"])
                s.of += 1
                s.moved |= x["moved"]
        results.append(entry)
    first = {n: round(float(p), 3) for n, p in zip(label_names, probs[0]) if p > 0.5} if len(probs) else {}
    return Judgement(results, summary, first)
