"""Tenancy: tenants, API keys, rate limits and budgets, and the admin routes that manage them."""
