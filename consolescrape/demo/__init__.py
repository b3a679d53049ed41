"""What `consolescrape demo` needs, and nothing more: a stand-in for claude.ai (`site`), a
receiver that enforces the user's server's rules (`receiver`), the sample pages (`sample/`),
both servers on 127.0.0.1 through one small base (`loopback`); the command itself is
`commands.demo`.

Test-only behaviour (a site that hangs or shows a bot check, a receiver that drops or answers
what it is told) lives in tests/support/, built on these classes, not in the installed package.
"""
