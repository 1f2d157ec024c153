"""The prober pool: scheduled health checks, status, alerts."""
