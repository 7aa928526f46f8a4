"""Stage ②: what a count or a measurement is. Frozen values only (profiles, timings, device
peaks, training costs, comparison and check results, the one metric table); no I/O, no torch."""
