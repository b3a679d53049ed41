"""Test doubles the installed package does not ship, built on the demo's loopback servers
through their public extension points: `site` (the stand-in site in every scenario the tests
set up), `receiver` (the receiver to the letter of the deployed server, misbehaving on cue),
`oauth` (Claude Code's OAuth usage endpoint)."""
