#!/usr/bin/env -S node --v8-pool-size=1 --initial-old-space-size=128
// The `sluice` command. The sources are TypeScript run through tsx, so `npm ci` is the only build.
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
