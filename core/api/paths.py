"""Server paths stay on the server: what the API answers shows a path relative to its storage root, or not at all.

Answers used to carry absolute paths: a training job's or adapter's ``base_model`` (the default is a folder under
MODEL_STORAGE_DIR), errors naming a base model folder, an adapter's files or an existing output folder, a worker's
``internal error`` with a media or temporary path. ``hide_server_paths`` rewrites a text:

* a path under a storage root (MODEL_STORAGE_DIR, MEDIA_ROOT, the project folder, the temporary folder) becomes
  relative to it (``/srv/rmn/var/models/base/SmolLM2`` -> ``base/SmolLM2``); the root itself becomes its setting's
  name (``MODEL_STORAGE_DIR``);
* any other absolute file path keeps only its last part (``/etc/rmn/x.yaml`` -> ``x.yaml``).

API addresses (``/api/v1/...``) are not file paths and are left alone. The error handler applies it to every error
message; serializers list the read-only fields that may hold a path in ``server_path_fields``.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings

ROOT_SETTINGS = ("MODEL_STORAGE_DIR", "MEDIA_ROOT", "VAR_DIR", "STATIC_ROOT", "BASE_DIR")
_OTHER_ABSOLUTE = re.compile(r"""(?<![\w:/.~-])/(?!api/)(?:[^\s/'"`,;()\[\]<>]+/)+([^\s/'"`,;()\[\]<>]*)""")


def _roots() -> list[tuple[str, str]]:
    """(root, replacement for the bare root), longest first so a nested root wins over its parent."""
    roots: dict[str, str] = {}
    for name in ROOT_SETTINGS:
        value = getattr(settings, name, None)
        if value:
            for form in {str(value), os.path.realpath(value)}:
                roots.setdefault(form.rstrip("/") or "/", name)
    for form in {tempfile.gettempdir(), os.path.realpath(tempfile.gettempdir())}:
        roots.setdefault(form.rstrip("/"), "the temporary folder")
    return sorted(((root, name) for root, name in roots.items() if root != "/"), key=lambda item: -len(item[0]))


def hide_server_paths(text: str) -> str:
    """``text`` with every server path made relative to its storage root, or cut to its last part."""
    if "/" not in text:
        return text
    for root, name in _roots():
        if root not in text:
            continue
        text = re.sub(rf"{re.escape(root)}/+(?=[^\s'\"`,;])", "", text)  # under the root: relative to it
        text = re.sub(rf"{re.escape(root)}(?![\w-]|\.\w)", name, text)  # the root itself: its setting's name
    return _OTHER_ABSOLUTE.sub(lambda m: m.group(1) or Path(m.group(0).rstrip("/")).name, text)


def hide_server_paths_in(value: Any) -> Any:
    """``hide_server_paths`` on every string inside ``value`` (dicts, lists), keys included."""
    if isinstance(value, str):
        return hide_server_paths(value)
    if isinstance(value, dict):
        return {hide_server_paths_in(k): hide_server_paths_in(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [hide_server_paths_in(v) for v in value]
    return value


class HideServerPathsMixin:
    # For serializers: the fields named in ``server_path_fields`` (read-only text or JSON that may hold a server
    # path) are answered through hide_server_paths_in. (A comment, not a docstring: the schema would show it.)
    server_path_fields: tuple[str, ...] = ()

    def to_representation(self, instance):
        data = super().to_representation(instance)
        for name in self.server_path_fields:
            if name in data and data[name] is not None:
                data[name] = hide_server_paths_in(data[name])
        return data
