"""Accounts: who an account is, and how a person proves to be its owner."""
