#!/usr/bin/env node
import { main } from './cli.js';

// Started by the source launcher (bin/unlearn.js) with an IPC channel: stop when the launcher is
// gone, and let the channel alone not keep this process alive.
if (process.env.UNLEARN_LAUNCHER_IPC === '1' && process.channel) {
  process.on('disconnect', () => process.exit(129));
  process.channel.unref();
}

process.exitCode = await main(process.argv.slice(2));
