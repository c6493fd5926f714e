"""What the config tests share: the smallest valid configuration."""

MINIMAL = """\
models:
  - name: churn
    sources:
      lakehouse: {table: main.ml.churn_inference}
route:
  receiver: log
receivers:
  - name: log
    file_configs: [{path: /tmp/alerts.jsonl}]
"""
