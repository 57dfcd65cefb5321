"""Looking at a finished run: the HTML report, shard inspection and the funnel table."""
