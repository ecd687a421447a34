"""The experiment layer of woonsim: experiment files, paired sweeps over any executor,
analysis and report, calibration, the national run, validation and benchmark, and the
EMA Workbench adapter. It imports the model (`woonsim`); the model never imports it."""
