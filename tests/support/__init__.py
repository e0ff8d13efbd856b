"""What tests and benchmarks share: databases made fresh, and drivers that play the staff."""
