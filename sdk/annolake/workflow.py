"""Jobs, tasks and webhooks: ``project.job``, ``project.task``, ``project.webhook``.

```python
job = project.job.new(name="street", directories=["default"], review_rate=0.2, consensus=2,
                      members=["alice", "bob", {"principal": "carol", "role": "reviewer"}])
job.launch()
task = project.task.next()            # None when there is nothing for you
task.submit(task.instance_list)       # annotate tasks
# pre-labelled from a prediction run: tasks start from its predictions scoring 0.5 or more
job = project.job.new(name="street", directories=["default"], prelabel=run, min_score=0.5)
task.submit(task.instance_list + task.draft)   # accept the draft (changed ones are recorded as edited)
task.review("request_changes", comment="the bus is missing")   # review tasks
job.stats()
```
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from annolake._scope import Scope, scope_of


def _split_members(members: list[Any] | None) -> tuple[list[str], list[str]]:
    """``members``: names (annotators) or ``{"principal"|"user"|"client_id": name, "role": "annotator"|"reviewer"}``."""
    annotators: list[str] = []
    reviewers: list[str] = []
    for member in members or []:
        if isinstance(member, str):
            annotators.append(member)
            continue
        name = member.get("principal") or member.get("user") or member.get("client_id")
        role = member.get("role", "annotator")
        if not name or role not in ("annotator", "reviewer"):
            raise ValueError(f"member {member!r}: give a name and a role of 'annotator' or 'reviewer'")
        (reviewers if role == "reviewer" else annotators).append(name)
    return annotators, reviewers


@dataclass
class Job:
    """A labelling job: settings, status, its tasks and statistics (``project.job.new(...)`` makes one)."""

    scope: Scope = field(repr=False)
    data: dict[str, Any]

    def __post_init__(self) -> None:
        self.scope = scope_of(self.scope)

    @property
    def project(self) -> Any:
        """The ``Project`` this job was read through (None if made from a bare ``Scope``)."""
        return self.scope.owner

    @property
    def id(self) -> str:
        return self.data["job_id"]

    @property
    def status(self) -> str:
        return self.data["status"]

    @property
    def _path(self) -> str:
        return f"{self.scope.path}/jobs/{quote(self.id, safe='')}"

    def refresh(self) -> Job:
        self.data = self.scope.api.get(self._path)
        return self

    def launch(self) -> Job:
        """Start the job: every file of its datasets (and, with ``sync``, every new one) gets its tasks."""
        self.data = self.scope.api.post(f"{self._path}/launch", {})
        return self

    def update(self, **changes: Any) -> Job:
        """Change settings or status (``status="paused"``, ``"active"``, ``"archived"``)."""
        self.data = self.scope.api.patch(self._path, changes)
        return self

    def stats(self) -> dict[str, Any]:
        return self.scope.api.get(f"{self._path}/stats")

    def tasks(self, *, status: str | None = None, kind: str | None = None) -> list[Task]:
        found: list[Task] = []
        cursor = None
        while True:
            page = self.scope.api.get(f"{self._path}/tasks", status=status, kind=kind, cursor=cursor, limit=500)
            found += [Task(self.scope, t) for t in page["tasks"]]
            cursor = page["cursor"]
            if not cursor:
                return found

    def redrive(self) -> list[str]:
        """Restart the workflows of files whose workflow failed; returns their file ids."""
        return self.scope.api.post(f"{self._path}/redrive", {})["restarted"]


class Jobs:
    """``project.job``: create, get and list jobs."""

    def __init__(self, scope: Any) -> None:
        self.scope: Scope = scope_of(scope)

    def new(
        self,
        name: str,
        directories: list[str],
        *,
        instructions: str = "",
        label_names: list[str] | None = None,
        members: list[Any] | None = None,
        annotators: list[str] | None = None,
        reviewers: list[str] | None = None,
        review_rate: float = 0.0,
        consensus: int = 1,
        task_timeout_seconds: int = 3600,
        mode: str = "sync",
        agreement_threshold: float = 0.5,
        prelabel: Any = None,
        min_score: float | None = None,
        video_segment: dict[str, int] | None = None,
    ) -> Job:
        """A draft job over ``directories`` (dataset names); ``launch()`` starts it. ``prelabel``: a completed
        prediction run (or its id) whose predictions scoring ``min_score`` or more start each annotate task.
        ``video_segment={"frames": N, "overlap": K}``: a task per N frames of each video (default: per video)."""
        from_members, reviewers_from_members = _split_members(members)
        body = {
            "name": name,
            "instructions": instructions,
            "label_names": label_names or [],
            "datasets": directories,
            "mode": mode,
            "annotators": [*(annotators or []), *from_members],
            "reviewers": [*(reviewers or []), *reviewers_from_members],
            "review_rate": review_rate,
            "consensus": consensus,
            "task_timeout_seconds": task_timeout_seconds,
            "agreement_threshold": agreement_threshold,
            "prelabel": getattr(prelabel, "run_id", prelabel),
            "min_score": min_score,
        }
        if video_segment is not None:
            body["video_segment"] = video_segment
        return Job(self.scope, self.scope.api.post(f"{self.scope.path}/jobs", body))

    def get(self, job_id: str) -> Job:
        return Job(self.scope, self.scope.api.get(f"{self.scope.path}/jobs/{quote(job_id, safe='')}"))

    def list(self) -> list[Job]:
        return [Job(self.scope, j) for j in self.scope.api.get_all(f"{self.scope.path}/jobs", "jobs")]


@dataclass
class Task:
    """One unit of work on one file: annotate (``submit``) or review (``review``); ``load()`` fetches its detail."""

    scope: Scope = field(repr=False)
    data: dict[str, Any]
    detail: dict[str, Any] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.scope = scope_of(self.scope)

    @property
    def project(self) -> Any:
        """The ``Project`` this task was read through (None if made from a bare ``Scope``)."""
        return self.scope.owner

    @property
    def id(self) -> str:
        return self.data["task_id"]

    @property
    def kind(self) -> str:
        return self.data["kind"]

    @property
    def file_id(self) -> str:
        return self.data["file_id"]

    @property
    def frames(self) -> tuple[int, int] | None:
        """A video segment task's first and last frames (inclusive); None for a task over a whole file."""
        start, end = self.data.get("frame_start"), self.data.get("frame_end")
        return None if start is None or end is None else (start, end)

    @property
    def comment(self) -> str | None:
        """What the reviewer asked to change, on a task sent back."""
        return self.data.get("comment")

    @property
    def _path(self) -> str:
        return f"{self.scope.path}/tasks/{quote(self.id, safe='')}"

    def load(self) -> Task:
        """Fetch the file (with short-lived URLs), its current annotations and, for reviews, the submissions."""
        self.detail = self.scope.api.get(self._path)
        self.data = self.detail["task"]
        return self

    @property
    def instance_list(self) -> list[dict[str, Any]]:
        if self.detail is None:
            self.load()
        return self.detail["instance_list"]  # type: ignore[index]

    @property
    def draft(self) -> list[dict[str, Any]]:
        """In a pre-labelled job, the model's predictions this task starts from (``[]`` otherwise); nothing is
        saved until you submit. Submit those you keep with their ``prediction``, changed or not."""
        if self.detail is None:
            self.load()
        return ((self.detail or {}).get("draft") or {}).get("instance_list", [])

    @property
    def version(self) -> int:
        if self.detail is None:
            self.load()
        return self.detail["version"]  # type: ignore[index]

    def submit(self, instance_list: list[dict[str, Any]]) -> dict[str, Any]:
        """Save your work on an annotate task (against the version you loaded); a repeat is not applied twice."""
        version = self.detail["version"] if self.detail else None
        outcome = self.scope.api.post(f"{self._path}/submit", {"instance_list": instance_list, "version": version})
        self.data = outcome["task"]
        return outcome

    def review(self, decision: str, comment: str = "", *, send_back_to: str | None = None) -> dict[str, Any]:
        """``"approve"`` or ``"request_changes"`` (with a comment for the annotator)."""
        body = {"decision": decision, "comment": comment, "send_back_to": send_back_to}
        outcome = self.scope.api.post(f"{self._path}/review", body)
        self.data = outcome["task"]
        return outcome

    def release(self) -> None:
        """Give the task back to the queue."""
        self.data = self.scope.api.post(f"{self._path}/release", {})["task"]


class Tasks:
    """``project.task``: your next task, or one by id."""

    def __init__(self, scope: Any) -> None:
        self.scope: Scope = scope_of(scope)

    def next(self, job: Job | str | None = None, *, kind: str | None = None) -> Task | None:
        """Your task in progress, else the next available one (of ``job``, or of every active job), else None."""
        job_id = job.id if isinstance(job, Job) else job
        answer = self.scope.api.post(f"{self.scope.path}/tasks/next", {"job_id": job_id, "kind": kind})
        return Task(self.scope, answer["task"]) if answer["task"] else None

    def get(self, task_id: str) -> Task:
        return Task(self.scope, {"task_id": task_id}).load()


class Webhooks:
    """``project.webhook``: subscriptions to events, and their failed deliveries."""

    def __init__(self, scope: Any) -> None:
        self.scope: Scope = scope_of(scope)

    @property
    def _path(self) -> str:
        return f"{self.scope.path}/webhooks"

    def new(self, url: str, events: list[str], *, secret: str | None = None, description: str = "") -> dict[str, Any]:
        """Subscribe ``url``; the answer carries the signing ``secret`` (shown this once)."""
        body = {"url": url, "events": events, "secret": secret, "description": description}
        return self.scope.api.post(self._path, body)

    def list(self) -> list[dict[str, Any]]:
        return self.scope.api.get_all(self._path, "webhooks")

    def delete(self, webhook_id: str) -> None:
        self.scope.api.delete(f"{self._path}/{quote(webhook_id, safe='')}")

    def failures(self, webhook_id: str) -> builtins.list[dict[str, Any]]:  # ``list`` is the method above
        """Deliveries that failed after their retries, with the receiver's last answer."""
        return self.scope.api.get_all(f"{self._path}/{quote(webhook_id, safe='')}/failures", "failures")

    def redeliver(self, webhook_id: str, failure_id: str) -> dict[str, Any]:
        return self.scope.api.post(
            f"{self._path}/{quote(webhook_id, safe='')}/failures/{quote(failure_id, safe='')}/redeliver", {}
        )
