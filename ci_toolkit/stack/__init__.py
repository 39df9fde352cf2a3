"""The Docker side: compose through its CLI (`compose`), the engine through the docker SDK
(`engine`), readiness (`health`, with one protocol probe per service kind in `probes` and
`pgwire`), and stale-stack removal by owner labels (`prune`)."""
