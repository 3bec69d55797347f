"""The pictures the docs ship (docs/images) are the ones tools/doc_images.py draws, by name:
a picture added to the docs without the commands that make it, or one the tool draws that the
docs dropped, fails here (the pixels are the tool's to make again, not the tests')."""
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tool():
    """tools/doc_images.py as a module (a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("cnnspec_doc_images_tool",
                                                  ROOT / "tools" / "doc_images.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_shipped_pictures_are_those_the_tool_draws(tool):
    shipped = sorted(path.name for path in (ROOT / "docs" / "images").iterdir())
    assert shipped == sorted(tool.IMAGES)


def test_every_picture_the_docs_show_is_drawn_by_the_tool(tool):
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    shown = {name for page in pages
             for name in re.findall(r"\]\((?:docs/)?images/([^)]+)\)",
                                    page.read_text(encoding="utf-8"))}
    assert shown == set(tool.IMAGES)


def test_each_command_is_cnnspecs_or_a_tools_script(tool):
    for commands in tool.IMAGES.values():
        for words in commands:
            assert words[0] == "cnnspec" or (ROOT / "tools" / words[0]).is_file(), words
            assert "{out}" in commands[-1]


def test_the_tool_names_its_pictures_and_refuses_others(tool, capsys):
    assert tool.main(["--list"]) == 0
    assert capsys.readouterr().out.split() == list(tool.IMAGES)
    with pytest.raises(SystemExit) as refused:
        tool.main(["nothing.png"])
    assert refused.value.code == 2
    assert "no such picture: nothing.png" in capsys.readouterr().err
