"""Template filters of the results pages: numbers as a researcher reads them."""

from django import template

register = template.Library()


@register.filter
def pvalue(value) -> str:
    """A p-value to three decimals, and "< 0.001" below that (never a bare "0.000")."""
    if value is None:
        return "n/a"
    value = float(value)
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


@register.filter
def sentence_end(text) -> str:
    """Text that ends its sentence with one full stop, whether or not it came with one."""
    text = str(text or "").rstrip()
    return text if text.endswith((".", "!", "?")) else f"{text}."
