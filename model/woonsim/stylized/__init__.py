"""The stylized market of the validation reference (scenario kind `stylized`)."""
