"""Where uploaded files live: a local folder by default, or any S3-compatible store.

A ``Storage`` keeps blobs by key (the file's random id, ``<id>.thumb`` for its thumbnail):
``put`` copies a readable binary file in, ``chunks`` reads one back piece by piece, ``delete``
removes it (a missing key is no error). ``from_settings`` picks the store from the app's
settings: ``FILES_S3_BUCKET`` set means S3 through boto3 (install ``crmgen-runtime[s3]``;
``FILES_S3_ENDPOINT_URL`` for a store other than AWS, ``FILES_S3_PREFIX`` and
``FILES_S3_REGION``; credentials the way boto3 finds them, e.g. ``AWS_ACCESS_KEY_ID`` and
``AWS_SECRET_ACCESS_KEY``), else the folder ``FILES_DIR`` (``files`` in the working folder;
mount a volume there in a container).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Protocol

CHUNK_BYTES = 256 * 1024
KEY = re.compile(r"[A-Za-z0-9_-]{8,64}(\.thumb)?")


class StorageError(Exception):
    """A blob cannot be stored or read; the message says why."""


class Storage(Protocol):
    """A place for uploaded files, by key."""

    def put(self, key: str, source: IO[bytes]) -> None: ...

    def chunks(self, key: str) -> Iterator[bytes]: ...

    def delete(self, key: str) -> None: ...

    def exists(self, key: str) -> bool: ...


def _checked(key: str) -> str:
    if not KEY.fullmatch(key):
        raise StorageError(f"not a storage key: {key!r}")
    return key


class LocalStorage:
    """Blobs as files of one folder, two levels deep by the key's first letters."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.folder)!r})"

    def path(self, key: str) -> Path:
        key = _checked(key)
        return self.folder / key[:2] / key

    def put(self, key: str, source: IO[bytes]) -> None:
        target = self.path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as out:
                shutil.copyfileobj(source, out, CHUNK_BYTES)
                out.flush()
                os.fsync(out.fileno())
            os.replace(out.name, target)  # readers never see half a file
        except OSError as exc:
            raise StorageError(f"cannot store {key} in {self.folder}: {exc}") from exc

    def chunks(self, key: str) -> Iterator[bytes]:
        try:
            handle = self.path(key).open("rb")
        except OSError as exc:
            raise StorageError(f"cannot read {key} from {self.folder}: {exc}") from exc
        with handle:
            while chunk := handle.read(CHUNK_BYTES):
                yield chunk

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()


class S3Storage:
    """Blobs as objects of an S3 bucket (AWS or any compatible store), through boto3."""

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        client: Any = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        if client is None:
            try:
                import boto3  # type: ignore[import-untyped,unused-ignore]
            except ImportError as exc:  # pragma: no cover - depends on the install
                raise StorageError(
                    "FILES_S3_BUCKET is set but boto3 is not installed: install "
                    "crmgen-runtime[s3] (or boto3)"
                ) from exc
            client = boto3.client("s3", endpoint_url=endpoint_url or None, region_name=region)
        self.client = client

    def __repr__(self) -> str:
        return f"S3Storage({self.bucket!r}, prefix={self.prefix!r})"

    def _key(self, key: str) -> str:
        return self.prefix + _checked(key)

    def put(self, key: str, source: IO[bytes]) -> None:
        try:
            self.client.upload_fileobj(source, self.bucket, self._key(key))
        except Exception as exc:  # botocore raises many kinds
            raise StorageError(f"cannot store {key} in s3://{self.bucket}: {exc}") from exc

    def chunks(self, key: str) -> Iterator[bytes]:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        except Exception as exc:  # botocore raises many kinds
            raise StorageError(f"cannot read {key} from s3://{self.bucket}: {exc}") from exc
        try:
            yield from body.iter_chunks(CHUNK_BYTES)
        finally:
            body.close()

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as exc:  # botocore raises many kinds
            raise StorageError(f"cannot delete {key} from s3://{self.bucket}: {exc}") from exc

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except Exception:  # noqa: BLE001 - a 404 and a refusal alike: not readable
            return False
        return True


_CACHE: dict[tuple[str, ...], Storage] = {}


def from_settings(settings: Any) -> Storage:
    """The store ``settings`` name (``Settings.files_*``), made once per process."""
    key = (
        settings.files_s3_bucket or "",
        settings.files_s3_prefix,
        settings.files_s3_endpoint_url or "",
        settings.files_s3_region or "",
        settings.files_dir,
    )
    found = _CACHE.get(key)
    if found is None:
        if settings.files_s3_bucket:
            found = S3Storage(
                settings.files_s3_bucket,
                prefix=settings.files_s3_prefix,
                endpoint_url=settings.files_s3_endpoint_url,
                region=settings.files_s3_region,
            )
        else:
            found = LocalStorage(settings.files_dir)
        _CACHE[key] = found
    return found
