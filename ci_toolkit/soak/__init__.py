"""`ci-toolkit soak`: the run repeated (`runner`, which reuses pipeline.sequence), one record per
iteration (`metrics`), and the summary of them all (`report`)."""
