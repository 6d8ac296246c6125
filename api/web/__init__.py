"""Web pages for clinicians, fleet managers and patients, served by the api itself.

Server-rendered HTML (Jinja2, autoescaped) over the same route functions the JSON api
uses, so a page checks access and writes audit records exactly as the api read does.
Charts are SVG drawn in Python; the only script is a few lines for the live worklist.

    api.web.text      English and Danish texts, the Language a cookie remembers
    api.web.cookie    the session cookie (the access token), CSRF tokens, sign-in redirects
    api.web.chart     readings and threshold bands -> an SVG chart (pure)
    api.web.render    the template environment and the page response
    api.web.signin    sign in, sign out, language choice
    api.web.worklist  the triage worklist, its live updates, acknowledging and resolving
    api.web.patient   a patient's page: alerts, charts, thresholds and schedule editors
    api.web.trail     a patient's own page and the auditors' trail: who looked
    api.web.fleet     devices, gateways, technical alerts and their actions
    api.web.router    the one router ``api.app`` includes
"""
