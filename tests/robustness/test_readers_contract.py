"""Issue 16, case 4 (and the dashboard/report parts of case 7): the readers' contract for
published versions. A broken version is flagged with what is wrong (HTTP 500 page, exit 2),
never a traceback or a dropped connection, and never offered as the default."""

from __future__ import annotations

import json
import os
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from robustclap.corpus.versions import BrokenVersion, check_version, file_entries
from robustclap.dashboard.app import serve_in_thread
from robustclap.dashboard.corpus import list_versions, open_version
from robustclap.dashboard.synthetic import write_version

N = 40


def _publishable(root: Path, number: int) -> Path:
    """A synthetic version whose manifest lists its files as publish writes them."""
    out = write_version(root, number, N, seed=number)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["checksums"] = file_entries(out)
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out


@pytest.fixture
def corpus(tmp_path) -> Path:
    root = tmp_path / "demo"
    _publishable(root, 1)
    _publishable(root, 2)
    return root


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_a_whole_version_honours_the_contract(corpus):
    assert check_version(corpus / "v2", deep=True) == []
    assert list_versions(corpus) == [1, 2] and open_version(corpus).number == 2


def test_case4_truncated_table_report_exit_2_and_dashboard_500(corpus, cli, tmp_path):
    _truncate(corpus / "v2" / "accepted.parquet")
    assert any("accepted.parquet" in p for p in check_version(corpus / "v2"))
    code, out = cli(["report", corpus, "--out", tmp_path / "r.html", "--version", 2])
    assert code == 2 and "broken" in out and "accepted.parquet" in out
    assert "Traceback" not in out
    server, url = serve_in_thread(corpus)
    try:
        status, body = _get(url + "?version=2")
        assert status == 500 and "broken corpus version" in body and "accepted.parquet" in body
        assert _get(url + "healthz") == (200, "ok")  # the server keeps serving
        status, body = _get(url)  # latest (v2) is broken: said so, not skipped silently
        assert status == 500 and "accepted.parquet" in body
        assert _get(url + "?version=1")[0] == 200
    finally:
        server.shutdown()
        server.server_close()
    assert list_versions(corpus) == [1]


def test_case4_truncated_before_publish_is_caught_by_the_footer(corpus, cli, tmp_path):
    _truncate(corpus / "v2" / "scores.parquet")
    manifest = json.loads((corpus / "v2" / "manifest.json").read_text())
    manifest["checksums"] = file_entries(corpus / "v2")  # sizes agree, the file does not read
    (corpus / "v2" / "manifest.json").write_text(json.dumps(manifest))
    assert any("not a readable Parquet" in p for p in check_version(corpus / "v2"))
    code, out = cli(["report", corpus, "--out", tmp_path / "r.html", "--version", 2])
    assert code == 2 and "scores.parquet" in out


def test_case4_a_folder_with_only_scores_is_not_the_default(corpus):
    (corpus / "v3").mkdir()
    os.link(corpus / "v2" / "scores.parquet", corpus / "v3" / "scores.parquet")
    os.unlink(corpus / "latest")  # no latest: the newest *valid* version is the default
    assert open_version(corpus).number == 2 and list_versions(corpus) == [1, 2]
    with pytest.raises(BrokenVersion, match="no manifest.json"):
        open_version(corpus, 3)


@pytest.mark.parametrize("manifest,message", [
    (None, "no manifest.json"),
    ("{not json", "not a valid manifest"),
    ('["a list"]', "not a valid manifest"),
    ('{"version": 2}', "lists no files"),
    ('{"version": 7, "files": []}', "manifest names version 7"),
    ('{"version": 2, "files": ["nope.parquet"]}', "nope.parquet: listed in the manifest"),
    ('{"version": 2, "files": ["../v1/captions.parquet"]}', "outside the version"),
])
def test_case4_missing_or_invalid_manifest(corpus, cli, tmp_path, manifest, message):
    path = corpus / "v2" / "manifest.json"
    path.unlink()
    if manifest is not None:
        path.write_text(manifest)
    code, out = cli(["report", corpus, "--out", tmp_path / "r.html", "--version", 2])
    assert code == 2 and message in out and "Traceback" not in out, out
    assert list_versions(corpus) == [1]


def test_case4_a_dangling_latest_is_flagged(corpus, cli, tmp_path):
    os.unlink(corpus / "latest")
    os.symlink("v9", corpus / "latest")
    code, out = cli(["report", corpus, "--out", tmp_path / "r.html"])
    assert code == 2 and "latest" in out and "v9" in out and "Traceback" not in out
    code, out = cli(["report", corpus, "--out", tmp_path / "r.html", "--version", 1])
    assert code == 0, out


def test_case4_latest_pointing_at_a_broken_version(corpus, cli, tmp_path):
    (corpus / "v2" / "captions.parquet").unlink()
    code, out = cli(["report", corpus, "--out", tmp_path / "r.html"])
    assert code == 2 and "captions.parquet" in out


def test_case4_a_corpus_folder_name_with_glob_characters(tmp_path, cli):
    root = tmp_path / "odd[x]*name"
    _publishable(root, 1)
    code, out = cli(["report", root, "--out", tmp_path / "r.html"])
    assert code == 0, out
    assert "Overview (v1)" in (tmp_path / "r.html").read_text()


def test_case7_report_out_is_a_folder(corpus, cli, tmp_path):
    code, out = cli(["report", corpus, "--out", tmp_path])
    assert code == 2 and "is a folder" in out


def test_case7_dashboard_bind_problems_are_one_message(corpus, cli):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        port = busy.getsockname()[1]
        for args, message in [(["--port", port], "cannot listen"),
                              (["--port", 70000], "between 0 and 65535"),
                              (["--port", -1], "between 0 and 65535"),
                              (["--host", "no-such-host.invalid", "--port", 0], "unknown host")]:
            code, out = cli(["dashboard", corpus, *args])
            assert code == 2 and message in out and "Traceback" not in out, (args, out)
    finally:
        busy.close()
