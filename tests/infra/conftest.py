"""Synthesize the CDK app once per stage per session (bundling skipped) and share the results.

Validation failures (cdk-nag) do not abort the synth here, so ``test_nag`` can list them from the
validation report instead of every test erroring at the fixture. The web stack deploys a small built
site made here (``web_dist``), so the templates do not depend on whether ``web/dist`` was built.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from infra.app import WEB_DIST_CONTEXT, build_app, stack_names

STAGE_CONTEXT: dict[str, dict[str, Any]] = {
    "dev": {},
    "local": {},
    "prod": {"domain_name": "annolake.example.com", "alarm_email": "ops@example.com"},
}
DOMAIN_ORIGIN = "https://annolake.example.com"


@dataclass
class Synth:
    stage: str
    app: App
    outdir: Path
    stacks: dict[str, Stack]  # "data" / "app" / "web"
    templates: dict[str, Template]

    @property
    def data(self) -> dict[str, Any]:
        return self.templates["data"].to_json()

    @property
    def app_template(self) -> dict[str, Any]:
        return self.templates["app"].to_json()

    @property
    def web(self) -> dict[str, Any]:
        return self.templates["web"].to_json()

    def template_file(self, kind: str) -> Path:
        return self.outdir / f"{self.stacks[kind].stack_name}.template.json"

    def validation_report(self) -> dict[str, Any]:
        return json.loads((self.outdir / "validation-report.json").read_text())


def make_web_dist(directory: Path) -> Path:
    """A built site as Vite lays it out: index.html, hashed files under assets/, a public file."""
    (directory / "assets").mkdir(parents=True, exist_ok=True)
    (directory / "index.html").write_text(
        '<!doctype html><script type="module" src="/assets/index-abc123.js"></script>'
    )
    (directory / "assets" / "index-abc123.js").write_text("console.log('annolake');")
    (directory / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    return directory


@pytest.fixture(scope="session")
def web_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_web_dist(tmp_path_factory.mktemp("web-dist"))


@pytest.fixture(scope="session")
def synth_stage(tmp_path_factory: pytest.TempPathFactory, web_dist: Path):
    cache: dict[str, Synth] = {}

    def get(stage: str) -> Synth:
        if stage not in cache:
            outdir = tmp_path_factory.mktemp(f"cdk-{stage}")
            context = {
                "aws:cdk:bundling-stacks": [],
                "stage": stage,
                "@aws-cdk/core:failSynthOnValidationErrors": False,
                WEB_DIST_CONTEXT: str(web_dist),
                **STAGE_CONTEXT[stage],
            }
            app = build_app(context, outdir=str(outdir))
            app.synth()
            names = stack_names(stage)
            stacks = {kind: app.node.find_child(name) for kind, name in names.items()}
            templates = {kind: Template.from_stack(stack) for kind, stack in stacks.items()}
            cache[stage] = Synth(stage, app, outdir, stacks, templates)
        return cache[stage]

    return get


@pytest.fixture(scope="session")
def dev(synth_stage) -> Synth:
    return synth_stage("dev")


@pytest.fixture(scope="session")
def prod(synth_stage) -> Synth:
    return synth_stage("prod")


@pytest.fixture(scope="session")
def local(synth_stage) -> Synth:
    return synth_stage("local")
