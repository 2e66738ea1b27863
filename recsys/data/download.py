"""Finding a MovieLens release on disk, and fetching it from GroupLens when asked.

Lookup is local first and never touches the network: :func:`find_release` looks in the folder
the caller names and nowhere else; without one it tries ``$RECSYS_DATA``, the cache, and (for
ml-latest-small) the copy shipped in the package (``recsys/data/ml-latest-small``).
:func:`download` streams the zip to a temporary file, verifies the published checksum, unzips
into a temporary folder and renames it into place, so an interrupted download never leaves a
half-written release in the cache.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
import warnings
import zipfile
from pathlib import Path

from recsys.data.releases import RELEASES, Release, get_release
from recsys.errors import ChecksumError, DataFormatError, DataNotFoundError

CHUNK = 1 << 20


def cache_dir(override: str | Path | None = None) -> Path:
    """The download cache: ``override``, else ``$RECSYS_CACHE``, else the user's cache dir.

    The user's cache dir is ``$XDG_CACHE_HOME/recsys`` or ``~/.cache/recsys``. The folder is
    not created here.
    """
    if override is not None:
        return Path(override).expanduser()
    env = os.environ.get("RECSYS_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "recsys"


def _shipped_dir() -> Path:
    # ml-latest-small ships inside the package (package data), so it is there wherever recsys
    # is installed.
    return Path(__file__).resolve().parent


def _candidates(release: Release, data_dir=None) -> list[Path]:
    """Every folder that may hold the release, in the order they are tried: those under
    ``data_dir`` when one is given (and nothing else), else ``$RECSYS_DATA``, the cache and
    the shipped copy."""
    names = [release.name] + ([release.folder] if release.folder != release.name else [])
    if data_dir is not None:
        root = Path(data_dir).expanduser()
        return [root] + [root / n for n in names]
    out: list[Path] = []
    env = os.environ.get("RECSYS_DATA")
    if env:
        out += [Path(env).expanduser() / n for n in names]
    out += [cache_dir() / n for n in names]
    if release.name == "ml-latest-small":
        out.append(_shipped_dir() / release.name)
    return out


def find_release(name: str, data_dir: str | Path | None = None) -> Path:
    """The folder holding release ``name`` on this machine; no network.

    With ``data_dir``, only there: the release folder itself, or a parent holding
    ``<name>/`` (or the folder name inside GroupLens' zip, ``ml-10M100K/``); a folder given
    is never swapped for another copy. Without it, in order: ``$RECSYS_DATA/<name>``,
    ``<cache>/<name>`` (see :func:`cache_dir`), and for ml-latest-small the copy shipped in
    the package (``recsys/data/ml-latest-small``). A folder counts if it holds the release's
    ratings file (``u.data``, ``ratings.dat`` or ``ratings.csv``); it must not be another
    release's (see :func:`check_release_folder`).

    Raises
    ------
    DataNotFoundError
        Naming every place searched (the folder given and the files looked for there), the
        download URL and where to put the files.
    DataFormatError
        The folder found holds another release.
    """
    release = get_release(name)
    tried = _candidates(release, data_dir)
    if data_dir is not None:
        root = tried[0]
        if root.is_file():
            raise DataNotFoundError(
                f"the data folder given for {release.name}, {root}, is a file: give the folder "
                f"that holds {release.ratings_file} (or a folder holding {release.name}/)")
    for folder in tried:
        if (folder / release.ratings_file).is_file():
            check_release_folder(release, folder)
            return folder
    if data_dir is not None:
        raise DataNotFoundError(_not_in_given_dir(release, tried))
    raise DataNotFoundError(_not_found_message(release, tried))


def check_release_folder(release: Release, folder: Path) -> None:
    """Refuse a folder that holds another release: one named as another release (``ml-1m``
    asked for as ``ml-10m``) or holding a file the release never has (``users.dat`` is
    ML-1M's; ML-10M has none). DataFormatError naming the folder and the clue."""
    others = {n: r for r in RELEASES.values() if r.name != release.name
              for n in (r.name, r.folder)}
    if folder.name in others and folder.name not in (release.name, release.folder):
        raise DataFormatError(folder, f"the folder is named {folder.name!r}, another MovieLens "
                              f"release, not {release.name}: load it as "
                              f"{others[folder.name].name!r}, or give the {release.name} folder")
    for file_name in release.foreign_files:
        if (folder / file_name).exists():
            raise DataFormatError(folder, f"holds {file_name}, which {release.name} does not "
                                  f"have: this is another release, not {release.name}")


def _not_in_given_dir(release: Release, tried: list[Path]) -> str:
    root = tried[0]
    state = "" if root.is_dir() else " (it does not exist)"
    looked = ", ".join(str(p / release.ratings_file) for p in dict.fromkeys(tried))
    return (f"MovieLens release {release.name} not found in the data folder given, "
            f"{root}{state}: looked for {looked}. A folder given is used alone (no fall-back to "
            f"$RECSYS_DATA, the cache or the shipped copy); `recsys data download "
            f"{release.name}` fetches it into the cache, or unzip {release.url} there.")


def _not_found_message(release: Release, tried: list[Path], reason: str = "",
                       cache: Path | None = None) -> str:
    seen = list(dict.fromkeys(str(p) for p in tried))
    cache = (cache if cache is not None else cache_dir()) / release.name
    lines = [f"MovieLens release {release.name} not found"
             + (f" ({reason})" if reason else "") + ". Looked for "
             f"{release.ratings_file} in:"]
    lines += [f"  - {p}" for p in seen]
    lines += [
        f"Download {release.url} and unzip it so that {cache}/{release.ratings_file} exists",
        f"(or put the {release.name}/ folder under $RECSYS_DATA, or pass its folder as "
        "data_dir / --data-dir),",
        f"or let recsys fetch it: `recsys data download {release.name}` "
        "(download=True in Python).",
    ]
    return "\n".join(lines)


def _progress(total: int | None, name: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                desc=f"{name}", disable=not enabled, file=sys.stderr, leave=False)


def _fetch(url: str, dest: Path, name: str, progress: bool) -> tuple[str, str]:
    """Stream ``url`` into ``dest``; return its (md5, sha256) hex digests."""
    md5, sha256 = hashlib.md5(), hashlib.sha256()
    with urllib.request.urlopen(url, timeout=60) as response, open(dest, "wb") as out:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        with _progress(total, name, progress) as bar:
            while True:
                chunk = response.read(CHUNK)
                if not chunk:
                    break
                out.write(chunk)
                md5.update(chunk)
                sha256.update(chunk)
                bar.update(len(chunk))
    return md5.hexdigest(), sha256.hexdigest()


def _safe_extract(archive: zipfile.ZipFile, dest: Path) -> None:
    root = dest.resolve()
    for member in archive.infolist():
        target = (dest / member.filename).resolve()
        if target != root and root not in target.parents:
            raise DataFormatError(archive.filename or "<zip>",
                                  f"archive member {member.filename!r} escapes the folder")
    archive.extractall(dest)


def download(name: str, cache: Path | None = None, url: str | None = None,
             progress: bool = True, *, md5: str | None = None,
             sha256: str | None = None) -> Path:
    """Download release ``name`` into the cache and return its folder.

    If ``<cache>/<name>`` already holds the release, it is returned without network.

    Parameters
    ----------
    name : str
        Release name (see :data:`recsys.data.releases.RELEASES`).
    cache : path, optional
        Cache folder; default :func:`cache_dir`.
    url : str, optional
        Fetch from here instead of GroupLens (a mirror, or a ``file://`` URL).
    progress : bool
        Show a tqdm progress bar on stderr.
    md5, sha256 : str, optional
        Expected checksum of the zip, overriding the registry's (for mirrors of a release
        with no published checksum). SHA-256 is checked in preference to MD5.

    Raises
    ------
    DataNotFoundError
        The URL cannot be fetched (no network); the message says where to put the files.
    ChecksumError
        The zip does not match its checksum; nothing is left in the cache.
    DataFormatError
        The file is not a zip, or it does not hold the release's ratings file.
    """
    release = get_release(name)
    url = url or release.url
    root = cache_dir(cache)
    target = root / release.name
    if (target / release.ratings_file).is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=root, prefix=f".{release.name}-", suffix=".zip.part")
    os.close(fd)
    tmp_zip = Path(tmp_name)
    tmp_dir: Path | None = None
    try:
        try:
            got_md5, got_sha256 = _fetch(url, tmp_zip, release.name, progress)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            if isinstance(exc, urllib.error.HTTPError):
                reason = f"HTTP {exc.code} {exc.reason}"
            else:
                reason = getattr(exc, "reason", None) or exc
            tried = [target] + _candidates(release, None)
            raise DataNotFoundError(_not_found_message(
                release, tried, f"downloading {url} failed: {reason}", root)) from None
        want_sha256 = sha256 or (None if md5 else release.sha256)
        want_md5 = md5 or (None if sha256 else release.md5)
        if want_sha256 is not None:
            if got_sha256 != want_sha256.lower():
                raise ChecksumError(
                    f"{url}: sha256 {got_sha256} does not match the expected {want_sha256}; "
                    "the download is corrupt or the release changed (nothing was kept)")
        elif want_md5 is not None:
            if got_md5 != want_md5.lower():
                raise ChecksumError(
                    f"{url}: md5 {got_md5} does not match the published {want_md5}; "
                    "the download is corrupt or the release changed (nothing was kept)")
        else:
            warnings.warn(f"{release.name} has no published checksum; the download from {url} "
                          f"was not verified (md5 {got_md5})", stacklevel=2)
        tmp_dir = Path(tempfile.mkdtemp(dir=root, prefix=f".{release.name}-"))
        try:
            with zipfile.ZipFile(tmp_zip) as archive:
                _safe_extract(archive, tmp_dir)
        except zipfile.BadZipFile:
            raise DataFormatError(url, "not a valid zip archive") from None
        folder = _release_folder(tmp_dir, release)
        if not (folder / release.ratings_file).is_file():
            raise DataFormatError(url, f"the archive holds no {release.ratings_file}")
        if target.exists():  # an incomplete leftover: it lacked the ratings file
            shutil.rmtree(target)
        os.replace(folder, target)
        return target
    finally:
        tmp_zip.unlink(missing_ok=True)
        if tmp_dir is not None:
            shutil.rmtree(tmp_dir, ignore_errors=True)


def _release_folder(extracted: Path, release: Release) -> Path:
    """The folder inside an extracted archive that holds the release files."""
    for name in (release.folder, release.name):
        if (extracted / name).is_dir():
            return extracted / name
    subdirs = [p for p in extracted.iterdir() if p.is_dir() and not p.name.startswith("__")]
    if len(subdirs) == 1 and not (extracted / release.ratings_file).exists():
        return subdirs[0]
    return extracted
