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
