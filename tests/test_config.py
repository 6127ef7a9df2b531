import pytest

from martops.config import ProjectConfig, load_config
from martops.errors import ConfigError


def test_defaults_without_a_project_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_config()
    assert cfg == ProjectConfig()
    assert cfg.attribution.direct_channel == "Direct Traffic" and cfg.attribution.half_life_days == 7


def test_values_override(tmp_path):
    p = tmp_path / "martops.yml"
    p.write_text("attribution:\n  half_life_days: 3\n  ihc_weights: {initializer: 2, holder: 1, closer: 1}\n")
    cfg = load_config(p)
    assert cfg.attribution.half_life_days == 3
    assert cfg.attribution.ihc_weights.normalised() == (0.5, 0.25, 0.25)


@pytest.mark.parametrize("text,fragment", [
    ("attribution:\n  half_life_days: -1\n", "attribution.half_life_days"),
    ("attribution:\n  position_weights: [0.5, 0.5, 0.5]\n", "sum to 1"),
    ("attribution:\n  colour: blue\n", "attribution.colour"),
    ("warehouse:\n  engine: oracle\n", "warehouse.engine"),
    ("- a list\n", "top level must be a mapping"),
    ("a: [unclosed\n", "not valid YAML"),
])
def test_errors_name_the_key(tmp_path, text, fragment):
    p = tmp_path / "martops.yml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=None) as err:
        load_config(p)
    assert fragment in str(err.value)
