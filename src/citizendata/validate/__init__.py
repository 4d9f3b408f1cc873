"""Validation of submissions: the XLSForm expression language and the checks built on it."""
