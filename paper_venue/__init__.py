"""A local Bybit V5-compatible exchange: what `venue: simulator` trades on.

Run it with `python -m paper_venue`; embed it with
`paper_venue.router.app.PaperVenue`. See docs/paper-venue.md.
"""
