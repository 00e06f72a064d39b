/* global setInterval */
// Preloaded (NODE_OPTIONS=--import) into every Rappel child of the fault suite: if the test
// process dies without its clean-up (vitest killed, OOM), the child is re-parented and kills
// itself at once instead of lingering with its ports and connections.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.kill(process.pid, 'SIGKILL');
}, 500).unref();
