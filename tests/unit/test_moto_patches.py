"""The emulator's changes to moto stack and install once, however many emulators a process starts."""

import json
import types

from infra.local.moto_patches import replace


def test_different_patches_stack_and_the_same_patch_installs_once():
    owner = types.SimpleNamespace(call=lambda: ["moto"])

    def wrap(tag):
        return lambda inner: lambda: [tag, *inner()]

    replace(owner, "call", "two-phase", wrap("two-phase"))
    replace(owner, "call", "serialized", wrap("serialized"))
    assert owner.call() == ["serialized", "two-phase", "moto"]
    replace(owner, "call", "two-phase", wrap("two-phase"))  # a second emulator in the same process
    replace(owner, "call", "serialized", wrap("serialized"))
    assert owner.call() == ["serialized", "two-phase", "moto"]


def test_each_state_machine_parse_has_its_own_scope_stack():
    """Executions start on their own threads, each parsing its definition; moto kept one scope stack for all
    parses, so two at once could empty each other's (an execution that died before its first state)."""
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    from infra.local import moto_patches

    moto_patches.thread_safe_state_machine_parsing()
    first, second = Preprocessor(), Preprocessor()
    first._query_language_per_scope.append("scope of the first parse")
    assert second._query_language_per_scope == []
    first._query_language_per_scope.pop()


def test_state_machines_still_parse():
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    from infra.local import moto_patches

    moto_patches.thread_safe_state_machine_parsing()
    inner = {"StartAt": "Leaf", "States": {"Leaf": {"Type": "Pass", "End": True}}}
    definition = {
        "StartAt": "Each",
        "States": {"Each": {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": inner, "End": True}},
    }
    program, _ = AmazonStateLanguageParser.parse(json.dumps(definition))
    assert program is not None
