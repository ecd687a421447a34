"""The calibration data of woonsim, shipped inside the installed package as
`woonsim.calibration_data` and read with `importlib.resources` (see `woonsim.data`).

Sources and derivations: PROVENANCE.md (derived files, built by build.py from raw/),
TARGETS.md (calibration targets) and FITS.md (the committed fits).
"""
