"""What a person sees: views draw what a command found, and say it as `--json`; they
decide nothing."""
