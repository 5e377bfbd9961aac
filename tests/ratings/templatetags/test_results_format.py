"""The results pages' number filters: p-values and sentence ends as a researcher reads them."""

from ratings.templatetags.results_format import pvalue, sentence_end


def test_a_p_value_below_a_thousandth_reads_less_than_not_zero():
    assert pvalue(0.0000004) == "< 0.001"
    assert pvalue(0.0009999) == "< 0.001"
    assert pvalue(0.001) == "0.001"
    assert pvalue(0.04567) == "0.046"
    assert pvalue(1.0) == "1.000"
    assert pvalue(None) == "n/a"


def test_a_sentence_ends_with_one_full_stop():
    assert sentence_end("Decided after 219 comparisons.") == "Decided after 219 comparisons."
    assert sentence_end("Decided after 219 comparisons") == "Decided after 219 comparisons."
    assert sentence_end("Decided after 219 comparisons.  ") == "Decided after 219 comparisons."
