"""The interactive dashboard of woonsim, on Mesa's SolaraViz: a live model view to move
the levers of a region and watch it run, and a results view of an experiment's folder.

Launch it with `woonsim dashboard` (or `make dashboard`); it serves on 127.0.0.1 with every
asset local. Modules: `settings` (what the launch chose), `levers` (the levers and their
scenario paths), `live_model` (the Mesa model the live view steps), `snapshot` (the
measures of the years run so far), `results_data` (a results folder, analysed once),
`figures` and `widgets` (what is drawn), `live_view` and `results_view` (the two pages) and
`app` (the solara app)."""
