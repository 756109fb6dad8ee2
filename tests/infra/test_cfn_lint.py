"""cfn-lint finds no errors (E-level) in any synthesized template."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CFN_LINT = Path(sys.executable).parent / "cfn-lint"


@pytest.mark.slow  # a cfn-lint process per stage, ~3.5 s each
@pytest.mark.parametrize("stage", ["dev", "local", "prod"])
def test_cfn_lint_has_no_errors(synth_stage, stage):
    synth = synth_stage(stage)
    templates = sorted(str(synth.template_file(kind)) for kind in ("data", "app", "web"))
    result = subprocess.run(
        [str(CFN_LINT), "--format", "json", *templates], capture_output=True, text=True, check=False
    )
    assert result.stdout.strip(), f"cfn-lint printed nothing (exit {result.returncode}): {result.stderr}"
    matches = json.loads(result.stdout)
    errors = [
        f"{Path(m['Filename']).name} {m['Rule']['Id']} {'/'.join(map(str, m['Location']['Path']))}: {m['Message']}"
        for m in matches
        if m["Level"] == "Error"
    ]
    assert not errors, "cfn-lint errors:\n" + "\n".join(errors)
