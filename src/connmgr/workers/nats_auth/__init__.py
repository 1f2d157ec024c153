"""The NATS auth-callout service: tenant tokens in, short-lived user JWTs out."""
