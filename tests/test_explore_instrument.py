"""The explorer as an instrument (its routes; the browser test drags the sliders): concept sliders,
samples picked by a class word, and answers that name no path of this machine."""

import json
from pathlib import Path

from .conftest import finish


def test_a_concept_slider_moves_what_the_classifier_reads(client, shapes_classifier):  # noqa: F811
    j = finish(client, "steer", {"ref": "seed:0", "concept": "square"})
    assert j["state"] == "done", j
    r = j["result"]
    n = len(r["positions"])
    assert len(r["frames"]) == len(r["reads"]) == len(r["probs"]) == n == 17
    assert r["positions"][0] == -1 and r["positions"][n // 2] == 0 and r["positions"][-1] == 1
    assert r["probs"][-1] > 0.8 and r["reads"][-1].startswith("square")
    assert r["probs"][0] <= r["probs"][n // 2] <= r["probs"][-1]
    assert "square" in r["lines"][0]


def test_the_slider_s_concepts_are_the_data_set_s_label_values(client):  # noqa: F811
    concepts = client.get("/api/run").json()["concepts"]
    assert {"circle", "square", "triangle", "red", "blue", "small", "large"} <= set(concepts)
    j = finish(client, "steer", {"ref": "seed:0", "concept": "hexagon"})
    assert j["state"] == "failed" and "no concept 'hexagon'" in j["error"] and "square" in j["error"]


def test_samples_are_found_by_a_class_word(client, shapes_classifier):  # noqa: F811
    j = finish(client, "label", {"phrase": "red square", "n": 12})
    assert j["state"] == "done", j
    seeds = j["result"]["seeds"]
    assert len(seeds) == 12 and seeds == sorted(seeds)
    assert "samples read as red square" in j["result"]["lines"][0]
    read = finish(client, "read", {"seed": seeds[0]})["result"]["read"]
    assert read["circle/square/triangle"]["value"] == "square" and read["red/green/blue/yellow"]["value"] == "red"
    bad = finish(client, "label", {"phrase": "red - square"})
    assert bad["state"] == "failed" and "not an expression" in bad["error"]


def _strings(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str):
        yield value


def test_no_answer_names_a_path_of_this_machine(client, shapes_classifier):  # noqa: F811
    roots = {str(client.run.resolve().parent), str(client.uploads.resolve()), str(Path.home())}
    answers = [client.get("/api/run").json(), client.get("/api/samples", params={"seeds": "0-3"}).json(),
               client.post("/api/export", json={"a": "seed:1", "b": "seed:2", "steps": 3}).json(),
               client.get("/api/interpolate", params={"a": "z:999", "b": "seed:1"}).json()]
    up = client.post("/api/upload", content=b"not a picture", headers={"X-Filename": "x.png"}).json()
    answers.append(up)
    for kind, payload in (("read", {"seed": 1}), ("neighbours", {"seed": 1})):
        answers.append(finish(client, kind, payload))
    text = json.dumps(answers)
    for root in roots:
        leaks = [s for s in _strings(answers) if root in s]
        assert not leaks, (root, leaks[:3])
    assert client.run.name in text  # the run is named, by its folder's name
    import re

    anywhere = [s for s in _strings(answers) if re.search(r"(^|[\s(=])/(tmp|home|root|usr|etc|var|opt|work)/", s)]
    assert not anywhere, anywhere[:3]  # not even the data cache the checkpoint recorded on the machine it was trained on
