"""What `consolescrape demo` needs, and nothing more: a stand-in for claude.ai (`site`), a
receiver that enforces the user's server's rules (`receiver`), the sample pages (`sample/`),
both servers on 127.0.0.1 through one small base (`loopback`), and the command (`command`).

Test-only behaviour (a receiver that hangs, drops or answers what it is told) lives in
tests/fakes.py, not in the installed package.
"""
