"""``annolake``: the command line. Connection as for ``Project()`` (env or .annolake/credentials.json)."""

from __future__ import annotations

import argparse
import json
import sys

from annolake.errors import AnnolakeAPIError, CredentialsNotFound
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
    export.add_argument("format", choices=["coco", "yolo", "voc", "sagemaker", "jsonl"])
    source = export.add_mutually_exclusive_group(required=True)
    source.add_argument("--snapshot", help="name or digest of the snapshot")
    source.add_argument("--directory", help="dataset name (a snapshot of it is taken first)")
    export.add_argument("--query", help="with --directory: only the files matching it")
    export.add_argument("--out", required=True, help="folder to write the export into")
    export.add_argument("--no-media", action="store_true", help="leave the images out (annotations only)")
    cancel = commands.add_parser("export-cancel", help="stop a running export (its partial output is removed)")
    cancel.add_argument("export_id", help="the export's id (printed by `annolake export`, or GET .../exports)")
    return parser


def _export(project: Project, args: argparse.Namespace) -> int:
    options = {"path": args.out, "media": not args.no_media}
    if args.snapshot:
        job = project.snapshot.get(args.snapshot).export(args.format, **options)
    else:
        job = project.export(args.format, directory=args.directory, query=args.query, **options)
    print(json.dumps({k: job[k] for k in ("export_id", "snapshot", "format", "size_bytes", "sha256")}))
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
    args = _parser().parse_args(argv)
    try:
        project = Project(args.project)
        if args.command == "query":
            return _print_query(project, args)
        if args.command == "snapshot":
            return _snapshot(project, args)
        if args.command == "export":
            return _export(project, args)
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
