"""The key-ring mount rule (``runtime/keyfiles.py``): which secret files a process trusts.

Both sides of the rule, on real files and directories laid out as they are
mounted: connmgr's own 0600 file, a Kubernetes Secret volume (``..data`` links
into a timestamped directory, ``fsGroup`` and ``defaultMode: 0440``), and the
near misses an operator could make. The rule is asked for uid/gid 10001 (the
image's user); the last tests run ``connmgr keys show`` as that user, so the
kernel's answer (an unreadable root-owned 0400 file) is the real one too.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from connmgr.runtime.keyfiles import mount_refusal, read_private_file, write_private_file
from connmgr.workers.keyring import Keyring, KeyringError

APP_UID = APP_GID = 10001  # the Dockerfile's USER; the manifests' runAsUser/runAsGroup/fsGroup
OTHER_UID = OTHER_GID = 10002

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give files other owners")


@dataclass(frozen=True)
class Layout:
    """A secret file as mounted: its mode and owners, and its directory's."""

    mode: int = 0o440
    uid: int = 0
    gid: int = APP_GID
    dir_mode: int = 0o2755
    dir_uid: int = 0


def laid_out(root: Path, layout: Layout) -> Path:
    """A Kubernetes-shaped Secret volume: root/keyring.json -> ..data/keyring.json,
    ..data -> ..2026_01_01_00_00_00.1/, which holds the file."""
    root.mkdir(mode=0o755)
    os.chmod(root, 0o3777)  # a Secret volume's tmpfs root: world-writable, sticky, setgid
    holder = root / "..2026_01_01_00_00_00.1"
    holder.mkdir()
    real = holder / "keyring.json"
    real.write_text(Keyring.generate().to_json())
    os.chown(real, layout.uid, layout.gid)
    os.chmod(real, layout.mode)
    os.chown(holder, layout.dir_uid, APP_GID)
    os.chmod(holder, layout.dir_mode)
    (root / "..data").symlink_to(holder.name)
    (root / "keyring.json").symlink_to("..data/keyring.json")
    return root / "keyring.json"


def refusal(path: Path, uid: int = APP_UID, gid: int = APP_GID) -> str | None:
    real = path.resolve(strict=True)
    return mount_refusal(real.stat(), real.parent.stat(), uid, gid)


ACCEPTED = {
    "kubernetes-fsgroup-0440-root-owned": Layout(),
    "0440-owned-by-the-process-user": Layout(uid=APP_UID),
    "owner-only-0600": Layout(mode=0o600, uid=APP_UID, gid=OTHER_GID),
    "owner-only-0400": Layout(mode=0o400, uid=APP_UID, gid=OTHER_GID),
    "0440-directory-owned-by-the-process-user": Layout(dir_uid=APP_UID, dir_mode=0o700),
}

REFUSED = {
    "world-readable-0644": (Layout(mode=0o644, uid=APP_UID), "owner only"),
    "other-readable-0444": (Layout(mode=0o444), "owner only"),
    "group-writable-0460": (Layout(mode=0o460), "owner only"),
    "owner-writable-0640": (Layout(mode=0o640), "owner only"),
    "0440-setgid": (Layout(mode=0o2440), "owner only"),
    "another-group": (Layout(gid=OTHER_GID), "not this process's group (10001)"),
    "another-owner": (Layout(uid=OTHER_UID), "belongs to uid 10002, who may change it"),
    "group-writable-directory": (Layout(dir_mode=0o2775), "directory others may write"),
    "world-writable-sticky-directory": (Layout(dir_mode=0o1777), "directory others may write"),
    "directory-of-another-user": (Layout(dir_uid=OTHER_UID), "directory others may write"),
}


@needs_root
@pytest.mark.parametrize("layout", list(ACCEPTED.values()), ids=list(ACCEPTED))
def test_a_secret_mount_of_the_processs_own_is_trusted(tmp_path: Path, layout: Layout) -> None:
    assert refusal(laid_out(tmp_path / "mount", layout)) is None


@needs_root
@pytest.mark.parametrize(("layout", "reason"), list(REFUSED.values()), ids=list(REFUSED))
def test_a_secret_file_others_may_read_or_change_is_refused(
    tmp_path: Path, layout: Layout, reason: str
) -> None:
    control = laid_out(tmp_path / "control", Layout())
    assert refusal(control) is None
    found = refusal(laid_out(tmp_path / "mount", layout))
    assert found is not None
    assert reason in found


@needs_root
def test_the_same_mount_is_refused_to_a_process_of_another_group(tmp_path: Path) -> None:
    mounted = laid_out(tmp_path / "mount", Layout())
    assert refusal(mounted, APP_UID, APP_GID) is None
    assert "not this process's group (10002)" in str(refusal(mounted, OTHER_UID, OTHER_GID))


def test_read_private_file_applies_the_rule_to_the_file_behind_the_links(tmp_path: Path) -> None:
    real = tmp_path / "real" / "keyring.json"
    real.parent.mkdir()
    real.write_text("{}")
    real.chmod(0o600)
    link = tmp_path / "keyring.json"
    link.symlink_to(real)
    assert read_private_file(link) == "{}"

    real.chmod(0o644)
    with pytest.raises(KeyringError, match=r"keyring\.json has mode 0644: .*owner only"):
        read_private_file(link)


# -- as the image's user, through the console script ---------------------------------

# The interpreter may live under a folder uid 10001 cannot enter (/root/.pyenv here),
# so the child starts as root and runs the command once on a ring root may read,
# which loads every module the command uses (the console script loads them
# lazily); only then does it become uid/gid 10001 with no supplementary group:
# from there the kernel checks every open as that user, exactly as in the image.
# It runs ``connmgr keys show`` once per key-ring file given, and prints each exit
# status after that run's output.
AS_APP_USER = f"""
import contextlib, io, os, sys
import connmgr.runtime.cli as cli
os.environ["CONNMGR_KEYRING_FILE"] = sys.argv[1]
with contextlib.redirect_stdout(io.StringIO()):
    assert cli.main(["keys", "show"]) == 0
os.setgroups([])
os.setresgid({APP_GID}, {APP_GID}, {APP_GID})
os.setresuid({APP_UID}, {APP_UID}, {APP_UID})
for ring_file in sys.argv[2:]:
    os.environ["CONNMGR_KEYRING_FILE"] = ring_file
    status = cli.main(["keys", "show"])
    print("exit", status, flush=True)
"""


def keys_show_as_app_user(warm_up: Path, *ring_files: Path) -> tuple[list[tuple[int, str]], str]:
    """``connmgr keys show`` as uid/gid 10001: each run's exit status and output, and stderr."""
    result = subprocess.run(
        [sys.executable, "-c", AS_APP_USER, str(warm_up), *map(str, ring_files)],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    runs = re.findall(r"(.*?)^exit (\d+)$", result.stdout, re.MULTILINE | re.DOTALL)
    return [(int(status), output) for output, status in runs], result.stderr


@pytest.fixture
def public_tmp() -> Iterator[Path]:
    """A folder uid 10001 may enter (pytest's own base folder is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="connmgr-mounts-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


@needs_root
def test_the_image_user_reads_an_fsgroup_mount_and_not_a_root_owned_0400_one(
    public_tmp: Path,
) -> None:
    fsgroup = laid_out(public_tmp / "fsgroup", Layout())
    default_mode = laid_out(public_tmp / "default-mode", Layout(mode=0o400, gid=0))

    warm_up = public_tmp / "root-only.json"
    write_private_file(warm_up, Keyring.generate().to_json())
    runs, stderr = keys_show_as_app_user(warm_up, fsgroup, default_mode)

    ((read, shown), (refused, nothing)) = runs

    assert read == 0, stderr
    assert json.loads(shown)["primary"]
    assert refused == 78
    assert not nothing.strip()
    assert "refusing to start: cannot read" in stderr
    assert "owner uid 0, group 0, mode 0400) as uid 10001, gid 10001" in stderr
    assert "fsGroup 10001, defaultMode 0440" in stderr
    assert "Traceback" not in stderr
