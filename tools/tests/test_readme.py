import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gen_readme


def test_committed_readme_and_index_match_the_fragments(capsys):
    assert gen_readme.check() == 0, capsys.readouterr().out


def test_hand_edited_readme_fails_the_check(tmp_path, capsys, monkeypatch):
    readme = gen_readme.ROOT / "tmp_readme_check.rst"
    monkeypatch.setattr(gen_readme, "README", readme)
    try:
        readme.write_text(gen_readme.render_rst().replace("tools/run", "tools/start"))
        assert gen_readme.check(readme=readme) == 1
        out = capsys.readouterr().out
        assert "tmp_readme_check.rst disagrees" in out
        assert "tools/gen_readme.py" in out
    finally:
        readme.unlink()


def test_readme_starts_with_the_two_setup_commands():
    rst = gen_readme.render_rst()
    head = rst[: rst.index("Configuration\n=")]
    assert re.search(r"::\n\n +tools/run\n", head)
    assert re.search(r"::\n\n +tools/test\n", head)


def test_markdown_conversion():
    rst = gen_readme.md_to_rst(
        "# Top\n\nSee `x` and [site](https://e.org).\n\n## Sub\n\n"
        "- a\n  b\n\n```shell\nrun it\n```\n\n| h | i |\n| --- | --- |\n| `c` | d |\n"
    )
    assert rst == (
        "Top\n---\n\nSee ``x`` and `site <https://e.org>`__.\n\nSub\n~~~\n\n"
        "- a\n  b\n\n::\n\n    run it\n\n"
        "+-------+---+\n| h     | i |\n+=======+===+\n| ``c`` | d |\n+-------+---+\n"
    )
