"""Models in the loop: register an ONNX model, predict a dataset or slice, follow the run, evaluate it against
the human annotations and pick the most uncertain unlabelled files (``project.model``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tqdm.auto import tqdm  # type: ignore[import-untyped]

from annolake._scope import Scope
from annolake.errors import RunFailed

__all__ = ["Model", "Models", "PredictionRun", "RunFailed", "describe_progress"]

ACTIVE = ("queued", "running")
PAGE_MOST = 1000  # the most items one page of a run's listings may hold (the API refuses a larger limit)


class Models:
    """``project.model``: ``new`` registers a version, ``get`` and ``list`` read what is registered."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def new(
        self,
        name: str,
        *,
        path: str | Path | None = None,
        host: str = "onnx",
        format: str | None = None,  # noqa: A002 - the contract's name
        labels: list[str],
        label_map: dict[str, str] | None = None,
        ignore: list[str] | None = None,
        input_size: int = 640,
        normalisation: dict[str, Any] | None = None,
        score_threshold: float = 0.25,
        nms_iou: float = 0.45,
        url: str | None = None,
        secret: str | None = None,
        function_arn: str | None = None,
        **options: Any,
    ) -> Model:
        """Register a new version of ``name``. The classes in ``labels`` (output order) must be project labels
        (or be mapped with ``label_map`` / dropped with ``ignore``).

        ``host="onnx"``: the ONNX file at ``path``, whose inputs and outputs must fit ``format`` ("yolo",
        "torchvision" or "classifier"). ``host="http"``: the endpoint ``url`` answers batches (signed with
        ``secret``, generated when not given: ``model.secret`` holds it, this once); ``host="lambda"``: the
        function ``function_arn`` does (``annolake.model_server`` has both sides of the contract)."""
        body: dict[str, Any] = {
            "name": name,
            "host": host,
            "labels": labels,
            "label_map": label_map or {},
            "ignore": ignore or [],
            "score_threshold": score_threshold,
            **options,
        }
        if host == "onnx":
            if path is None or format is None:
                raise ValueError('an onnx model needs path= (the ONNX file) and format= ("yolo", …)')
            body.update(format=format, input_size=input_size, nms_iou=nms_iou)
            if normalisation is not None:
                body["normalisation"] = normalisation
        else:
            hosted = {"url": url, "secret": secret, "function_arn": function_arn}
            body.update({key: value for key, value in hosted.items() if value is not None})
        created = self.scope.api.post(f"{self.scope.path}/models", body)
        if host != "onnx":
            return Model(self.scope, name, created)
        form = created["upload"]
        assert path is not None
        self.scope.api.post_form(form["url"], {**form["fields"], "file": ("model.onnx", Path(path).read_bytes())})
        version = self.scope.api.post(
            f"{self.scope.path}/models/{quote(name, safe='')}/versions/{created['version']}/check", {}
        )
        return Model(self.scope, name, version)

    def get(self, name: str) -> Model:
        found = self.scope.api.get(f"{self.scope.path}/models/{quote(name, safe='')}")
        newest = max(found["versions"], key=lambda v: v["version"]) if found["versions"] else None
        return Model(self.scope, name, newest)

    def list(self) -> list[dict[str, Any]]:
        return self.scope.api.get_all(f"{self.scope.path}/models", "models")

    def run(self, run_id: str) -> PredictionRun:
        """A prediction run by id (``pr_…``), its progress read now."""
        run = PredictionRun(self.scope, {"run_id": run_id})
        run.status()
        return run


class Model:
    """One registered model; ``version`` is the version this object was made from (the newest by default)."""

    def __init__(self, scope: Scope, name: str, version: dict[str, Any] | None) -> None:
        self.scope = scope
        self.name = name
        self.info = version or {}
        self.version: int | None = self.info.get("version")
        self.secret: str | None = self.info.get("secret")  # an http model's signing secret, when just registered

    def predict(
        self,
        directory: str | Any = "default",
        *,
        query: str | None = None,
        threshold: float | None = None,
        version: int | None = None,
    ) -> PredictionRun:
        """Start a run over the ready files of a dataset (a name, a ``Dataset`` or a ``Slice``) matching ``query``."""
        dataset = getattr(directory, "name", None) or getattr(directory, "dataset", None) or directory
        query = query if query is not None else getattr(directory, "query", None)
        run = self.scope.api.post(
            f"{self.scope.path}/models/{quote(self.name, safe='')}/runs",
            {"dataset": dataset, "query": query, "threshold": threshold, "version": version or self.version},
        )
        return PredictionRun(self.scope, run)

    def runs(self) -> list[PredictionRun]:
        listed = self.scope.api.get_all(f"{self.scope.path}/runs", "runs", model=self.name)
        return [PredictionRun(self.scope, run) for run in listed]

    def __repr__(self) -> str:
        return f"Model({self.name!r}, version={self.version})"


def describe_progress(run: dict[str, Any]) -> str:
    """``12 done, 1 failed, 7 pending · 4.2 files/s · ETA 2 s``: a run's progress on one line."""
    parts = [f"{run['done']} done, {run['failed']} failed, {run['pending']} pending"]
    if run.get("items_per_second"):
        parts.append(f"{run['items_per_second']:.1f} files/s")
    if run["status"] in ACTIVE and run.get("eta_seconds") is not None:
        parts.append(f"ETA {run['eta_seconds']:.0f} s")
    return " · ".join(parts)


def _draw(bar: Any, run: dict[str, Any]) -> None:
    bar.total = run["total"] or bar.total
    bar.n = run["done"] + run["failed"]
    bar.set_postfix_str(describe_progress(run), refresh=False)
    bar.refresh()


class PredictionRun:
    """A prediction run: ``status()``, ``wait()``, ``cancel()``, ``redrive()``, ``predictions()``,
    ``evaluate()``, ``evaluation_files()``, ``send_to_review()`` and ``select()``."""

    def __init__(self, scope: Scope, run: dict[str, Any]) -> None:
        self.scope = scope
        self.run_id: str = run["run_id"]
        self.last = run

    @property
    def _path(self) -> str:
        return f"{self.scope.path}/runs/{quote(self.run_id, safe='')}"

    def status(self) -> dict[str, Any]:
        """done / failed / pending, items per second, ETA, and the failed files with why."""
        self.last = self.scope.api.get(self._path)
        return self.last

    def wait(self, *, progress: bool = True, timeout: float = 3600, poll_s: float = 0.5) -> dict[str, Any]:
        """Until the run ends, with a progress bar (done / failed / pending, files per second and ETA as the
        API computes them); raises ``RunFailed`` if it failed or was cancelled."""
        run = self.status()
        deadline = time.monotonic() + timeout
        with tqdm(
            total=run["total"] or None,
            unit="file",
            desc=f"predicting {run['model']}",
            disable=not progress,
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} · {postfix}",
        ) as bar:
            _draw(bar, run)
            while run["status"] in ACTIVE:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"run {self.run_id} still {run['status']} after {timeout:.0f}s")
                time.sleep(poll_s)
                run = self.status()
                _draw(bar, run)
        if run["status"] in ("failed", "cancelled"):
            raise RunFailed(run)
        return run

    def cancel(self) -> dict[str, Any]:
        self.last = self.scope.api.post(f"{self._path}/cancel", {})
        return self.last

    def redrive(self) -> dict[str, Any]:
        """Predict what is missing or failed; files already predicted are not predicted again."""
        self.last = self.scope.api.post(f"{self._path}/redrive", {})
        return self.last

    def predictions(self, file_id: str | None = None, *, limit: int = 1000) -> Any:
        """One file's predictions (its instances with scores), or the run's first ``limit``."""
        if file_id is not None:
            return self.scope.api.get(f"{self._path}/predictions/{quote(file_id, safe='')}")
        return self._pages("predictions", "predictions", limit)

    def evaluate(
        self,
        iou: float = 0.5,
        *,
        score_threshold: float | None = None,
        fn_weight: float = 0.5,
        wait: bool = True,
        timeout: float = 3600,
        poll_s: float = 0.5,
    ) -> dict[str, Any]:
        """mAP and per-class AP (COCOeval at ``iou``), totals; per-file results with ``evaluation_files``. The
        evaluation runs on the platform (a step of the prediction state machine); ``wait=False`` returns at
        once (``evaluation()`` follows it). Raises ``RunFailed`` if it failed."""
        body = {"iou": iou, "score_threshold": score_threshold, "fn_weight": fn_weight}
        report = self.scope.api.post(f"{self._path}/evaluate", body)
        deadline = time.monotonic() + timeout
        while wait and report["status"] == "running":
            if time.monotonic() > deadline:
                raise TimeoutError(f"the evaluation of {self.run_id} still runs after {timeout:.0f}s")
            time.sleep(poll_s)
            report = self.evaluation()
        if report["status"] == "failed":
            raise RunFailed({"run_id": self.run_id, "status": "evaluation failed", "status_reason": report["reason"]})
        return report

    def evaluation(self) -> dict[str, Any]:
        """The last evaluation requested: ``status`` running, completed (with its summary) or failed (``reason``)."""
        return self.scope.api.get(f"{self._path}/evaluation")

    def evaluation_files(self, *, offset: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        """Per-file TP/FP/FN and disagreement of the last evaluation, most disagreeing first: ``limit`` of them
        from ``offset`` (fewer only at the end)."""
        return self._pages("evaluation/files", "files", limit, offset=offset)

    def _pages(self, listing: str, key: str, limit: int, **first: Any) -> list[Any]:
        """Up to ``limit`` items of a listing, page after page: a page ends at ``PAGE_MOST`` items or at the API's
        byte bound, whichever first, and its cursor carries on."""
        found: list[Any] = []
        cursor = None
        while len(found) < limit:
            fields = {"cursor": cursor} if cursor else first
            page = self.scope.api.get(f"{self._path}/{listing}", limit=min(limit - len(found), PAGE_MOST), **fields)
            found += page[key]
            if not (cursor := page.get("cursor")):
                break
        return found

    def send_to_review(self, top: int) -> dict[str, Any]:
        """Open a job, every file reviewed, over the ``top`` most disagreeing files of the last evaluation;
        ``{"job_id", "dataset", "file_ids"}``."""
        return self.scope.api.post(f"{self._path}/review", {"top": top})

    def select(
        self, k: int, strategy: str = "least_confidence", *, seed: int = 0, per_class_cap: int | None = None
    ) -> list[str]:
        """The ids of the ``k`` most uncertain unlabelled files (the same ones for the same seed); with
        ``per_class_cap``, at most that many per class (the label of a file's least certain prediction)."""
        body: dict[str, Any] = {"k": k, "strategy": strategy, "seed": seed}
        if per_class_cap is not None:
            body["per_class_cap"] = per_class_cap
        return [f["file_id"] for f in self.scope.api.post(f"{self._path}/select", body)["files"]]

    def __repr__(self) -> str:
        return f"PredictionRun({self.run_id!r}, status={self.last.get('status')!r})"
