"""WordNet relations for the event alignment (Debian's WordNet 3.0 through NLTK)."""

from __future__ import annotations

import pytest

from robustclap.contracts.errors import RobustclapError
from robustclap.quality import wordnet


@pytest.mark.parametrize(("caption", "cand", "relation"), [
    (("car", "NOUN"), ("auto", "NOUN"), wordnet.SYNONYM),
    (("footstep", "NOUN"), ("step", "NOUN"), wordnet.SYNONYM),
    (("answer", "VERB"), ("respond", "VERB"), wordnet.SYNONYM),
    (("loudly", "ADV"), ("loud", "ADJ"), wordnet.SYNONYM),  # related form
    (("car", "NOUN"), ("vehicle", "NOUN"), wordnet.GENERAL),  # fine: more general
    (("bird", "NOUN"), ("songbird", "NOUN"), wordnet.SPECIFIC),  # an addition
    (("metal", "NOUN"), ("steel", "NOUN"), wordnet.SPECIFIC),
    (("hoot", "VERB"), ("hop", "VERB"), None),  # a different sound
    (("go", "VERB"), ("break", "VERB"), None),  # only rare senses share a synset
])
def test_relations_follow_the_labelling_guide(caption, cand, relation):
    assert wordnet.relation(*caption, *cand) == relation


def test_the_resource_identity_names_the_version():
    assert wordnet.version() == "wordnet-3.0"


def test_a_missing_database_is_one_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("ROBUSTCLAP_WORDNET", str(tmp_path))
    with pytest.raises(RobustclapError, match="apt-get install wordnet-base"):
        wordnet.reader_dir()
