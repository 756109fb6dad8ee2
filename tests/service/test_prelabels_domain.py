"""The pre-labelling rules on their own: what a draft offers, when a kept prediction counts as accepted or edited,
and the tally of one save."""

from __future__ import annotations

import pytest
from annolake_service.domain import prelabels
from annolake_service.domain.instances import InvalidInstances, parse_instance_list

CAR = {"type": "box", "name": "car", "x_min": 10.0, "y_min": 10.0, "x_max": 30.0, "y_max": 20.0}
PREDICTED = [
    {**CAR, "score": 0.95, "source": "model", "model": "det", "version": 2, "run": "pr_1"},
    {**CAR, "name": "truck", "x_min": 40.0, "x_max": 60.0, "score": 0.55, "source": "model", "model": "det"},
    {"type": "tag", "name": "street", "score": 0.8, "source": "model"},
]
RUN = prelabels.RunPredictions("pr_1", "det", 2, PREDICTED)


def _saved(*instances):
    """As a save validates them, then stamped."""
    checked = [i.model_dump(exclude_none=True) for i in parse_instance_list(list(instances), width=100, height=100)]
    return prelabels.stamp(checked, {"pr_1": RUN})


def test_a_draft_holds_the_predictions_at_or_above_min_score_of_the_jobs_labels_not_yet_taken():
    draft = prelabels.draft(RUN, min_score=0.55, labels=())
    assert [d["prediction"]["index"] for d in draft] == [0, 1, 2]
    assert draft[0] == {
        **CAR,
        "source": "model",
        "prediction": {"run": "pr_1", "index": 0, "model": "det", "version": 2, "score": 0.95},
    }
    assert [d["prediction"]["index"] for d in prelabels.draft(RUN, min_score=0.56)] == [0, 2]
    assert [d["prediction"]["index"] for d in prelabels.draft(RUN, min_score=None, labels=["truck"])] == [1]
    assert [d["prediction"]["index"] for d in prelabels.draft(RUN, min_score=None, taken=[0, 2])] == [1]
    assert parse_instance_list(draft, width=100, height=100)  # a draft is a valid instance list as it stands


def test_kept_unchanged_is_accepted_within_a_hundredth_of_a_pixel_and_whatever_its_attributes():
    draft = prelabels.draft(RUN, min_score=None)
    nudged = {**draft[0], "x_min": 10.009, "attributes": {"occluded": True}}
    relabelled = {**draft[1], "name": "car"}
    [accepted, edited] = _saved(nudged, relabelled)
    assert accepted["source"] == "accepted" and edited["source"] == "edited"
    [moved] = _saved({**draft[0], "x_min": 10.02})
    assert moved["source"] == "edited"
    [tag] = _saved(draft[2])
    assert tag["source"] == "accepted" and tag["prediction"]["score"] == 0.8


def test_a_claimed_source_needs_its_prediction_and_a_prediction_is_claimed_once():
    with pytest.raises(InvalidInstances, match="source 'edited' is set by the server"):
        parse_instance_list([{**CAR, "source": "edited"}], width=100, height=100)
    with pytest.raises(InvalidInstances, match="prediction 3 of run pr_1"):
        _saved({**CAR, "prediction": {"run": "pr_1", "index": 3}})
    with pytest.raises(InvalidInstances, match="prediction 0 of run pr_2"):
        _saved({**CAR, "prediction": {"run": "pr_2", "index": 0}})
    with pytest.raises(InvalidInstances, match="instances 0 and 1 both name prediction 0"):
        _saved({**CAR, "prediction": {"run": "pr_1", "index": 0}}, {**CAR, "prediction": {"run": "pr_1", "index": 0}})


def test_the_tally_of_a_save_counts_accepted_edited_deleted_and_drawn():
    draft = prelabels.draft(RUN, min_score=None)
    drawn = {**CAR, "name": "person"}
    kept_from_before = {**CAR, "id": "in_1", "root_id": "in_1", "version": 1}  # an earlier human instance
    stamped = _saved(draft[0], {**draft[1], "y_max": 25.0}, drawn)
    counts = prelabels.tally([0, 1, 2], "pr_1", [*stamped, kept_from_before])
    assert counts == {"offered": 3, "accepted": 1, "edited": 1, "deleted": 1, "drawn": 1}
    assert prelabels.rates(counts) == {"acceptance_rate": 0.3333, "edit_rate": 0.3333, "deletion_rate": 0.3333}
    assert prelabels.rates({"offered": 0}) == {"acceptance_rate": None, "edit_rate": None, "deletion_rate": None}
