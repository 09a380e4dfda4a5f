"""Data files: every defect is reported with the file, the line and the field."""

import pytest

from bot.datafiles.yamlfile import ConfigError, load_mapping


def write(tmp_path, text, name="f.yml", mode="w"):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_lines_are_remembered(tmp_path):
    source = load_mapping(write(tmp_path, "a: 1\nb:\n  c: 2\n"))
    assert source.data.line_of("a") == 1
    assert source.data["b"].line_of("c") == 3


@pytest.mark.parametrize(
    "content, line, words",
    [
        ("a: [1, 2\nb: 3\n", 2, "not valid YAML"),
        ("a: 1\na: 2\n", 2, "written twice"),
        ("- just\n- a list\n", 1, "mapping"),
        (b"a: \xff\xfe\n", None, "not UTF-8"),
    ],
)
def test_broken_files_name_the_line(tmp_path, content, line, words):
    with pytest.raises(ConfigError) as caught:
        load_mapping(write(tmp_path, content))
    assert caught.value.line == line
    assert words in str(caught.value)
    assert "f.yml" in str(caught.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot be read"):
        load_mapping(tmp_path / "nope.yml")


def test_error_points_at_a_field(tmp_path):
    source = load_mapping(write(tmp_path, "x: 1\nphone: abc\n"))
    error = source.error(source.data, "phone", "countries.KE.phone", "must be a number")
    assert str(error).endswith("f.yml:2: countries.KE.phone: must be a number")
