"""The imports bucket: uploaded CSV files, import error reports and large exports.

Key layout (the bucket's lifecycle rules in infra/resources.json expire each prefix):
- `uploads/<ws>/<import id>.csv`: a file to import; creating it notifies the imports queue;
- `reports/<ws>/<import id>/...`: the error report of an import, in parts then whole;
- `exports/<ws>/<export id>.csv`: a contact export too large to answer inline.

Reads stream (a ranged GET from any offset, with the ETag the import started with, so a file
replaced meanwhile is noticed instead of misread); nothing here holds a whole file.
"""

from __future__ import annotations

import io
from collections.abc import Generator, Iterable, Iterator
from functools import lru_cache
from typing import Any
from urllib.parse import unquote_plus

from chalicelib.platform import config

UPLOADS = "uploads/"
READ_CHUNK = 64 * 1024


class ObjectChanged(Exception):
    """The object is gone or is not the one the caller started with (ETag differs)."""


@lru_cache(maxsize=1)
def _client() -> Any:
    # cold start: heavy library, loaded on first use
    import boto3
    from botocore.config import Config

    # SigV4 presigned URLs: the only kind every region accepts.
    return boto3.client("s3", config=Config(signature_version="s3v4"))


def bucket() -> str:
    return config.imports_bucket()


# ---- keys ---------------------------------------------------------------------------------


def upload_key(workspace_id: str, import_id: str) -> str:
    return f"{UPLOADS}{workspace_id}/{import_id}.csv"


def parse_upload_key(raw_key: str) -> tuple[str, str] | None:
    """(workspace id, import id) of an upload key as an S3 event gives it (URL-encoded)."""
    key = unquote_plus(raw_key)
    if not key.startswith(UPLOADS) or not key.endswith(".csv"):
        return None
    parts = key[len(UPLOADS) : -len(".csv")].split("/")
    return (parts[0], parts[1]) if len(parts) == 2 and all(parts) else None


def report_part_key(workspace_id: str, import_id: str, step: int) -> str:
    return f"reports/{workspace_id}/{import_id}/parts/{step:07d}.csv"


def report_key(workspace_id: str, import_id: str) -> str:
    return f"reports/{workspace_id}/{import_id}/errors.csv"


def export_key(workspace_id: str, export_id: str) -> str:
    return f"exports/{workspace_id}/{export_id}.csv"


# ---- URLs ---------------------------------------------------------------------------------


def upload_url(key: str, expires_in: int) -> str:
    """A presigned PUT: whoever holds it may put that one object until it expires."""
    url: str = _client().generate_presigned_url(
        "put_object", Params={"Bucket": bucket(), "Key": key}, ExpiresIn=expires_in
    )
    return url


def download_url(key: str, expires_in: int, file_name: str) -> str:
    url: str = _client().generate_presigned_url(
        "get_object",
        Params={
            "Bucket": bucket(),
            "Key": key,
            "ResponseContentDisposition": f'attachment; filename="{file_name}"',
            "ResponseContentType": "text/csv; charset=utf-8",
        },
        ExpiresIn=expires_in,
    )
    return url


# ---- objects ------------------------------------------------------------------------------


def put(key: str, data: bytes, content_type: str = "text/csv; charset=utf-8") -> str:
    """Store `data`; returns its ETag (without quotes)."""
    reply = _client().put_object(Bucket=bucket(), Key=key, Body=data, ContentType=content_type)
    return str(reply["ETag"]).strip('"')


def get(key: str) -> bytes | None:
    try:
        data: bytes = _client().get_object(Bucket=bucket(), Key=key)["Body"].read()
        return data
    except _client().exceptions.NoSuchKey:
        return None


def size_of(key: str) -> int | None:
    found = stat(key)
    return None if found is None else found[1]


def stat(key: str) -> tuple[str, int] | None:
    """The object's ETag (unquoted) and size; None when there is no such object."""
    # cold start: heavy library, loaded on first use
    from botocore.exceptions import ClientError

    try:
        head = _client().head_object(Bucket=bucket(), Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    return str(head["ETag"]).strip('"'), int(head["ContentLength"])


def read_from(
    key: str, offset: int, etag: str | None = None, size: int | None = None
) -> Generator[bytes, None, None]:
    """The object's bytes from `offset` on, in chunks, as they arrive (a ranged GET).

    Raises ObjectChanged when the object is gone or its ETag is no longer `etag`. Closing the
    iterator early closes the connection, so a caller that needs only the next rows of a big
    file does not download the rest.
    """
    # cold start: heavy library, loaded on first use
    from botocore.exceptions import ClientError

    if size is not None and offset >= size:
        return
    params: dict[str, Any] = {"Bucket": bucket(), "Key": key}
    if offset:
        params["Range"] = f"bytes={offset}-"
    if etag:
        params["IfMatch"] = f'"{etag}"'
    try:
        body = _client().get_object(**params)["Body"]
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code in ("PreconditionFailed", "NoSuchKey", "404", "412"):
            raise ObjectChanged(code) from None
        if code == "InvalidRange":  # the offset is the end of the file
            return
        raise
    try:
        yield from body.iter_chunks(READ_CHUNK)
    finally:
        body.close()


def delete(key: str) -> None:
    _client().delete_object(Bucket=bucket(), Key=key)


def keys_under(prefix: str) -> Iterator[str]:
    paginator = _client().get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket(), Prefix=prefix):
        for entry in page.get("Contents", []):
            yield entry["Key"]


def delete_under(prefix: str) -> None:
    batch: list[dict[str, str]] = []
    for key in keys_under(prefix):
        batch.append({"Key": key})
        if len(batch) == 1000:
            _client().delete_objects(Bucket=bucket(), Delete={"Objects": batch, "Quiet": True})
            batch = []
    if batch:
        _client().delete_objects(Bucket=bucket(), Delete={"Objects": batch, "Quiet": True})


class _ChunkReader(io.RawIOBase):
    """A readable file over an iterator of byte chunks (what upload_fileobj wants)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def write_stream(key: str, chunks: Iterable[bytes], content_type: str = "text/csv; charset=utf-8") -> None:
    """Store an object made of `chunks` without holding it whole (multipart past 8 MB)."""
    _client().upload_fileobj(
        io.BufferedReader(_ChunkReader(chunks), buffer_size=READ_CHUNK),
        bucket(),
        key,
        ExtraArgs={"ContentType": content_type},
    )


# ---- multipart (exports written step by step) ---------------------------------------------


def start_multipart(key: str, content_type: str = "text/csv; charset=utf-8") -> str:
    return str(
        _client().create_multipart_upload(Bucket=bucket(), Key=key, ContentType=content_type)["UploadId"]
    )


def upload_part(key: str, upload_id: str, number: int, data: bytes) -> str:
    reply = _client().upload_part(Bucket=bucket(), Key=key, UploadId=upload_id, PartNumber=number, Body=data)
    return str(reply["ETag"])


def complete_multipart(key: str, upload_id: str, etags: list[str]) -> None:
    """Assemble the parts; done already (a retry after a crash) is fine."""
    # cold start: heavy library, loaded on first use
    from botocore.exceptions import ClientError

    parts = [{"ETag": etag, "PartNumber": number} for number, etag in enumerate(etags, start=1)]
    try:
        _client().complete_multipart_upload(
            Bucket=bucket(), Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "NoSuchUpload" or size_of(key) is None:
            raise
