"""ratings/stats/formats.py: Markdown cells keep code spans as Markdown shows them."""

from ratings.stats.formats import markdown_escape


def test_markdown_escapes_text_but_leaves_code_spans_as_they_are():
    note = "Run `manage.py compute_metrics --study 3 --metric clip_score` for the_metric *now*"
    assert markdown_escape(note) == (
        "Run `manage.py compute_metrics --study 3 --metric clip_score` for the\\_metric \\*now\\*"
    )


def test_markdown_still_neutralises_a_lone_backtick_html_and_table_pipes():
    assert markdown_escape("a ` lone <b>tick</b> | cell") == "a \\` lone &lt;b&gt;tick&lt;/b&gt; \\| cell"
    assert markdown_escape("`a|b`") == "`a\\|b`"  # a pipe would end the table cell, even in code


def test_a_code_span_carries_no_raw_html_either():
    assert "<script>" not in markdown_escape("model `<script>x</script>`")
