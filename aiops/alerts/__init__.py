"""The Alertmanager intake: alerts become anomalies that request root-cause analyses."""
