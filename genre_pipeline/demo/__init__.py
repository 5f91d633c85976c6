"""The synthetic demo catalog (test and demo data, not a real source)."""
