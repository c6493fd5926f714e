"""The demo: seeded churn data and its timeline."""
