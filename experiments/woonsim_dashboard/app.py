"""The solara app (`solara run woonsim_dashboard.app`, as `woonsim dashboard` starts it):
two pages, the live model and the results of an experiment."""

from __future__ import annotations

import solara

from woonsim_dashboard.live_view import LivePage
from woonsim_dashboard.results_view import ResultsPage

__all__ = ["routes"]

routes = [
    solara.Route(path="/", component=LivePage, label="Live model"),
    solara.Route(path="results", component=ResultsPage, label="Results"),
]
