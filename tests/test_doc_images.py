"""The pictures the docs ship (docs/images) are the ones tools/doc_images.py draws, by name:
a picture added to the docs without the commands that make it, or one the tool draws that the
docs dropped, fails here (the pixels are the tool's to make again, not the tests')."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_the_shipped_pictures_are_those_the_tool_draws(doc_images):
    shipped = sorted(path.name for path in (ROOT / "docs" / "images").iterdir())
    assert shipped == sorted(doc_images.IMAGES)


def test_every_picture_the_docs_show_is_drawn_by_the_tool(doc_images):
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    shown = {name for page in pages
             for name in re.findall(r"\]\((?:docs/)?images/([^)]+)\)",
                                    page.read_text(encoding="utf-8"))}
    assert shown == set(doc_images.IMAGES)


def test_each_command_is_cnnspecs_or_a_tools_script(doc_images):
    for commands in doc_images.IMAGES.values():
        for words in commands:
            assert words[0] == "cnnspec" or (ROOT / "tools" / words[0]).is_file(), words
            assert "{out}" in commands[-1]


def test_the_tool_names_its_pictures_and_refuses_others(doc_images, capsys):
    assert doc_images.main(["--list"]) == 0
    assert capsys.readouterr().out.split() == list(doc_images.IMAGES)
    with pytest.raises(SystemExit) as refused:
        doc_images.main(["nothing.png"])
    assert refused.value.code == 2
    assert "no such picture: nothing.png" in capsys.readouterr().err
