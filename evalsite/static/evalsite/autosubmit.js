// Submit a form marked data-autosubmit as soon as the page loads: the finish page's post of an
// MTurk assignment to MTurk's externalSubmit (its button does the same without JavaScript).
document.querySelectorAll("form[data-autosubmit]").forEach(function (form) { form.submit(); });
