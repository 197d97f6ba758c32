"""Contracts of the buyer-guarantee claims platform."""
