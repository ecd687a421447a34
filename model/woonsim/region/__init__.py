"""The Dutch regional model (scenario kind `region`): municipalities, stock, seekers of
every group, the allocation channels, budgets and the taakstelling."""
