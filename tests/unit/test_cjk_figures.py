"""Figures with Chinese labels: drawn with an installed CJK font, or one clear warning saying how to get one."""

import logging
import warnings

import pytest

from finegrain.rendering import figures


@pytest.fixture
def no_cjk_font(monkeypatch):
    monkeypatch.setattr(figures, "CJK_FONTS", ("No Such Font SC",))
    figures.installed_cjk_fonts.cache_clear()
    figures._warn_no_cjk_font.cache_clear()
    yield
    figures.installed_cjk_fonts.cache_clear()
    figures._warn_no_cjk_font.cache_clear()


def test_without_a_cjk_font_one_warning_says_how_to_install_one(no_cjk_font, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="finegrain.rendering.figures"), warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib's own per-glyph warnings must not reach the user
        for name in ("a.png", "b.png"):
            figures.plot_confusion_matrix([[3, 1], [0, 4]], ["好评", "差评"], tmp_path / name, title="情感")
    assert [r.getMessage() for r in caplog.records] == [figures.NO_CJK_FONT]
    assert "apt install fonts-noto-cjk" in figures.NO_CJK_FONT
    assert (tmp_path / "b.png").stat().st_size > 0


def test_an_installed_cjk_font_draws_the_labels(tmp_path, caplog):
    figures.installed_cjk_fonts.cache_clear()
    if not figures.installed_cjk_fonts():
        pytest.skip("no CJK font installed here (apt install fonts-wqy-microhei)")
    with caplog.at_level(logging.WARNING), warnings.catch_warnings():
        warnings.simplefilter("error")
        figures.plot_confusion_matrix([[3, 1], [0, 4]], ["好评", "差评"], tmp_path / "cm.png", title="情感")
    assert not caplog.records


def test_english_labels_draw_without_warnings(no_cjk_font, tmp_path, caplog):
    with caplog.at_level(logging.WARNING), warnings.catch_warnings():
        warnings.simplefilter("error")
        figures.plot_confusion_matrix([[3, 1], [0, 4]], ["neg", "pos"], tmp_path / "cm.png", title="t")
    assert not caplog.records


def test_a_figure_saved_twice_gains_each_fallback_font_once(monkeypatch, tmp_path):
    monkeypatch.setattr(figures, "installed_cjk_fonts", lambda: ["Fallback One"])
    figure = figures.new_figure((3, 2))
    figure.add_subplot().set_title("t")
    for name in ("a.png", "b.png"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Fallback One" is not a font matplotlib knows
            figures.save_figure(figure, tmp_path / name)
    from matplotlib.text import Text

    assert all(text.get_fontfamily().count("Fallback One") == 1 for text in figure.findobj(Text))
