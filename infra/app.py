"""The Annolake CDK app: ``python -m infra.app`` (or ``npx cdk synth``) writes the stage's templates.

Stage and switches come from CDK context (``-c stage=prod`` on the CDK CLI) or, when run without the CLI,
from the environment: ``ANNOLAKE_STAGE``, ``ANNOLAKE_DOMAIN_NAME``, ``ANNOLAKE_ALARM_EMAIL``, and
``ANNOLAKE_SKIP_BUNDLING=1`` (do not build the dependency layer). Output goes to ``CDK_OUTDIR`` or ``cdk.out``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.config import DEFAULT_STAGE, get_stage_config
from infra.stacks.app_stack import AppStack
from infra.stacks.data_stack import DataStack
from infra.stacks.web_stack import WebStack

REPO_ROOT = Path(__file__).resolve().parent.parent
CDK_JSON = REPO_ROOT / "cdk.json"
BUNDLING_STACKS = "aws:cdk:bundling-stacks"
NAG_CONTEXT = "annolake:nag"
WEB_DIST_CONTEXT = "annolake:web_dist"  # the built web UI (default web/dist)
WEB_DIST = REPO_ROOT / "web" / "dist"
ENV_CONTEXT = {"ANNOLAKE_STAGE": "stage", "ANNOLAKE_DOMAIN_NAME": "domain_name", "ANNOLAKE_ALARM_EMAIL": "alarm_email"}


def stack_names(stage: str) -> dict[str, str]:
    return {"data": f"Annolake-{stage}-Data", "app": f"Annolake-{stage}-App", "web": f"Annolake-{stage}-Web"}


def cdk_json_context() -> dict[str, Any]:
    """The feature flags in cdk.json, so a synth without the CLI builds the same templates as with it."""
    return dict(json.loads(CDK_JSON.read_text()).get("context", {}))


def _truthy(value: Any) -> bool:
    return value not in (False, None) and str(value).lower() not in ("false", "0", "no", "off")


def build_app(context: Mapping[str, Any] | None = None, *, outdir: str | None = None, **app_props: Any) -> cdk.App:
    """The app with both stacks of the stage named by the ``stage`` context."""
    app = cdk.App(context={**cdk_json_context(), **(context or {})}, outdir=outdir, **app_props)
    node = app.node
    config = get_stage_config(
        node.try_get_context("stage") or DEFAULT_STAGE,
        domain_name=node.try_get_context("domain_name") or None,
        alarm_email=node.try_get_context("alarm_email") or None,
    )
    names = stack_names(config.name)
    data = DataStack(app, names["data"], stack_name=names["data"], config=config)
    app_stack = AppStack(app, names["app"], stack_name=names["app"], data=data)
    WebStack(app, names["web"], stack_name=names["web"], data=data, app=app_stack, dist=built_web(node))
    for key, value in {"project": "annolake", "stage": config.name}.items():
        cdk.Tags.of(app).add(key, value)
    nag = node.try_get_context(NAG_CONTEXT)
    if nag is None or _truthy(nag):
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return app


def built_web(node: Any) -> Path | None:
    """The built web UI to deploy (``web_dist`` context, default web/dist), or None if it is not built."""
    dist = Path(node.try_get_context(WEB_DIST_CONTEXT) or WEB_DIST)
    return dist if (dist / "index.html").is_file() else None


def main() -> int:
    context = {key: os.environ[name] for name, key in ENV_CONTEXT.items() if os.environ.get(name)}
    skip_bundling = _truthy(os.environ.get("ANNOLAKE_SKIP_BUNDLING"))
    if not skip_bundling and not (WEB_DIST / "index.html").is_file():
        # A deployable synth without the web UI would publish a site with nothing in it.
        print(f"{WEB_DIST} is not built: run `make web` first (`make synth` and `make deploy` do)", file=sys.stderr)
        return 1
    # Context from the CDK CLI (cdk.json, -c) wins over `context`, but not over `post_cli_context`.
    post_cli_context: dict[str, Any] | None = {BUNDLING_STACKS: []} if skip_bundling else None
    app = build_app(
        context,
        outdir=os.environ.get("CDK_OUTDIR") or str(REPO_ROOT / "cdk.out"),
        post_cli_context=post_cli_context,
    )
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
