"""Traffic simulator: demand, search with and without guidance, publishing as sensors do."""
