import pytest
import torch

from dcgan_cli.attributes.bank import SampleBank
from dcgan_cli.attributes.expectations import attributes_of, expected_values, match_score, verdicts
from dcgan_cli.attributes.phrases import parse_expression, term_wants, vocabulary
from dcgan_cli.core.errors import DcganError
from dcgan_cli.data.shapes import GROUPS, LABEL_NAMES
from dcgan_cli.vector_arithmetic.methods import _Matcher

SHAPES = attributes_of(LABEL_NAMES, GROUPS)


def expect(expr: str, attrs, names, dataset="shapes", neutral=True):
    terms = parse_expression(expr)
    wants = term_wants(terms, vocabulary(dataset, names), attrs, neutral=neutral)
    got = expected_values([t.coef for t in terms], wants, attrs)
    return {attrs[a].name: attrs[a].values[v] for a, v in got.items()}, wants


def test_attributes_are_exclusive_groups_then_free_labels():
    assert [a.name for a in SHAPES] == ["circle/square/triangle", "red/green/blue/yellow", "small/large"]
    celeba = attributes_of(["Smiling", "Male"], [])
    assert [a.values for a in celeba] == [("not Smiling", "Smiling"), ("not Male", "Male")]


def test_expected_values_follow_the_one_hot_algebra():
    got, _ = expect("red circle - circle + square", SHAPES, LABEL_NAMES)
    assert got == {"circle/square/triangle": "square", "red/green/blue/yellow": "red"}  # size is not asked about
    got, _ = expect("large red circle - blue circle + blue square", SHAPES, LABEL_NAMES)
    assert got == {"circle/square/triangle": "square", "red/green/blue/yellow": "red", "small/large": "large"}
    celeba = attributes_of(["Smiling", "Male"], [])
    got, wants = expect("smiling woman - woman + man", celeba, ["Smiling", "Male"], "celeba")
    assert got == {"Smiling": "Smiling", "Male": "Male"}
    assert wants[1] == {1: 0, 0: 0}  # the paper's neutral woman: not smiling
    _, wants = expect("smiling woman - woman + man", celeba, ["Smiling", "Male"], "celeba", neutral=False)
    assert wants[1] == {1: 0}  # anchored: what a term does not name is taken from the anchor
    got, _ = expect("red circle - 0.5 circle + 0.5 square", SHAPES, LABEL_NAMES)
    assert "circle/square/triangle" not in got  # half circle, half square: no clear expected shape

def test_verdicts_name_kept_changed_and_wrong():
    expected = {0: 1, 1: 0}  # square, red
    start = {0: 0, 1: 0}  # the result starts from a red circle
    v = verdicts(expected, start, torch.tensor([1, 0, 1]), SHAPES)
    assert v["circle/square/triangle"]["verdict"] == "changed as asked" and v["red/green/blue/yellow"]["verdict"] == "kept"
    v = verdicts(expected, start, torch.tensor([0, 2, 1]), SHAPES)
    assert v["circle/square/triangle"] | {} == {
        "expected": "square",
        "seen": "circle",
        "moved": True,
        "match": False,
        "verdict": "wrong",
    }
    assert v["red/green/blue/yellow"]["verdict"] == "wrong" and v["red/green/blue/yellow"]["seen"] == "blue"


def test_match_score_multiplies_the_wanted_values():
    probs = torch.zeros(2, len(LABEL_NAMES))
    probs[0, [0, 3, 7]] = torch.tensor([0.9, 0.5, 1.0])  # circle 0.9, red 0.5, small 1.0
    probs[1, [1, 4, 8]] = 1.0
    assert torch.allclose(match_score(probs, {0: 0, 1: 0}, SHAPES), torch.tensor([0.45, 0.0]))
    assert torch.allclose(match_score(probs, {}, SHAPES), torch.ones(2))


def test_matcher_relaxes_a_context_too_narrow_and_says_which():
    # 20 red circles (10 small, 10 large), 3 small red squares, 3 large blue squares
    probs = torch.zeros(26, len(LABEL_NAMES))
    probs[:20, 0] = 1
    probs[20:, 1] = 1
    probs[:23, 3] = 1
    probs[23:, 5] = 1
    probs[:10, 7] = 1
    probs[10:20, 8] = 1
    probs[20:23, 7] = 1
    probs[23:, 8] = 1
    z = torch.arange(26.0)[:, None].repeat(1, 4)
    m = _Matcher(SampleBank(z, probs, None, None), SHAPES, min_count=5)
    k, chosen, dropped = m.concept("circle", {0: 0}, {1: 0, 2: 1})  # large red circles: 10 of them
    assert k.count == 10 and dropped == [] and torch.allclose(k.z, z[10:20].mean(0))
    k, chosen, dropped = m.concept("square", {0: 1}, {1: 0, 2: 0})  # 3 small red squares: size is let go, then colour
    assert dropped == ["small/large", "red/green/blue/yellow"] and k.count == 6 and torch.allclose(k.z, z[20:].mean(0))
    with pytest.raises(DcganError, match="too few generated samples look like 'triangle'"):
        m.concept("triangle", {0: 2}, {1: 0})


def test_separability_tells_a_linear_attribute_from_one_z_does_not_hold():
    from dcgan_cli.vector_arithmetic.separability import separability

    g = torch.Generator().manual_seed(0)
    z = torch.randn(800, 8, generator=g)
    probs = torch.stack(
        [(z[:, 0] > 0).float(), torch.randint(0, 2, (800,), generator=g).float()], 1
    )  # A = sign of z0; B = coin flips
    rows = separability(SampleBank(z, probs, None, None), attributes_of(["A", "B"], []))
    assert rows[0]["accuracy"] > 0.95 and rows[0]["verdict"].startswith("linear")
    assert rows[1]["accuracy"] < 0.65 and rows[1]["verdict"].startswith("not linear")
    rows = separability(SampleBank(z[:20], probs[:20], None, None), attributes_of(["A", "B"], []))
    assert rows[0]["accuracy"] is None and "too few" in rows[0]["verdict"]


def test_a_number_before_an_operator_hints_at_digit_words():
    from dcgan_cli.attributes.phrases import ParseError

    with pytest.raises(ParseError, match="column 3.*write digits as words"):
        parse_expression("3 - 3 + 7")


@pytest.mark.parametrize("match,of,moved,verdict", [
    (6, 9, True, "changed as asked"),
    (5, 9, True, "partly changed (5 of 9)"),  # a bare majority leaves 4 results that did not change
    (3, 9, False, "partly kept (3 of 9)"),
    (2, 9, True, "wrong"),
    (9, 9, False, "kept"),
])
def test_a_verdict_needs_two_results_in_three(match, of, moved, verdict):
    from dcgan_cli.attributes.expectations import AttributeSummary

    assert AttributeSummary(["yellow"], {}, match, of, moved).verdict == verdict
