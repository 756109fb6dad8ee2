"""``annolake``: the command line. Connection as for ``Project()`` (env or .annolake/credentials.json)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from annolake.errors import AnnolakeAPIError, CredentialsNotFound, RunFailed
from annolake.models import describe_progress
from annolake.project import Project


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="annolake", description="Annolake command line")
    parser.add_argument("--project", help="project id (default: from the environment or credentials.json)")
    commands = parser.add_subparsers(dest="command", required=True)
    upload = commands.add_parser("upload", help="upload every image under a directory")
    upload.add_argument("path")
    upload.add_argument("--directory", default="default", help="dataset name")
    upload.add_argument("--workers", type=int, default=8)
    imp = commands.add_parser("import", help="import a COCO file, a YOLO folder or a JSONL of packets")
    imp.add_argument("format", choices=["coco", "yolo", "jsonl"])
    imp.add_argument("path")
    imp.add_argument("--directory", default="default", help="dataset name")
    imp.add_argument("--images", help="COCO: folder of the images (default: beside the JSON)")
    imp.add_argument("--no-create-labels", action="store_true", help="fail on labels missing from the schema")
    query = commands.add_parser("query", help="count the files matching a query and print the first ones")
    query.add_argument("query", help='e.g. "labels.car > 3 and labels.pedestrian >= 1"')
    query.add_argument("--directory", default="default", help="dataset name")
    query.add_argument("--limit", type=int, default=10, help="rows to print")
    snapshot = commands.add_parser("snapshot", help="take, list or compare snapshots")
    actions = snapshot.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="pin the ready files of a dataset (matching a query)")
    create.add_argument("name")
    create.add_argument("--directory", default="default", help="dataset name")
    create.add_argument("--query", help='e.g. "labels.car >= 1" (default: every ready file)')
    actions.add_parser("list", help="every snapshot of the project")
    show = actions.add_parser("show", help="a snapshot's lineage record (JSON)")
    show.add_argument("ref", help="name or digest")
    compare = actions.add_parser("diff", help="what changed from snapshot A to snapshot B")
    compare.add_argument("a", help="name or digest")
    compare.add_argument("b", help="name or digest")
    export = commands.add_parser("export", help="export a snapshot, or a dataset's query, to a folder")
    export.add_argument("format", choices=["coco", "yolo", "voc", "sagemaker", "jsonl", "cvat_video", "mot"])
    source = export.add_mutually_exclusive_group(required=True)
    source.add_argument("--snapshot", help="name or digest of the snapshot")
    source.add_argument("--directory", help="dataset name (a snapshot of it is taken first)")
    export.add_argument("--query", help="with --directory: only the files matching it")
    export.add_argument("--out", required=True, help="folder to write the export into")
    export.add_argument("--no-media", action="store_true", help="leave the images out (annotations only)")
    export.add_argument(
        "--references",
        choices=["s3", "presigned"],
        help="coco, voc, jsonl: name each image's original instead of fetching it: its s3:// URI, or a presigned "
        "URL minted now (expires: see references_expire_at in the output)",
    )
    export.add_argument(
        "--split",
        metavar="SUBSET=SHARE",
        nargs="+",
        help="yolo: a train/val split by file id hash, e.g. --split train=0.8 val=0.2",
    )
    export.add_argument("--seed", type=int, default=0, help="with --split: which files land where")
    pack = commands.add_parser("pack", help="pack a snapshot into tar shards for fast streaming (one GET a shard)")
    pack.add_argument("snapshot", help="name or digest of the snapshot")
    pack.add_argument("--shard-bytes", type=int, help="largest shard in bytes, 1 MiB to 1 GiB (default 64 MiB)")
    predict = commands.add_parser(
        "predict",
        help="predict a dataset with a registered model and follow the run; or a run's status, cancel, re-drive",
        description="Exit status: 0 when the run completed, 1 when it failed, was cancelled or some files failed.",
    )
    predict.add_argument("model", nargs="?", help="the registered model's name (starts a run)")
    predict.add_argument("--directory", default="default", help="dataset name")
    predict.add_argument("--query", help='only the files matching it, e.g. "labels.car = 0"')
    predict.add_argument(
        "--threshold", type=float, help="keep predictions scoring at least this (default: the model's)"
    )
    predict.add_argument("--version", type=int, help="model version (default: the newest)")
    predict.add_argument("--no-wait", action="store_true", help="print the run's id and return at once")
    predict.add_argument("--timeout", type=float, default=24 * 3600, help="seconds to follow the run (default: a day)")
    on_run = predict.add_mutually_exclusive_group()
    on_run.add_argument("--status", metavar="RUN", help="print a run's progress and its failed files")
    on_run.add_argument("--wait", metavar="RUN", help="follow a run already started until it ends")
    on_run.add_argument("--cancel", metavar="RUN", help="stop a run (what was predicted stays)")
    on_run.add_argument("--redrive", metavar="RUN", help="predict what a run is missing or failed, and follow it")
    cancel = commands.add_parser("export-cancel", help="stop a running export (its partial output is removed)")
    cancel.add_argument("export_id", help="the export's id (printed by `annolake export`, or GET .../exports)")
    return parser


def _predict(project: Project, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    existing = args.status or args.wait or args.cancel or args.redrive
    if bool(args.model) == bool(existing):
        parser.error("predict: name a model to start a run, or give one of --status, --wait, --cancel, --redrive RUN")
    if args.model:
        run = project.model.get(args.model).predict(
            args.directory, query=args.query, threshold=args.threshold, version=args.version
        )
        print(
            f"{run.run_id} started: {args.model} v{run.last['model_version']} over {run.last['total']} files "
            f"of {run.last['dataset']}",
            file=sys.stderr,
        )
        if args.no_wait:
            print(run.run_id)
            return 0
    else:
        run = project.model.run(existing)
        if args.cancel:
            run.cancel()
        elif args.redrive:
            run.redrive()
        if args.status or args.cancel:
            return _report_run(run.last)
    try:
        run.wait(timeout=args.timeout)
    except RunFailed as failed:
        return _report_run(failed.run)
    except KeyboardInterrupt:
        print(
            f"\n{run.run_id} goes on: follow it with `annolake predict --wait {run.run_id}`, "
            f"stop it with `--cancel {run.run_id}`",
            file=sys.stderr,
        )
        return 130
    return _report_run(run.status())


def _report_run(run: dict[str, Any]) -> int:
    """The run's state on stdout and its failed files on stderr; the exit status of the command."""
    reason = f" ({run['status_reason']})" if run.get("status_reason") else ""
    print(f"{run['run_id']} {run['status']}{reason}: {describe_progress(run)} of {run['total']}")
    for failure in run.get("failures", []):
        print(f"failed: {failure['file_id']}: {failure['reason']}", file=sys.stderr)
    return 0 if run["status"] in ("queued", "running", "completed") else 1


def _export(project: Project, args: argparse.Namespace) -> int:
    options: dict[str, Any] = {"path": args.out, "media": False if args.no_media else None}
    if args.references:
        options["references"] = args.references
    if args.split:
        options.update(split=_shares(args.split), seed=args.seed)
    if args.snapshot:
        job = project.snapshot.get(args.snapshot).export(args.format, **options)
    else:
        job = project.export(args.format, directory=args.directory, query=args.query, **options)
    shown = ("export_id", "snapshot", "format", "size_bytes", "sha256", "references_expire_at")
    print(json.dumps({k: job[k] for k in shown if k in job}))
    return 0


def _shares(pairs: list[str]) -> dict[str, float]:
    """``["train=0.8", "val=0.2"]`` → ``{"train": 0.8, "val": 0.2}``; ValueError naming a malformed one."""
    shares = {}
    for pair in pairs:
        name, _, share = pair.partition("=")
        try:
            shares[name] = float(share)
        except ValueError:
            raise ValueError(f"--split takes SUBSET=SHARE pairs such as train=0.8, not {pair!r}") from None
    return shares


def _pack(project: Project, args: argparse.Namespace) -> int:
    job = project.snapshot.get(args.snapshot).pack(args.shard_bytes, progress=True)
    print(json.dumps({k: job[k] for k in ("export_id", "snapshot", "options", "size_bytes", "sha256")}))
    return 0


def _snapshot(project: Project, args: argparse.Namespace) -> int:
    if args.action == "create":
        # a large snapshot is built on the server: a progress bar (on stderr) until it is ready
        snap = project.directory.get(args.directory).snapshot(args.name, query=args.query, progress=True)
        print(f"{snap.name}  {snap.digest}  {len(snap)} files")
    elif args.action == "list":
        for snap in project.snapshot.list():
            print(f"{snap.name}  {snap.digest}  {len(snap)} files  {snap.dataset}  {snap.query or ''}")
    elif args.action == "show":
        print(json.dumps(project.snapshot.get(args.ref).lineage(), indent=2))
    else:
        change = project.snapshot.get(args.a).diff(args.b)
        print(f"added {change['added']}  removed {change['removed']}  changed {change['changed']}")
        for label, delta in change["label_deltas"].items():
            print(
                f"{label}: {delta['total']:+d} (added {delta['added']:+d}, removed {delta['removed']:+d}, "
                f"changed {delta['changed']:+d})"
            )
    return 0


def _print_query(project: Project, args: argparse.Namespace) -> int:
    answer = project.directory.get(args.directory).query(args.query, limit=args.limit)
    print(f"{answer['count']} files match {args.query!r} in {args.directory}")
    for file in answer["files"]:
        counts = ", ".join(f"{name}={n}" for name, n in sorted(file.get("label_counts", {}).items()))
        size = f"{file.get('width')}x{file.get('height')}"
        print(f"{file['file_id']}  {file['original_name']}  {size}  {file['status']}  {counts}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        project = Project(args.project)
        if args.command == "predict":
            return _predict(project, args, parser)
        if args.command == "query":
            return _print_query(project, args)
        if args.command == "snapshot":
            return _snapshot(project, args)
        if args.command == "export":
            return _export(project, args)
        if args.command == "pack":
            return _pack(project, args)
        if args.command == "export-cancel":
            job = project.cancel_export(args.export_id)
            print(json.dumps({k: job[k] for k in ("export_id", "status", "pages_done", "pages_total")}))
            return 0
        if args.command == "upload":
            files, failures = project.file.from_directory(args.path, args.directory, workers=args.workers)
            for path, reason in failures:
                print(f"failed: {path}: {reason}", file=sys.stderr)
            print(f"{len(files)} files ready in {args.directory}, {len(failures)} failed")
            return 1 if failures else 0
        options = {"create_labels": not args.no_create_labels}
        if args.format == "coco":
            job = project.import_coco(args.path, args.directory, images=args.images, **options)
        elif args.format == "yolo":
            job = project.import_yolo(args.path, args.directory, **options)
        else:
            job = project.import_jsonl(args.path, args.directory, **options)
        print(json.dumps({k: job[k] for k in ("import_id", "status", "total", "done", "failed")}))
        for failure in job.get("failures", []):
            print(f"failed: item {failure['index']} {failure['name']}: {failure['reason']}", file=sys.stderr)
        return 0 if job["status"] == "completed" else 1
    except (AnnolakeAPIError, CredentialsNotFound, FileNotFoundError, RuntimeError, ValueError) as exc:
        print(f"annolake: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
