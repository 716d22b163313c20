"""The dashboard and `report` on versions published with schema version 1, and the dashboard
pointed at a folder of corpora."""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from robustclap.cli import app
from robustclap.dashboard.app import render, serve_in_thread
from robustclap.dashboard.synthetic import write_evaluation, write_version

from .old_schema import folder_to_v1, schema_version

runner = CliRunner()


@pytest.fixture(scope="module")
def corpora(tmp_path_factory) -> Path:
    """runs/corpus-like: `old` (v1 in schema 1 with early gate scores, v2 in schema 1) and
    `fresh` (v1 current)."""
    folder = tmp_path_factory.mktemp("corpora")
    old = folder / "old"
    write_version(old, 1, 60, seed=5)
    folder_to_v1(old / "v1", early=True)
    write_version(old, 2, 60, seed=6, shift=0.02)
    folder_to_v1(old / "v2")
    write_evaluation(old, 2)
    write_version(folder / "fresh", 1, 40, seed=7)
    (folder / ".publishing-123").mkdir()  # a hidden leftover is no corpus
    return folder


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_dashboard_page_on_schema_1_versions(corpora: Path) -> None:
    old = corpora / "old"
    before = {p: p.read_bytes() for p in old.rglob("*.parquet")}
    assert schema_version(old / "v1" / "scores.parquet") == "1"
    html = render(old, {})
    assert "Overview (v2)" in html and 'id="retrieval"' in html
    html1 = render(old, {"version": "1", "compare": "2", "gate": "sbert", "level": "1"})
    assert "Overview (v1)" in html1 and "drift" in html1.lower()
    caption = pq.read_table(old / "v1" / "accepted.parquet").column("caption_id")[0].as_py()
    assert caption in render(old, {"version": "1", "caption": caption})
    # the published files are untouched (readers upgrade copies, never the version)
    assert {p: p.read_bytes() for p in old.rglob("*.parquet")} == before


def test_report_on_a_schema_1_version(corpora: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    res = runner.invoke(app, ["report", str(corpora / "old"), "--out", str(out),
                              "--version", "1"])
    assert res.exit_code == 0, res.output
    assert "Overview (v1)" in out.read_text(encoding="utf-8")


def test_dashboard_on_a_folder_of_corpora_lists_and_opens_each(corpora: Path) -> None:
    server, url = serve_in_thread(corpora)
    try:
        status, index = _get(url)
        assert status == 200
        assert 'href="old/"' in index and 'href="fresh/"' in index
        assert ".publishing" not in index
        assert "v1, v2" in index
        for name, version in (("old", 2), ("fresh", 1)):
            status, body = _get(f"{url}{name}/")
            assert status == 200, body[:500]
            assert f"{name} corpus quality" in body and f"Overview (v{version})" in body
            assert 'href="../"' in body
        status, body = _get(f"{url}old")  # redirected to old/
        assert status == 200 and "old corpus quality" in body
        status, body = _get(f"{url}old/?version=1")
        assert status == 200 and "Overview (v1)" in body
        status, csv = _get(f"{url}old/rejected.csv?version=1")
        assert status == 200 and csv.startswith("caption_id") and csv.count("\n") > 1
        assert _get(f"{url}missing/")[0] == 404
    finally:
        server.shutdown()
        server.server_close()


def test_report_on_a_folder_of_corpora_names_them(corpora: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["report", str(corpora), "--out", str(tmp_path / "r.html")])
    assert res.exit_code != 0
    assert "holds corpora (fresh, old)" in str(res.exception)


def test_folder_without_any_corpus_is_one_message(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    res = runner.invoke(app, ["dashboard", str(tmp_path), "--port", "0"])
    assert res.exit_code != 0
    assert "nor corpus folders" in str(res.exception)


def test_newer_table_in_a_version_is_one_message(corpora: Path, tmp_path: Path) -> None:
    from robustclap.contracts.schema import META_VERSION
    from robustclap.corpus.versions import file_entries

    root = tmp_path / "newer"
    shutil.copytree(corpora / "fresh", root, symlinks=True)
    path = root / "v1" / "accepted.parquet"
    table = pq.read_table(path)
    pq.write_table(table.replace_schema_metadata({**table.schema.metadata,
                                                  META_VERSION: b"9"}), path)
    manifest = json.loads((root / "v1" / "manifest.json").read_text())
    manifest["checksums"] = file_entries(root / "v1")
    (root / "v1" / "manifest.json").write_text(json.dumps(manifest))
    res = runner.invoke(app, ["report", str(root), "--out", str(tmp_path / "r.html")])
    assert res.exit_code != 0
    msg = str(res.exception)
    assert "newer robustclap" in msg and "'9'" in msg and "'2'" in msg
