"""Build ``crmgen_runtime/web/lucide/icons.json`` from lucide-static's npm tarball.

    cd /tmp && npm pack lucide-static@VERSION
    python3 runtime/tools/vendor_lucide.py /tmp/lucide-static-VERSION.tgz

Each ``package/icons/NAME.svg`` becomes one line ``"NAME": "INNER"``: the elements inside its
``<svg>`` (paths, circles, ...), exactly as the file has them, on one line with ``/>`` closers.
An icon whose markup is another's (an old name Lucide keeps, ``check-square``) is listed under
``aliases`` with the name ``icon-nodes.json`` gives it. Then record the version, the tarball's
sha256 and the new file's in ``web/lucide/vendor.json`` and copy ``package/LICENSE`` beside it.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import tarfile
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "crmgen_runtime" / "web" / "lucide"
SVG = re.compile(r"<svg\b[^>]*>(.*)</svg>", re.DOTALL)


def inner(svg: str) -> str:
    body = SVG.search(svg)
    if body is None:
        raise ValueError("no <svg> element")
    lines = (line.strip() for line in body.group(1).splitlines())
    return "".join(re.sub(r"\s*/>$", "/>", line) for line in lines if line)


def build(tarball: Path) -> str:
    with tarfile.open(tarball) as archive:
        files = {
            Path(m.name).stem: archive.extractfile(m).read().decode("utf-8")  # type: ignore[union-attr]
            for m in archive.getmembers()
            if m.name.startswith("package/icons/") and m.name.endswith(".svg")
        }
        nodes = json.load(archive.extractfile("package/icon-nodes.json"))  # type: ignore[arg-type]
    markup = {name: inner(text) for name, text in sorted(files.items())}
    icons = {name: markup[name] for name in sorted(nodes)}
    by_markup = {body: name for name, body in icons.items()}
    aliases = {name: by_markup[body] for name, body in markup.items() if name not in icons}
    lines = ["{", ' "aliases": {']
    lines += [f" {json.dumps(a)}: {json.dumps(n)}," for a, n in aliases.items()]
    lines[-1] = lines[-1].rstrip(",")
    lines += [" },", ' "icons": {']
    lines += [f" {json.dumps(n)}: {json.dumps(b, ensure_ascii=False)}," for n, b in icons.items()]
    lines[-1] = lines[-1].rstrip(",")
    lines += [" }", "}", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    text = build(Path(sys.argv[1]))
    (OUT / "icons.json").write_text(text, encoding="utf-8")
    print("icons.json", hashlib.sha256(text.encode()).hexdigest(), len(text))
