"""The OWASP API Security Top 10 (2023), one module per risk, each naming the risk it tests."""
