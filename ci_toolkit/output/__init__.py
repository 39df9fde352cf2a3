"""What ci-toolkit shows: the console (`console`: plain and live reporters), GitHub Actions
(`github`: workflow commands, annotations, step outputs, the one job-summary writer;
`github_summary`: the summary's Markdown and reproduce command), Markdown helpers (`markdown`),
and the merged matrix report (`cell_report`)."""
