"""Data sources: simulators that stand in for real feeds, and the landing file drop."""
