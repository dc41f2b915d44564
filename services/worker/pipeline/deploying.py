"""Phase 3: push the template's files into the container, honouring each file's policy.

`replace` overwrites; `default` keeps a file that is already there; `backup` first moves the
existing file aside with a timestamp. Mode and owner are set by `pct push` and then verified.
"""

from __future__ import annotations

import datetime as dt
import posixpath

from services.worker.pipeline.build import Build, BuildFailed
from shared.core.lifecycle import Phase
from shared.domain.templates.specs import FileSpec

# Makes the directory, then applies the policy to an existing file; prints what it did.
# Paths arrive as positional arguments ($1..$3), never inside the script text.
_PREPARE = r"""
set -eu
dest=$1 policy=$2 stamp=$3
mkdir -p -- "$(dirname -- "$dest")"
if [ -e "$dest" ]; then
    case $policy in
        default) echo kept ;;
        backup) aside="$dest.infrahaus-backup-$stamp"
                mv -- "$dest" "$aside" && echo "backed-up $aside" ;;
        *) echo replaced ;;
    esac
else
    echo new
fi
"""


def owner_of(spec: FileSpec) -> tuple[str, str]:
    user, _, group = spec.owner.partition(":")
    return user, group or user


async def run(build: Build) -> None:
    files = list(build.plan.template.files) if build.plan and build.plan.template else []
    await build.step(f"Deploying {len(files)} file(s)")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    pct = build.pct()
    for index, spec in enumerate(files, start=1):
        await build.check_cancel()
        destination = posixpath.join(spec.target_path, spec.name)
        status, out, err = await pct.run(
            _PREPARE, destination, spec.policy, stamp, limit_seconds=60
        )
        outcome = out.strip()
        if status != 0:
            raise BuildFailed(f"preparing {destination} failed: {(err or out).strip()[:300]}")
        progress = f"File {index}/{len(files)}: {destination}"
        if outcome == "kept":
            done = f"{progress}: exists, kept (policy default)"
        else:
            user, group = owner_of(spec)
            await pct.push(
                spec.content.encode(), destination, mode=spec.mode, user=user, group=group
            )
            note = (
                f" (old one moved to {outcome.split(' ', 1)[1]})"
                if outcome.startswith("backed-up")
                else ""
            )
            done = f"{progress}: written, mode {spec.mode}, owner {user}:{group}{note}"
        await build.step(done, index / (len(files) + 1), file=spec.name)
    await build.checkpoint(Phase.DEPLOYING, f"{len(files)} file(s) in place")
