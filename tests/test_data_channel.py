"""The data channel: sha256 checks, atomic writes, safe extraction, corruption re-fetch, local files."""

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

import genotx.data.source as source_mod
from genotx.data.cache import atomic_path, extract_members, sha256_file
from genotx.data.source import SOURCES, PackageFile, Source, fetch, source_files, use_local
from genotx.errors import FetchError, InputError, IntegrityError


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


def test_a_flipped_byte_with_size_and_mtime_kept_is_detected(toy_source, home):
    import os

    files = fetch("toy_source")
    path = files["table"]
    stat = path.stat()
    path.write_bytes(path.read_bytes().replace(b"1", b"7"))  # same size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime
    source_mod._CHECKED.clear()  # a new process
    assert fetch("toy_source")["table"].read_text() == "a,b\n1,2\n"


def test_a_manifest_without_files_is_fetched_again(toy_source, home):
    source, calls = toy_source
    fetch("toy_source")
    (source.folder / "manifest.json").write_text('{"source": "toy_source", "via": "package"}')
    assert fetch("toy_source")["table"].read_text() == "a,b\n1,2\n" and calls == ["toy", "toy"]


def test_a_damaged_cached_array_is_recomputed(home):
    import numpy as np

    from genotx.data.cache import cached_array

    calls = []
    compute = lambda: calls.append(1) or np.arange(100, dtype=np.float64)  # noqa: E731
    first = cached_array(("k", 1), compute)
    (path,) = (home / "features").glob("*.npy")
    raw = bytearray(path.read_bytes())
    raw[-5] ^= 0xFF
    path.write_bytes(bytes(raw))
    again = cached_array(("k", 1), compute)
    assert calls == [1, 1] and np.array_equal(first, again)


def test_crafted_archives_write_nothing_outside_the_cache(tmp_path):
    bad_tar = tmp_path / "bad.tar.gz"
    with tarfile.open(bad_tar, "w:gz") as tar:
        link = tarfile.TarInfo("pkg/link.csv")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
        device = tarfile.TarInfo("pkg/dev.csv")
        device.type = tarfile.CHRTYPE
        tar.addfile(device)
    with pytest.raises(InputError, match="is a symbolic link, not a file"):  # links and devices are never extracted
        extract_members(bad_tar, {"a": "pkg/link.csv", "b": "pkg/dev.csv"}, tmp_path / "out")
    assert not (tmp_path / "out" / "link.csv").exists() and not (tmp_path / "out" / "dev.csv").is_symlink()
    with pytest.raises(InputError, match="outside the cache"):
        extract_members(bad_tar, {"a": "../../etc/passwd"}, tmp_path / "out")
    bomb = tmp_path / "bomb.whl"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("pkg/big.csv", b"0" * (1 << 20))
    import genotx.data.cache as cache

    original = cache.MAX_MEMBER_BYTES
    cache.MAX_MEMBER_BYTES = 1 << 10
    try:
        with pytest.raises(InputError, match="expand"):
            extract_members(bomb, {"a": "pkg/big.csv"}, tmp_path / "out")
    finally:
        cache.MAX_MEMBER_BYTES = original


def test_two_processes_fetching_one_source_corrupt_nothing(tmp_path):
    """Two fresh processes share one GENOTX_HOME and fetch the same (slow-converting) source at once."""
    import subprocess
    import sys
    import textwrap

    archive = _wheel(tmp_path / "toy-1.0-py3-none-any.whl", {"toy/data/table.csv": "a,b\n" + "1,2\n" * 2000})
    script = textwrap.dedent(f"""
        import time, genotx.data.source as s
        from genotx.data.cache import sha256_file
        from pathlib import Path
        def convert(files, folder):
            time.sleep(1.0)  # a slow conversion: the other process must wait, not read half a file
            out = folder / "table.parquet"
            import pandas as pd
            pd.read_csv(files["table"]).to_parquet(out)
            files["table"].unlink()
            return {{"table": out}}
        src = s.Source(id="toy_source", title="t", kind="real", licence="MIT", citation="-", origin="-",
                       package=s.PackageFile("pypi", "toy", "1.0", sha256_file({str(archive)!r})),
                       members={{"table": "toy/data/table.csv"}}, convert=convert)
        s.SOURCES.add("toy_source", src)
        s._download_package = lambda pkg, downloads, progress: Path({str(archive)!r})
        import pandas as pd
        print(len(pd.read_parquet(s.fetch("toy_source")["table"])))
    """)
    env = {"GENOTX_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    procs = [subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert [o[0].strip() for o in outs] == ["2000", "2000"]


def _tar(path, entries):
    """A tar.gz of (TarInfo, bytes or None) entries."""
    with tarfile.open(path, "w:gz") as tar:
        for info, data in entries:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


@pytest.mark.parametrize("kind, message", [(tarfile.SYMTYPE, "symbolic link"), (tarfile.LNKTYPE, "hard link"),
                                           (tarfile.CHRTYPE, "device"), (tarfile.BLKTYPE, "device"), (tarfile.FIFOTYPE, "device")])
def test_a_wanted_tar_member_that_is_not_a_file_is_refused(tmp_path, kind, message):
    entry = tarfile.TarInfo("pkg/table.csv")
    entry.type, entry.linkname = kind, "/etc/passwd"
    archive = _tar(tmp_path / "a.tar.gz", [(entry, None)])
    with pytest.raises(InputError, match=message):
        extract_members(archive, {"t": "pkg/table.csv"}, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_an_archive_with_an_absolute_or_escaping_entry_is_refused_whole(tmp_path):
    good = tarfile.TarInfo("pkg/table.csv")
    for bad_name in ("/etc/cron.d/evil", "pkg/../../evil", "../evil"):
        evil = tarfile.TarInfo(bad_name)
        archive = _tar(tmp_path / "a.tar.gz", [(good, b"a\n1\n"), (evil, b"x")])
        with pytest.raises(InputError, match="outside the cache"):
            extract_members(archive, {"t": "pkg/table.csv"}, tmp_path / "out")
        zipped = tmp_path / "a.whl"
        with zipfile.ZipFile(zipped, "w") as zf:
            zf.writestr("pkg/table.csv", "a\n1\n")
            zf.writestr(bad_name, "x")
        with pytest.raises(InputError, match="outside the cache"):
            extract_members(zipped, {"t": "pkg/table.csv"}, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path.parent / "evil").exists()


def test_a_zip_symlink_member_is_refused(tmp_path):
    archive = tmp_path / "a.whl"
    with zipfile.ZipFile(archive, "w") as zf:
        link = zipfile.ZipInfo("pkg/table.csv")
        link.external_attr = (0o120777 << 16)  # S_IFLNK: the data is the link's target
        zf.writestr(link, "/etc/passwd")
    with pytest.raises(InputError, match="symbolic link"):
        extract_members(archive, {"t": "pkg/table.csv"}, tmp_path / "out")


def test_a_zip_member_whose_header_understates_its_size_cannot_expand(tmp_path, monkeypatch):
    """A decompression bomb whose header lies: reading stops at the bound, whatever the header says."""
    import genotx.data.cache as cache

    archive = tmp_path / "bomb.whl"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("pkg/big.csv", b"0" * (1 << 20))
    raw = bytearray(archive.read_bytes())
    for header in (b"PK\x03\x04", b"PK\x01\x02"):  # local and central headers: uncompressed size -> 10
        at = raw.find(header)
        offset = at + (22 if header == b"PK\x03\x04" else 24)
        raw[offset:offset + 4] = (10).to_bytes(4, "little")
    archive.write_bytes(bytes(raw))
    monkeypatch.setattr(cache, "MAX_MEMBER_BYTES", 1 << 10)
    with pytest.raises(InputError, match="expands past|damaged archive"):
        extract_members(archive, {"a": "pkg/big.csv"}, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_damaged_archive_is_an_input_error(tmp_path):
    archive = tmp_path / "a.tar.gz"
    _tar(archive, [(tarfile.TarInfo("pkg/table.csv"), b"a\n1\n" * 1000)])
    archive.write_bytes(archive.read_bytes()[:60])
    with pytest.raises(InputError, match="damaged archive"):
        extract_members(archive, {"t": "pkg/table.csv"}, tmp_path / "out")
    deb = tmp_path / "x.deb"
    deb.write_bytes(b"!<arch>\n" + b"data.tar.gz/    " + b"0" * 32 + b"notanumber" + b"`\n")
    with pytest.raises(InputError, match="damaged ar header|damaged archive"):
        extract_members(deb, {"t": "pkg/table.csv"}, tmp_path / "out")


def _fake_pip(tmp_path, failures: int):
    """A stand-in for ``subprocess.run`` of pip: fails ``failures`` times (leaving a partial file), then saves the wheel."""
    archive = _wheel(tmp_path / "toy-1.0-py3-none-any.whl", {"toy/data/table.csv": "a,b\n1,2\n"})
    calls = []

    def run(cmd, cwd, **kwargs):
        import subprocess

        calls.append(cmd)
        if len(calls) <= failures:
            (Path(cwd) / "partial.tmp").write_bytes(b"half")
            return subprocess.CompletedProcess(cmd, 1, "", "ERROR: connection reset while installing build dependencies")
        (Path(cwd) / archive.name).write_bytes(archive.read_bytes())
        return subprocess.CompletedProcess(cmd, 0, "", "")

    return PackageFile("pypi", "toy", "1.0", sha256_file(archive)), run, calls


@pytest.mark.parametrize("failures, ok", [(0, True), (2, True), (3, False)])
def test_a_registry_download_is_retried_then_named_in_the_error(tmp_path, monkeypatch, failures, ok):
    pkg, run, calls = _fake_pip(tmp_path, failures)
    monkeypatch.setattr(source_mod.subprocess, "run", run)
    monkeypatch.setattr(source_mod, "RETRY_WAIT_S", 0.0)
    said = []
    if ok:
        got = source_mod._download_package(pkg, tmp_path / "downloads", said.append)
        assert sha256_file(got) == pkg.sha256 and len(calls) == failures + 1
        assert sum("retrying" in s for s in said) == failures
    else:
        with pytest.raises(FetchError, match=r"could not download toy==1\.0 from pypi: .*connection reset"):
            source_mod._download_package(pkg, tmp_path / "downloads", said.append)
        assert len(calls) == source_mod.DOWNLOAD_ATTEMPTS
    assert not list((tmp_path / "downloads").glob("tmp*/*"))  # no partial file left behind


def test_an_sdist_is_downloaded_without_forbidding_its_build_requirements_wheels(tmp_path, monkeypatch):
    """``--no-binary :all:`` also forbids wheels of the sdist's build requirements (numpy...), which then fail
    to compile on a fresh machine: only the package itself is named."""
    pkg, run, calls = _fake_pip(tmp_path, 0)
    monkeypatch.setattr(source_mod.subprocess, "run", run)
    sdist = PackageFile("pypi", "toy", "1.0", pkg.sha256, sdist=True)
    source_mod._download_package(sdist, tmp_path / "downloads", lambda _: None)
    command = calls[0]
    assert command[command.index("--no-binary") + 1] == "toy" and ":all:" not in command
