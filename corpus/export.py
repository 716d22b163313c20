"""Export a published version as a Hub dataset folder, or push it to the Hugging Face Hub.

Only what a dataset user needs leaves the machine: the card (README.md), the per-split data
files it names and the gate's config and summary. Manifests stay behind: they hold local paths.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from robustclap.contracts import layout
from robustclap.contracts.errors import RobustclapError

# what an exported / pushed version holds (relative to the version folder)
EXPORT_PATTERNS = (layout.CARD_FILE, f"{layout.HUB_DATA_DIR}/**/*.parquet", layout.GATE_CONFIG_FILE,
                   layout.SUMMARY_MD_FILE)


def _hub_ready(folder: Path) -> bool:
    """A version folder with its dataset card and data/ folder."""
    return (folder / layout.CARD_FILE).is_file() and (folder / layout.HUB_DATA_DIR).is_dir()


def resolve_version(path: Path, version: int | None = None) -> Path:
    """A version folder (…/vN), or a corpus folder (its latest, or `version`)."""
    path = Path(path)
    if _hub_ready(path):
        if version is not None:
            raise RobustclapError(f"{path} is a version folder; --version needs a corpus folder")
        return path
    target = (layout.version_dir(path, version) if version is not None
              else layout.newest_version_dir(path))
    if target is None or not target.is_dir():
        raise RobustclapError(f"{path}: no published version found"
                              + (f" (looked for v{version})" if version is not None else ""))
    if not _hub_ready(target):
        raise RobustclapError(f"{target} has no dataset card and data/ folder: it was published "
                              "before versions were Hub-ready; publish it again")
    return target


def export_files(version_dir: Path) -> list[Path]:
    files = {p for pat in EXPORT_PATTERNS for p in version_dir.glob(pat) if p.is_file()}
    return sorted(p.relative_to(version_dir) for p in files)


def export_version(version_dir: Path, dest: Path, overwrite: bool = False) -> list[Path]:
    """Copy the Hub-facing files to `dest` (refused when it holds anything, unless overwrite)."""
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        if not overwrite:
            raise RobustclapError(f"{dest} is not empty; pass --overwrite to replace it")
        shutil.rmtree(dest)
    files = export_files(version_dir)
    for rel in files:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(version_dir / rel, dest / rel)  # plain copy: modes follow the umask
    return [dest / rel for rel in files]


def push_version(version_dir: Path, repo_id: str, private: bool = False,
                 revision: str | None = None) -> str:
    """Upload the Hub-facing files with `HfApi.upload_folder`; returns the commit URL."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    try:  # the HTTP client huggingface_hub 2.x uses; 1.x used httpx
        from httpx2 import TransportError
    except ImportError:
        from httpx import TransportError

    api = HfApi()
    where = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        info = api.upload_folder(
            repo_id=repo_id, repo_type="dataset", folder_path=version_dir,
            allow_patterns=list(EXPORT_PATTERNS), revision=revision,
            commit_message=f"robustclap: {version_dir.parent.name} {version_dir.name}")
    except OfflineModeIsEnabled as exc:
        raise RobustclapError(
            "push needs the Hugging Face Hub, but offline mode is on (HF_HUB_OFFLINE=1); "
            "use `robustclap export` and upload the folder from a machine that has the "
            "Hub") from exc
    except HfHubHTTPError as exc:
        raise RobustclapError(f"the Hub refused the push to {repo_id}: {exc}") from exc
    except (TransportError, OSError) as exc:
        raise RobustclapError(
            f"cannot reach the Hugging Face Hub at {where} ({type(exc).__name__}); use "
            "`robustclap export` and upload the folder from a machine that has the Hub"
        ) from exc
    return str(getattr(info, "commit_url", info))
