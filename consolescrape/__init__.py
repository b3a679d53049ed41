"""Read Claude plan usage limits from the usage page and send them to your own server."""

__version__ = "0.1.0"
