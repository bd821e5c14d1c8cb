"""The OpenAPI description of stored files (``crmgen_runtime.files``): ``POST /api/files``,
``GET /api/files/{file}`` (and its thumbnail) and, per entity with ``attachments: true``,
``/api/<path>/{id}/attachments``; nothing for a spec that stores no files."""

from __future__ import annotations

from typing import Any

from crmgen.language.model import Spec

ERROR = {"$ref": "#/components/schemas/Error"}
FILE = {
    "type": "object",
    "required": ["id", "name", "content_type", "size", "sha256", "url"],
    "properties": {
        "id": {"type": "string", "description": "the file's id: the value of a file field"},
        "name": {"type": "string", "description": "the name it was uploaded as"},
        "content_type": {"type": "string", "description": "its type, from its content"},
        "size": {"type": "integer"},
        "sha256": {"type": "string"},
        "thumbnail": {"type": ["string", "null"], "description": "an image's thumbnail URL"},
        "url": {"type": "string", "description": "where it downloads"},
        "created_at": {"type": ["string", "null"], "format": "date-time"},
    },
}
UPLOAD = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary"}},
            }
        }
    },
}
DOWNLOAD = {
    "200": {
        "description": "The file (Content-Disposition: attachment; inline=1: inline for a "
        "raster image)",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    },
    "404": {
        "description": "No such file, or not readable",
        "content": {"application/json": {"schema": ERROR}},
    },
}


def _error(text: str) -> dict[str, Any]:
    return {"description": text, "content": {"application/json": {"schema": ERROR}}}


def _file_id() -> dict[str, Any]:
    return {"name": "file", "in": "path", "required": True, "schema": {"type": "string"}}


def _record_id() -> dict[str, Any]:
    return {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}


def _refused() -> dict[str, Any]:
    return {
        "413": _error("The file is over the limit (its field's max_size_mb)"),
        "415": _error("The file's content is not a type the field accepts"),
        "422": _error("An image that cannot be read"),
    }


def paths(spec: Spec) -> dict[str, Any]:
    """The file paths of ``spec`` (none when it stores no files)."""
    if not spec.uses_files:
        return {}
    found: dict[str, Any] = {
        "/api/files": {
            "post": {
                "operationId": "upload_file",
                "summary": "Upload a file for a file or image field (then PATCH the field with its id)",
                "tags": ["files"],
                "parameters": [
                    {
                        "name": "field",
                        "in": "query",
                        "schema": {"type": "string", "pattern": r"^[a-z0-9_]+\.[a-z0-9_]+$"},
                        "description": "<entity path>.<field>: check that field's accept and "
                        "max_size_mb now",
                    }
                ],
                "requestBody": UPLOAD,
                "responses": {
                    "201": {
                        "description": "The stored file",
                        "content": {"application/json": {"schema": FILE}},
                    },
                    **_refused(),
                },
            }
        },
        "/api/files/{file}": {
            "get": {
                "operationId": "download_file",
                "summary": "Download a file (its record's read rule)",
                "tags": ["files"],
                "parameters": [_file_id()],
                "responses": DOWNLOAD,
            }
        },
        "/api/files/{file}/thumbnail": {
            "get": {
                "operationId": "file_thumbnail",
                "summary": "An image's thumbnail (PNG, inline)",
                "tags": ["files"],
                "parameters": [_file_id()],
                "responses": DOWNLOAD,
            }
        },
    }
    for entity in spec.entities:
        if not entity.attachments or "read" not in entity.api:
            continue
        base = f"/api/{entity.api_path}/{{id}}/attachments"
        tag = [entity.name]  # grouped with the entity's other operations
        found[base] = {
            "get": {
                "operationId": f"{entity.api_path}_attachments",
                "summary": f"The files attached to a {entity.name}",
                "tags": tag,
                "parameters": [_record_id()],
                "responses": {
                    "200": {
                        "description": "The files",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"items": {"type": "array", "items": FILE}},
                                }
                            }
                        },
                    },
                    "404": _error("No such record, or not readable"),
                },
            },
            "post": {
                "operationId": f"{entity.api_path}_attach",
                "summary": f"Attach a file to a {entity.name} (its update rule)",
                "tags": tag,
                "parameters": [_record_id()],
                "requestBody": UPLOAD,
                "responses": {
                    "201": {
                        "description": "The attached file",
                        "content": {"application/json": {"schema": FILE}},
                    },
                    "403": _error("The record may not be changed"),
                    "404": _error("No such record, or not readable"),
                    **_refused(),
                },
            },
        }
        found[base + "/{file}"] = {
            "get": {
                "operationId": f"{entity.api_path}_attachment",
                "summary": "Download an attached file",
                "tags": tag,
                "parameters": [_record_id(), _file_id()],
                "responses": DOWNLOAD,
            },
            "delete": {
                "operationId": f"{entity.api_path}_detach",
                "summary": "Remove an attached file (its record's update rule)",
                "tags": tag,
                "parameters": [_record_id(), _file_id()],
                "responses": {
                    "204": {"description": "Removed"},
                    "403": _error("The record may not be changed"),
                    "404": _error("No such file"),
                },
            },
        }
        found[base + "/{file}/thumbnail"] = {
            "get": {
                "operationId": f"{entity.api_path}_attachment_thumbnail",
                "summary": "An attached image's thumbnail (PNG, inline)",
                "tags": tag,
                "parameters": [_record_id(), _file_id()],
                "responses": DOWNLOAD,
            }
        }
    return found
