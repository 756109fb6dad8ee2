"""Workflow rules: members, job status changes, review sampling, reviewer choice, who may take what, task ids."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from annolake_service.domain.workflow import (
    JobSpec,
    JobStatus,
    TaskKind,
    job_of_task,
    lease_end,
    least_loaded,
    may_take,
    needs_review,
    principal_id,
    rejection_rate,
    review_sampled,
    status_change_allowed,
    task_id,
)
from pydantic import ValidationError


@pytest.mark.parametrize(
    ("given", "expected"),
    [("alice", "user:alice"), ("ak_12ab", "key:ak_12ab"), ("user:bob", "user:bob"), ("key:ak_9", "key:ak_9")],
)
def test_member_names(given, expected):
    assert principal_id(given) == expected


@pytest.mark.parametrize("bad", ["", "two words", "a/b", "x" * 200])
def test_bad_member_names_are_refused(bad):
    with pytest.raises(ValueError, match="not a member name"):
        principal_id(bad)


def test_job_spec_normalizes_and_checks_consensus():
    spec = JobSpec(name="j", datasets=["a", "a", " b "], annotators=["alice", "user:alice", "bob"], consensus=2)
    assert spec.datasets == ["a", "b"]
    assert spec.annotators == ["user:alice", "user:bob"]
    with pytest.raises(ValidationError, match="consensus 3 needs at least 3 annotators"):
        JobSpec(name="j", datasets=["a"], annotators=["alice", "bob"], consensus=3)
    with pytest.raises(ValidationError):
        JobSpec(name="j", datasets=["a"], consensus=6)
    with pytest.raises(ValidationError):
        JobSpec(name="j", datasets=[], consensus=1)
    with pytest.raises(ValidationError):
        JobSpec(name="j", datasets=["a"], review_rate=1.5)


@pytest.mark.parametrize("names", [[" "], ["a", "  "], [""]])
def test_a_blank_dataset_name_is_refused_not_stripped_into_an_empty_job(names):
    # Stripping a blank name after the length check used to leave ``datasets == []``: accepted on write,
    # refused by every later read of the job.
    with pytest.raises(ValidationError, match="datasets may not contain a blank name"):
        JobSpec(name="j", datasets=names)
    with pytest.raises(ValidationError, match="label_names may not contain a blank name"):
        JobSpec(name="j", datasets=["a"], label_names=names)
    stored = JobSpec(name="j", datasets=["a"]).model_dump()
    with pytest.raises(ValidationError):
        JobSpec.model_validate({**stored, "datasets": names})


def test_status_changes():
    allowed = {(a, b) for a in JobStatus for b in JobStatus if status_change_allowed(a, b) and a != b}
    assert allowed == {
        (JobStatus.DRAFT, JobStatus.ARCHIVED),
        (JobStatus.ACTIVE, JobStatus.PAUSED),
        (JobStatus.ACTIVE, JobStatus.ARCHIVED),
        (JobStatus.PAUSED, JobStatus.ACTIVE),
        (JobStatus.PAUSED, JobStatus.ARCHIVED),
        (JobStatus.COMPLETE, JobStatus.ARCHIVED),
    }


def test_review_sampling_is_stable_and_follows_the_rate():
    files = [f"f{i}" for i in range(4000)]
    picked = [f for f in files if review_sampled("job_1", f, 0.25)]
    assert 0.22 < len(picked) / len(files) < 0.28
    assert picked == [f for f in files if review_sampled("job_1", f, 0.25)]
    assert all(review_sampled("job_1", f, 1.0) for f in files[:50])
    assert not any(review_sampled("job_1", f, 0.0) for f in files[:50])


def test_low_agreement_forces_review_only_with_consensus():
    assert needs_review(sampled=True, consensus=1, agreement=None, agreement_threshold=0.5)
    assert needs_review(sampled=False, consensus=2, agreement=0.3, agreement_threshold=0.5)
    assert not needs_review(sampled=False, consensus=2, agreement=0.8, agreement_threshold=0.5)
    assert not needs_review(sampled=False, consensus=1, agreement=None, agreement_threshold=0.5)


def test_review_goes_to_the_least_loaded_reviewer_who_did_not_annotate():
    load = {"user:a": 3, "user:b": 1, "user:c": 1}
    assert least_loaded(["user:a", "user:b", "user:c"], load) == "user:b"  # ties: by name
    assert least_loaded(["user:a", "user:b", "user:c"], load, excluded=["user:b"]) == "user:c"
    assert least_loaded(["user:a"], load, excluded=["user:a"]) is None


def test_who_may_take_which_task():
    common = {"excluded": (), "annotators": ["user:a"], "reviewers": ["user:r"]}
    assert may_take(kind=TaskKind.ANNOTATE, caller="user:a", caller_can_review=False, **common)
    assert not may_take(kind=TaskKind.ANNOTATE, caller="user:x", caller_can_review=True, **common)
    assert may_take(kind=TaskKind.REVIEW, caller="user:r", caller_can_review=True, **common)
    assert not may_take(kind=TaskKind.REVIEW, caller="user:r", caller_can_review=False, **common)
    assert not may_take(
        kind=TaskKind.REVIEW, caller="user:r", excluded=["user:r"], annotators=[], reviewers=[], caller_can_review=True
    )
    open_job = {"excluded": (), "annotators": [], "reviewers": []}
    assert may_take(kind=TaskKind.ANNOTATE, caller="user:anyone", caller_can_review=False, **open_job)


def test_task_ids_are_deterministic_and_name_their_job():
    first = task_id("job_abc", "f1", TaskKind.ANNOTATE, 0, 1)
    assert first == task_id("job_abc", "f1", TaskKind.ANNOTATE, 0, 1)
    assert first != task_id("job_abc", "f1", TaskKind.ANNOTATE, 0, 0)
    assert job_of_task(first) == "job_abc"
    assert job_of_task("nonsense") is None


def test_lease_and_rejection_rate():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert (lease_end(start, 90) - start).total_seconds() == 90
    assert rejection_rate(3, 1) == 0.25
    assert rejection_rate(0, 0) is None
