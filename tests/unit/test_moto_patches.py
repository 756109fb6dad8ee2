"""The emulator's changes to moto stack and install once, however many emulators a process starts."""

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
