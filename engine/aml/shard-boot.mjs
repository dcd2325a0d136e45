// Plain-JS entry of an AML shard thread: it registers the TypeScript loader in this thread, then
// imports the shard (a thread does not run its own entry file through `--import` hooks).
import { register } from 'tsx/esm/api';

register();
await import(new URL('./shard-worker.ts', import.meta.url).href);
