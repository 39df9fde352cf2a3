"""What a run produced, as frozen data (`model`: RunResult, PhaseResult, ServiceResult,
TestCounts, FailedTest) and the readers of pytest's files (`junit`: JUnit XML, coverage XML)."""
