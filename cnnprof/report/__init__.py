"""Stage ⑤: results as data for other programs — JSON (versioned), CSV and Markdown. Text and plain
dicts out; nothing here prints."""
