"""Class names with spaces, hyphens and slashes are words in arithmetic, --label, --from/--to and the explorer."""

import pytest

from dcgan_cli.attributes.expectations import attributes_of
from dcgan_cli.attributes.phrases import concept_word, parse_expression, phrase_constraints, vocabulary
from dcgan_cli.core.errors import UsageError
from dcgan_cli.latent.labelled import phrase_want

FOLDER = ["T-shirt/top", "Trouser", "Ankle boot", "Bag"]
FASHION = ["tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"]


def words(text, vocab):
    return [(t.coef, t.words) for t in parse_expression(text, vocab=vocab)]


def test_class_names_become_concept_words():
    assert [concept_word(n) for n in FOLDER] == ["t_shirt_top", "trouser", "ankle_boot", "bag"]
    assert sorted(vocabulary("folder", FOLDER)) == ["ankle_boot", "bag", "t_shirt_top", "trouser"]


@pytest.mark.parametrize("text", ["t-shirt/top + trouser", "T-shirt/top + Trouser", "t_shirt_top + trouser",
                                  "'T-shirt/top' + trouser", '"t-shirt/top"+trouser'])
def test_a_class_name_is_found_as_written_joined_or_quoted(text):
    assert words(text, vocabulary("folder", FOLDER)) == [(1.0, ("t_shirt_top",)), (1.0, ("trouser",))]


def test_words_that_together_name_a_class_join_and_a_hyphen_that_names_none_subtracts():
    v = vocabulary("folder", FOLDER)
    assert words("ankle boot - bag + trouser", v) == [(1.0, ("ankle_boot",)), (-1.0, ("bag",)), (1.0, ("trouser",))]
    assert words("bag-trouser", v) == [(1.0, ("bag",)), (-1.0, ("trouser",))]
    assert words("woman-man", None) == [(1.0, ("woman",)), (-1.0, ("man",))]  # as before, with no vocabulary


def test_fashion_mnist_takes_its_documented_class_names():
    v = vocabulary("fashion-mnist", FASHION)
    assert words("t-shirt + trousers", v) == [(1.0, ("t_shirt",)), (1.0, ("trousers",))]
    phrase_constraints(parse_expression("ankle boot - boot + T-shirt/top", vocab=v), v, "fashion-mnist")
    assert v["ankle_boot"] == v["boot"] and v["t_shirt_top"] == v["tshirt"]


def test_label_takes_a_class_of_several_words_and_an_unknown_word_says_how_to_write_one():
    attrs = attributes_of(FOLDER, [FOLDER])
    assert phrase_want("ankle boot", "folder", FOLDER, attrs) == phrase_want("'Ankle boot'", "folder", FOLDER, attrs)
    with pytest.raises(UsageError, match=r"unknown concept word 'ankle'.*ankle_boot.*with _ for its spaces"):
        v = vocabulary("folder", FOLDER)
        phrase_constraints(parse_expression("ankle - bag", vocab=v), v, "folder")
