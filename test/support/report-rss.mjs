// Preloaded into a child process by tests: prints its peak RSS on exit, so a test can bound memory.
process.on('exit', () => {
  process.stderr.write(`\nmax-rss-kb ${process.resourceUsage().maxRSS}\n`);
});
