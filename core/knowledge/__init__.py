"""Knowledge kept beside the search index: staff-approved question/answer pairs (`approved`)."""
