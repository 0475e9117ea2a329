"""One validator style: configs, checkpoint metadata and cache manifests are Records."""

from dataclasses import dataclass, field

import pytest

from dcgan_cli.core.checkpoint import CheckpointMeta
from dcgan_cli.core.configs import ModelConfig
from dcgan_cli.core.records import ConfigError, Record
from dcgan_cli.data.cache import Manifest


@dataclass(frozen=True)
class Inner(Record):
    _what = "inner"
    n: int = 0


@dataclass(frozen=True)
class Outer(Record):
    _what = "outer"
    inner: Inner
    names: list[str] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)
    maybe: Inner | None = None


@pytest.mark.parametrize(
    "d, message",
    [
        ({"inner": {"n": 1.5}}, "inner.n must be a whole number, got 1.5"),
        ({"inner": {"n": True}}, "inner.n must be a whole number, got True"),
        ({"inner": [1]}, "inner must be an object"),
        ({"inner": None}, "inner must be an object"),
        ({}, "inner is missing"),
        ({"inner": {}, "names": ["a", 2]}, "names must be a list of names"),
        ({"inner": {}, "scores": {"a": float("nan")}}, "scores must map names to finite numbers"),
        ({"inner": {}, "maybe": {"n": "x"}}, "maybe.n must be a whole number"),
        ({"inner": {}, "typo": 1}, "typo is not one of the outer"),
    ],
)
def test_every_field_is_checked_and_named(d, message):
    with pytest.raises(ConfigError, match=None) as e:
        Outer.from_dict(d)
    assert message in str(e.value)


def test_a_record_round_trips():
    o = Outer.from_dict({"inner": {"n": 3}, "names": ["a"], "scores": {"x": 1}, "maybe": {"n": 1}})
    assert o.inner == Inner(3) and o.maybe == Inner(1) and o.scores == {"x": 1}
    assert Outer.from_dict(o.to_dict()) == o


def test_checkpoint_metadata_and_manifests_are_records():
    meta = CheckpointMeta.from_dict({"format_version": 1, "model": ModelConfig().to_dict(), "future_field": 1})
    assert meta.model == ModelConfig() and meta.step == 0  # unknown fields from a newer writer are ignored
    with pytest.raises(ConfigError, match="step must be a whole number >= 0"):
        CheckpointMeta.from_dict({"format_version": 1, "model": {}, "step": -1})
    good = {"dataset": "shapes", "split": "train", "size": 32, "shape": [8, 3, 32, 32], "label_names": [], "groups": []}
    assert Manifest.from_dict(good).shape == [8, 3, 32, 32]
    with pytest.raises(ConfigError, match="shape must be"):
        Manifest.from_dict(good | {"shape": [8, 2, 32, 32]})
