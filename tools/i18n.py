"""Build the translation template i18n/sar_eo_coreg.ts from the plugin's tr() strings (the job pylupdate5 does,
which Debian's QGIS does not ship): each `self.tr("…")` literal under the class it is in (PyQt's tr() context).
A translator copies it to sar_eo_coreg_<lang>.ts, translates it in Qt Linguist and runs `lrelease`; the plugin
loads i18n/sar_eo_coreg_<locale>.qm when QGIS runs in that locale.

    python tools/i18n.py [--check]   # --check: exit 1 when the template is out of date
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from xml.sax.saxutils import escape

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "sar_eo_coreg"
TEMPLATE = PACKAGE / "i18n" / "sar_eo_coreg.ts"


def messages():
    """{context: [(source, file, line)]} of every tr() literal, in file order."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for cls in [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]:
            for call in ast.walk(cls):
                if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "tr"
                        and call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str)):
                    entry = (call.args[0].value, path.relative_to(PACKAGE).as_posix(), call.lineno)
                    if entry[0] not in [m[0] for m in found.get(cls.name, [])]:
                        found.setdefault(cls.name, []).append(entry)
    return found


def template() -> str:
    lines = ['<?xml version="1.0" encoding="utf-8"?>', "<!DOCTYPE TS>", '<TS version="2.1" sourcelanguage="en">']
    for context, entries in sorted(messages().items()):
        lines += ["<context>", f"    <name>{context}</name>"]
        for source, file, _line in sorted(entries, key=lambda e: (e[1], e[2])):
            lines += ["    <message>", f'        <location filename="../{file}"/>',
                      f"        <source>{escape(source)}</source>", '        <translation type="unfinished"></translation>',
                      "    </message>"]
        lines.append("</context>")
    return "\n".join(lines + ["</TS>", ""])


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    text = template()
    if "--check" in argv:
        if not TEMPLATE.exists() or TEMPLATE.read_text() != text:
            print(f"{TEMPLATE} is out of date: run python tools/i18n.py", file=sys.stderr)
            return 1
        return 0
    TEMPLATE.parent.mkdir(exist_ok=True)
    TEMPLATE.write_text(text)
    print(f"{sum(len(e) for e in messages().values())} strings in {len(messages())} contexts: {TEMPLATE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
