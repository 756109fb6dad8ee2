"""Jobs, tasks and webhooks: ``project.job``, ``project.task``, ``project.webhook``.

```python
job = project.job.new(name="street", directories=["default"], review_rate=0.2, consensus=2,
                      members=["alice", "bob", {"principal": "carol", "role": "reviewer"}])
job.launch()
task = project.task.next()            # None when there is nothing for you
task.submit(task.instance_list)       # annotate tasks
task.review("request_changes", comment="the bus is missing")   # review tasks
job.stats()
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from annolake.project import Project


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
    project: Project = field(repr=False)
    data: dict[str, Any]

    @property
    def id(self) -> str:
        return self.data["job_id"]

    @property
    def status(self) -> str:
        return self.data["status"]

    @property
    def _path(self) -> str:
        return f"{self.project._path}/jobs/{quote(self.id, safe='')}"

    def refresh(self) -> Job:
        self.data = self.project.client.get(self._path)
        return self

    def launch(self) -> Job:
        """Start the job: every file of its datasets (and, with ``sync``, every new one) gets its tasks."""
        self.data = self.project.client.post(f"{self._path}/launch", {})
        return self

    def update(self, **changes: Any) -> Job:
        """Change settings or status (``status="paused"``, ``"active"``, ``"archived"``)."""
        self.data = self.project.client.patch(self._path, changes)
        return self

    def stats(self) -> dict[str, Any]:
        return self.project.client.get(f"{self._path}/stats")

    def tasks(self, *, status: str | None = None, kind: str | None = None) -> list[Task]:
        found: list[Task] = []
        cursor = None
        while True:
            page = self.project.client.get(f"{self._path}/tasks", status=status, kind=kind, cursor=cursor, limit=500)
            found += [Task(self.project, t) for t in page["tasks"]]
            cursor = page["cursor"]
            if not cursor:
                return found

    def redrive(self) -> list[str]:
        """Restart the workflows of files whose workflow failed; returns their file ids."""
        return self.project.client.post(f"{self._path}/redrive", {})["restarted"]


class Jobs:
    def __init__(self, project: Project) -> None:
        self._project = project

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
    ) -> Job:
        """A draft job over ``directories`` (dataset names); ``launch()`` starts it."""
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
        }
        return Job(self._project, self._project.client.post(f"{self._project._path}/jobs", body))

    def get(self, job_id: str) -> Job:
        return Job(self._project, self._project.client.get(f"{self._project._path}/jobs/{quote(job_id, safe='')}"))

    def list(self) -> list[Job]:
        return [Job(self._project, j) for j in self._project.client.get(f"{self._project._path}/jobs")["jobs"]]


@dataclass
class Task:
    project: Project = field(repr=False)
    data: dict[str, Any]
    detail: dict[str, Any] | None = field(default=None, repr=False)

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
    def comment(self) -> str | None:
        """What the reviewer asked to change, on a task sent back."""
        return self.data.get("comment")

    @property
    def _path(self) -> str:
        return f"{self.project._path}/tasks/{quote(self.id, safe='')}"

    def load(self) -> Task:
        """Fetch the file (with short-lived URLs), its current annotations and, for reviews, the submissions."""
        self.detail = self.project.client.get(self._path)
        self.data = self.detail["task"]
        return self

    @property
    def instance_list(self) -> list[dict[str, Any]]:
        if self.detail is None:
            self.load()
        return self.detail["instance_list"]  # type: ignore[index]

    @property
    def version(self) -> int:
        if self.detail is None:
            self.load()
        return self.detail["version"]  # type: ignore[index]

    def submit(self, instance_list: list[dict[str, Any]]) -> dict[str, Any]:
        """Save your work on an annotate task (against the version you loaded); a repeat is not applied twice."""
        version = self.detail["version"] if self.detail else None
        outcome = self.project.client.post(f"{self._path}/submit", {"instance_list": instance_list, "version": version})
        self.data = outcome["task"]
        return outcome

    def review(self, decision: str, comment: str = "", *, send_back_to: str | None = None) -> dict[str, Any]:
        """``"approve"`` or ``"request_changes"`` (with a comment for the annotator)."""
        body = {"decision": decision, "comment": comment, "send_back_to": send_back_to}
        outcome = self.project.client.post(f"{self._path}/review", body)
        self.data = outcome["task"]
        return outcome

    def release(self) -> None:
        """Give the task back to the queue."""
        self.data = self.project.client.post(f"{self._path}/release", {})["task"]


class Tasks:
    def __init__(self, project: Project) -> None:
        self._project = project

    def next(self, job: Job | str | None = None, *, kind: str | None = None) -> Task | None:
        """Your task in progress, else the next available one (of ``job``, or of every active job), else None."""
        job_id = job.id if isinstance(job, Job) else job
        answer = self._project.client.post(f"{self._project._path}/tasks/next", {"job_id": job_id, "kind": kind})
        return Task(self._project, answer["task"]) if answer["task"] else None

    def get(self, task_id: str) -> Task:
        return Task(self._project, {"task_id": task_id}).load()


class Webhooks:
    def __init__(self, project: Project) -> None:
        self._project = project

    @property
    def _path(self) -> str:
        return f"{self._project._path}/webhooks"

    def new(self, url: str, events: list[str], *, secret: str | None = None, description: str = "") -> dict[str, Any]:
        """Subscribe ``url``; the answer carries the signing ``secret`` (shown this once)."""
        body = {"url": url, "events": events, "secret": secret, "description": description}
        return self._project.client.post(self._path, body)

    def list(self) -> list[dict[str, Any]]:
        return self._project.client.get(self._path)["webhooks"]

    def delete(self, webhook_id: str) -> None:
        self._project.client.delete(f"{self._path}/{quote(webhook_id, safe='')}")

    def failures(self, webhook_id: str) -> list[dict[str, Any]]:
        """Deliveries that failed after their retries, with the receiver's last answer."""
        return self._project.client.get(f"{self._path}/{quote(webhook_id, safe='')}/failures")["failures"]

    def redeliver(self, webhook_id: str, failure_id: str) -> dict[str, Any]:
        return self._project.client.post(
            f"{self._path}/{quote(webhook_id, safe='')}/failures/{quote(failure_id, safe='')}/redeliver", {}
        )
