"""The browser phase: launch Chrome with the profile, open the usage page, read it, quit.

The only code that imports Selenium. This package imports nothing itself: `chrome`, `shell`,
`processes` and `cache` load no Selenium (`doctor` and `schedule` use them), the modules that
drive Chrome import it at their top. One job per module:

- `scrape`: one reading of the limits — the endpoint first, else the usage page;
- `chrome`: finding Chrome and chromedriver; flags, user agent, the child environment;
- `processes`: Chrome processes left on the profile, a stale SingletonLock;
- `session`: one Chrome session with its deadline, signals and guaranteed tear-down;
- `usage_page`: what the page is and what its text shows (open this when the markup changes);
- `endpoint`: the site's JSON endpoint, asked from inside the page;
- `shell`: the headless shell, run instead of Chrome when it is installed;
- `lean`: the endpoint asked before any page of the app, and what the page is read without;
- `login`: the two ways to log the profile in.
"""
