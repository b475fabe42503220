import pytest

from config.errors import ConfigError, MessageError
from tracker import IdentityVote


def test_nothing_before_evidence():
    vote = IdentityVote(threshold=0.5, margin=0.05)
    assert vote.person_id is None and vote.score == 0.0 and vote.observations == 0


def test_confirms_after_enough_evidence():
    vote = IdentityVote(threshold=0.5, margin=0.05)
    assert vote.add({"alice": 0.3, "bob": 0.2}) is False  # weak first look
    assert vote.person_id is None
    changes = [vote.add({"alice": 0.8, "bob": 0.2}) for _ in range(3)]
    # means after each: 0.55, 0.633, 0.675 -> named at the first one above threshold
    assert changes == [True, False, False]
    assert vote.person_id == "alice"
    assert vote.score == pytest.approx((0.3 + 3 * 0.8) / 4)
    assert vote.observations == 4


def test_single_candidate_can_be_named():
    vote = IdentityVote(threshold=0.5, margin=0.05)
    assert vote.add({"alice": 0.7}) is True
    assert vote.person_id == "alice"


def test_one_contrary_observation_does_not_rename():
    vote = IdentityVote(threshold=0.5, margin=0.05)
    for _ in range(5):
        vote.add({"alice": 0.8, "bob": 0.3})
    assert vote.person_id == "alice"
    assert vote.add({"bob": 0.9, "alice": 0.3}) is False
    assert vote.person_id == "alice"
    assert vote.score == pytest.approx((5 * 0.8 + 0.3) / 6)


def test_consistent_contrary_evidence_switches():
    vote = IdentityVote(threshold=0.5, margin=0.05)
    for _ in range(3):
        vote.add({"alice": 0.8, "bob": 0.3})
    changed = []
    for _ in range(10):
        changed.append(vote.add({"bob": 0.9, "alice": 0.3}))
    assert vote.person_id == "bob"
    assert changed.count(True) == 1  # switched once, directly, without flapping


def test_unknown_when_below_threshold():
    vote = IdentityVote(threshold=0.5, margin=0.05)
    for _ in range(10):
        assert vote.add({"alice": 0.45, "bob": 0.1}) is False
    assert vote.person_id is None
    assert vote.score == pytest.approx(0.45)  # best person's mean, though unnamed


def test_drops_to_unknown_only_below_threshold_minus_margin():
    vote = IdentityVote(threshold=0.5, margin=0.1)
    vote.add({"alice": 0.6})
    assert vote.person_id == "alice"
    vote.add({"alice": 0.4})  # mean 0.5
    vote.add({"alice": 0.35})  # mean 0.45: below threshold, inside the band
    assert vote.person_id == "alice"
    assert vote.add({}) is True  # empty observation scores 0 -> mean 0.3375
    assert vote.person_id is None


def test_margin_keeps_two_close_persons_unknown():
    vote = IdentityVote(threshold=0.5, margin=0.05)
    for _ in range(10):
        vote.add({"alice": 0.72, "bob": 0.70})
    assert vote.person_id is None
    assert vote.score == pytest.approx(0.72)


def test_absent_person_gets_the_observation_floor():
    vote = IdentityVote(threshold=0.5, margin=0.05)
    vote.add({"alice": 0.6, "bob": 0.4})
    vote.add({})  # nobody close: everyone scores 0
    vote.add({"carol": 0.9, "alice": 0.5})  # bob absent: gets 0.5
    means = vote.means
    assert means["alice"] == pytest.approx((0.6 + 0.0 + 0.5) / 3)
    assert means["bob"] == pytest.approx((0.4 + 0.0 + 0.5) / 3)
    assert means["carol"] == pytest.approx((0.4 + 0.0 + 0.9) / 3)  # first seen late: floors before


def test_bad_inputs_are_rejected():
    with pytest.raises(ConfigError, match="margin"):
        IdentityVote(threshold=0.5, margin=-0.1)
    vote = IdentityVote(threshold=0.5, margin=0.05)
    with pytest.raises(MessageError, match="alice"):
        vote.add({"alice": float("nan")})
    assert vote.observations == 0
