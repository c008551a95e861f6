"""MkDocs hook: a page for every folder of docs/, so that folder links work on the site.

The guides link to folders (`[results/adding_T100_indrnn/](results/adding_T100_indrnn/)`), which
GitHub shows as a file listing and a static site serves as nothing at all. This hook

- adds a generated `index.md` to every folder of docs/ that has none: a list of its files and
  subfolders, its PNGs shown, its small JSON files printed;
- rewrites each relative link that ends in `/` to that folder's `index.md` before MkDocs
  validates the page, so a link to a folder that does not exist is a "not found" warning, which
  fails `mkdocs build --strict` like any broken link.

Generated pages are not in the nav and are not reported as omitted from it.
"""

import os
import posixpath
import re

from mkdocs.structure.files import File, InclusionLevel

# A Markdown link or image whose target is relative and ends in "/", with an optional anchor.
_FOLDER_LINK = re.compile(r"(\]\()(?![a-z][a-z0-9+.-]*:)([^()\s#]*/)(#[^()\s]*)?(\))")
_FENCE = re.compile(r"^(```|~~~)")
_SHOWN_TEXT = (".json",)
_SHOWN_TEXT_MAX_BYTES = 20_000


def on_files(files, config):
    folders = set()
    for file in files:
        if file.inclusion.is_excluded():
            continue
        folder = posixpath.dirname(file.src_uri)
        while folder:
            folders.add(folder)
            folder = posixpath.dirname(folder)
    existing = {file.src_uri for file in files}
    for folder in sorted(folders):
        if f"{folder}/index.md" in existing or f"{folder}/README.md" in existing:
            continue
        page = File.generated(
            config,
            f"{folder}/index.md",
            content=_folder_page(folder, files, config["docs_dir"]),
            inclusion=InclusionLevel.NOT_IN_NAV,
        )
        files.append(page)
    return files


def _folder_page(folder, files, docs_dir):
    prefix = folder + "/"
    entries, subfolders = [], set()
    for file in files:
        if not file.src_uri.startswith(prefix) or file.inclusion.is_excluded():
            continue
        rest = file.src_uri[len(prefix) :]
        if "/" in rest:
            subfolders.add(rest.split("/", 1)[0])
        else:
            entries.append(rest)
    lines = [f"# {folder}/", ""]
    if subfolders:
        lines += ["Folders:", ""] + [f"- [{name}/]({name}/index.md)" for name in sorted(subfolders)]
        lines.append("")
    if entries:
        lines += ["Files:", ""] + [f"- [{name}]({name})" for name in sorted(entries)]
        lines.append("")
    # The figures first, then the numbers.
    for name in sorted(entries, key=lambda name: (not name.endswith(".png"), name)):
        path = os.path.join(docs_dir, folder, name)
        if name.endswith(".png"):
            lines += [f"## {name}", "", f"![{name}]({name})", ""]
        elif name.endswith(_SHOWN_TEXT) and os.path.getsize(path) <= _SHOWN_TEXT_MAX_BYTES:
            with open(path, encoding="utf-8") as handle:
                text = handle.read().rstrip("\n")
            lines += [f"## {name}", "", "```json", text, "```", ""]
    return "\n".join(lines)


def on_page_markdown(markdown, page, config, files):
    lines, fenced = [], False
    for line in markdown.split("\n"):
        if _FENCE.match(line.lstrip()):
            fenced = not fenced
        elif not fenced:
            line = _FOLDER_LINK.sub(_to_index, line)
        lines.append(line)
    return "\n".join(lines)


def _to_index(match):
    opening, folder, anchor, closing = match.groups()
    return f"{opening}{folder}index.md{anchor or ''}{closing}"
