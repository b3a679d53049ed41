"""One module per command, each `name(settings, reporter, …) -> Outcome`.

`cli` parses the options and imports the one module a command needs, when it runs: the
command's own imports (Selenium, requests, rich, sqlite3) load only for it.
"""
