"""An export's archive unpacked a member at a time (``annolake._tar``), as ``extractall`` unpacks it."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import annolake
import pytest
from annolake._tar import extract_all

MEMBERS = 10_000


def _archive(path, members):
    with tarfile.open(path, "w") as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def test_every_member_is_unpacked_and_memory_does_not_grow_with_the_member_count(tmp_path):
    """``extractall`` holds a ``TarInfo`` per member read (4.5 MiB for these 10,000): here a handful. Measured in a
    process of its own: tracemalloc counts every thread's allocations, and the suite's process runs platforms."""
    members = [(f"Annotations/{i:06d}.xml", f"<annotation>{i}</annotation>".encode()) for i in range(MEMBERS)]
    archive = tmp_path / "voc.tar"
    _archive(archive, members)
    folder = tmp_path / "out"
    measure = (
        "import sys, tracemalloc; from pathlib import Path; from annolake._tar import extract_all; "
        "tracemalloc.start(); extract_all(Path(sys.argv[1]), Path(sys.argv[2])); "
        "print(tracemalloc.get_traced_memory()[1])"
    )
    sdk = str(Path(annolake.__file__).parents[1])
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", measure, str(archive), str(folder)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": sdk},
    )
    peak = int(done.stdout.split()[-1])
    assert peak < 2**20, f"{peak / 2**20:.1f} MiB"
    found = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.xml"))
    assert found == [name for name, _ in members]
    assert (folder / members[-1][0]).read_bytes() == members[-1][1]


def test_a_member_outside_the_folder_is_refused_and_an_absolute_one_kept_inside_as_extractall_does(tmp_path):
    archive = tmp_path / "bad.tar"
    _archive(archive, [("/abs/inside.xml", b"<a/>"), ("../outside.xml", b"x")])
    with pytest.raises(tarfile.OutsideDestinationError):
        extract_all(archive, tmp_path / "out")
    assert (tmp_path / "out" / "abs" / "inside.xml").read_bytes() == b"<a/>"
    assert not (tmp_path / "outside.xml").exists()
