"""The README and the docs/ pages stay true: their links lead somewhere, the commands they show
exist, the repository paths they name are there, and the README stays short."""
from __future__ import annotations

import argparse
import importlib.util
import re
import shlex
from pathlib import Path

import pytest

from course.trainer.cohort import cli

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
PAGES = [README, *sorted((REPO / "docs").glob("*.md"))]
README_MAX_LINES = 170

FENCE = re.compile(r"^```.*?^```[ \t]*$", re.M | re.S)
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
SPAN = re.compile(r"`([^`]+)`")
COURSE_COMMAND = re.compile(r"python -m (course(?:\.[\w.]+)?)(?![\w.])([^`]*)")
MAKE_COMMAND = re.compile(r"(?:^|[\s`])make((?:\s+[^\s`]+)*)")
# The end of one shell command on a line: a comment, a pipe, a list, a redirection.
COMMAND_END = re.compile(r"\s#|\s&&|\s\|\|?\s|;|\s\d?>")
REPO_PATH = re.compile(r"^(?:course|tests|benchmarks|deploy|docs|source|release)/[\w./-]*$")
PLACEHOLDERS = ("<", "…", "...", "$")


# -- reading a page ----------------------------------------------------------------------------
def code_lines(text: str) -> list[str]:
    """Each line of a fenced block and each inline code span (its line breaks joined), the places
    a page shows something to type or a file's name."""
    lines = [line for block in FENCE.findall(text) for line in block.splitlines()[1:-1]]
    spans = [" ".join(span.split()) for span in SPAN.findall(FENCE.sub("", text))]
    return lines + spans


def headings(text: str) -> set[str]:
    """GitHub's anchors of a page's headings (code blocks left out)."""
    anchors, seen = set(), {}
    for line in FENCE.sub("", text).splitlines():
        found = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not found:
            continue
        slug = re.sub(r"[^\w\- ]", "", found.group(1).lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def broken_links(page: Path, text: str) -> list[str]:
    broken = []
    for target in LINK.findall(FENCE.sub("", text)):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve()
        if path and not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and (path and linked.suffix != ".md" or
                         anchor not in headings(linked.read_text(encoding="utf-8") if path else text)):
            broken.append(f"{target}: no heading #{anchor}")
    return broken


# -- what exists -------------------------------------------------------------------------------
def command_options(parser: argparse.ArgumentParser) -> tuple[set[str], dict[str, argparse.ArgumentParser]]:
    """A parser's option strings and its subcommands' parsers."""
    options, commands = set(), {}
    for action in parser._actions:
        options.update(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            commands.update(action.choices)
    return options, commands


def make_targets() -> set[str]:
    text = (REPO / "Makefile").read_text(encoding="utf-8")
    return {name for names in re.findall(r"^([A-Za-z][\w .-]*?)\s*:(?!=)", text, re.M) for name in names.split()}


def runnable_module(name: str) -> bool:
    """``python -m name`` runs something: a package with ``__main__`` or a module with a main guard."""
    try:
        spec = importlib.util.find_spec(name)
    except ModuleNotFoundError:
        return False
    if spec is None or spec.origin is None:
        return False
    if spec.submodule_search_locations is not None:
        return importlib.util.find_spec(f"{name}.__main__") is not None
    return "__name__ == \"__main__\"" in Path(spec.origin).read_text(encoding="utf-8")


def words(rest: str) -> list[str]:
    rest = COMMAND_END.split(rest, maxsplit=1)[0]
    try:
        split = shlex.split(rest)
    except ValueError:  # an opening quote closed in the next span
        split = rest.split()
    return [w.strip("[](),\"'") for w in split if w.strip("[](),\"'")]


def course_command_problems(module: str, rest: str, parser: argparse.ArgumentParser) -> list[str]:
    """What is wrong with ``python -m <module> <rest>`` as a page shows it (nothing when it is right)."""
    if module != "course":
        return [] if runnable_module(module) else [f"python -m {module}: no such runnable module"]
    args = words(rest)
    if not args or args[0].startswith(PLACEHOLDERS):
        return []
    options, commands = command_options(parser)
    if args[0].startswith("-"):
        return [] if args[0].split("=")[0] in options else [f"python -m course {args[0]}: no such option"]
    if args[0] not in commands:
        return [f"python -m course {args[0]}: no such command (commands: {', '.join(sorted(commands))})"]
    said = f"python -m course {args[0]}"
    options, commands = command_options(commands[args[0]])
    if commands and len(args) > 1 and not args[1].startswith(("-", *PLACEHOLDERS)):
        if args[1] not in commands:
            return [f"{said} {args[1]}: no such action"]
        said += f" {args[1]}"
        options |= command_options(commands[args[1]])[0]
    return [f"{said} {arg}: no such option" for arg in args[1:]
            if arg.startswith("-") and arg.split("=")[0] not in options]


def make_problems(rest: str, targets: set[str]) -> list[str]:
    named = [w for w in words(rest) if not w.startswith("-") and "=" not in w]
    if not named or named[0].startswith(PLACEHOLDERS):
        return []
    return [f"make {name}: no such target (targets: {', '.join(sorted(targets))})"
            for name in named if name not in targets]


def command_problems(text: str, parser: argparse.ArgumentParser, targets: set[str]) -> list[str]:
    problems = []
    for line in code_lines(text):
        for module, rest in COURSE_COMMAND.findall(line):
            problems += course_command_problems(module, rest, parser)
        for rest in MAKE_COMMAND.findall(COMMAND_END.split(line, maxsplit=1)[0]):
            problems += make_problems(rest, targets)
    return problems


def missing_paths(text: str) -> list[str]:
    named = {w.rstrip(",;:).") for line in code_lines(text) for w in line.split()}
    return sorted(p for p in named if REPO_PATH.match(p) and not (REPO / p).exists())


# -- the tests ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def parser():
    return cli.parser()


def page_id(page: Path) -> str:
    return str(page.relative_to(REPO))


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_link_resolves(page):
    assert broken_links(page, page.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_command_shown_exists(page, parser):
    assert command_problems(page.read_text(encoding="utf-8"), parser, make_targets()) == []


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_repository_path_shown_exists(page):
    assert missing_paths(page.read_text(encoding="utf-8")) == []


def test_the_readme_is_short_and_leads_to_every_page():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= README_MAX_LINES
    linked = {(README.parent / target.partition("#")[0]).resolve() for target in LINK.findall(text)}
    assert [page_id(p) for p in PAGES[1:] if p.resolve() not in linked] == []
    assert "make start" in text and "make test" in text and "make test-fast" in text


# The checks above must catch what they look for: each broken page below is refused.
def test_a_broken_link_or_anchor_is_caught(tmp_path):
    page = tmp_path / "page.md"
    (tmp_path / "other.md").write_text("# Other\n\n## The trainer's day\n")
    assert broken_links(page, "[ok](other.md#the-trainers-day) [self](#top)\n\n# Top\n") == []
    assert broken_links(page, "[gone](missing.md)") == ["missing.md: no such file"]
    assert broken_links(page, "[bad](other.md#nowhere)") == ["other.md#nowhere: no heading #nowhere"]
    assert broken_links(page, "```\n# not a heading\n```\n[x](#not-a-heading)") == [
        "#not-a-heading: no heading #not-a-heading"]


def test_a_wrong_command_is_caught(parser):
    targets = make_targets()
    good = ("`python -m course autograde --shard 0/4 --workers 2`, `python -m course trainee add ana "
            "--name \"A\"`, `python -m course <command>`, `python -m course.certification`\n"
            "```bash\nmake install system   # make install done\npython -m course report --html x.html\n```\n")
    assert command_problems(good, parser, targets) == []
    assert command_problems("`python -m course grade`", parser, targets)[0].startswith(
        "python -m course grade: no such command")
    assert command_problems("`python -m course autograde --shards 0/4`", parser, targets) == [
        "python -m course autograde --shards: no such option"]
    assert command_problems("`python -m course trainee remove ana`", parser, targets) == [
        "python -m course trainee remove: no such action"]
    assert command_problems("`python -m\n  course.trainer.audit`", parser, targets) == [
        "python -m course.trainer.audit: no such runnable module"]
    assert command_problems("```\nmake tests   # the suite\n```", parser, targets)[0].startswith(
        "make tests: no such target")


def test_a_missing_path_is_caught():
    assert missing_paths("`course/trainer/grading/sandbox.py`, `source/<module>/`") == []
    assert missing_paths("the sandbox (`course/grading/sandbox.py`)") == ["course/grading/sandbox.py"]
